import Foundation
import SigctlCore
import Testing

/// A sigctl run in the background, with failpoints (see Sources/SigctlCore/Context/Failpoints.swift).
final class BackgroundRun {
    let process = Process()
    let failpointDir: String
    private let out: String
    private let err: String

    init(_ box: Sandbox, _ arguments: [String], failpoints: String, environment extra: [String: String] = [:]) throws {
        failpointDir = try Files.makeTemporaryDirectory(in: box.root, prefix: "failpoints-")
        chmod(failpointDir, 0o777) // a child that dropped to clamav marks its pause here too
        out = failpointDir + "/stdout"
        err = failpointDir + "/stderr"
        FileManager.default.createFile(atPath: out, contents: nil)
        FileManager.default.createFile(atPath: err, contents: nil)
        var environment = Sandbox.environment
        environment["SIGCTL_CONFIG"] = box.configDir
        environment["SIGCTL_FAILPOINTS"] = failpoints
        environment["SIGCTL_FAILPOINT_DIR"] = failpointDir
        for (key, value) in extra { environment[key] = value }
        process.executableURL = URL(fileURLWithPath: Paths.sigctl)
        process.arguments = arguments
        process.environment = environment
        process.standardOutput = FileHandle(forWritingAtPath: out)
        process.standardError = FileHandle(forWritingAtPath: err)
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    /// Waits until some process reaches the paused `point` (its marker file appears:
    /// an inotify event); returns that process's pid. Bounded: a run that never gets
    /// there, or ends first, fails the test instead of hanging it.
    func waitForPause(_ point: String) throws -> pid_t {
        let watch = inotify_init1(Int32(IN_CLOEXEC))
        guard watch >= 0 else { throw HarnessError("inotify_init1 failed") }
        defer { close(watch) }
        inotify_add_watch(watch, failpointDir, UInt32(IN_CREATE | IN_MOVED_TO))
        let deadline = Date().addingTimeInterval(60)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            if let marker = Files.list(failpointDir).first(where: { $0.hasPrefix(point + ".") && !$0.hasSuffix(".go") }),
               let pid = Int32(marker.dropFirst(point.count + 1)) {
                return pid
            }
            if !process.isRunning { throw HarnessError("sigctl ended before reaching \(point): \(stderr)") }
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { throw HarnessError("sigctl did not reach \(point) within 60 s") }
            // Wake on the next file created there; at least once a second to notice a run that ended.
            var descriptor = pollfd(fd: watch, events: Int16(POLLIN), revents: 0)
            if poll(&descriptor, 1, Int32(min(left, 1) * 1000)) > 0 { _ = Glibc.read(watch, &buffer, buffer.count) }
        }
    }

    func resume(_ point: String) { FileManager.default.createFile(atPath: failpointDir + "/\(point).go", contents: nil) }

    @discardableResult
    func wait() -> RunResult {
        process.waitUntilExit()
        return RunResult(status: process.terminationStatus, stdout: read(out), stderr: stderr)
    }

    var stderr: String { read(err) }
    private func read(_ path: String) -> String { String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self) }
}

/// Waits (at most 5 s) for a process that is not our child to go: a grandchild killed by
/// the parent-death signal. The kernel reports the exit through a pidfd.
func waitUntilGone(_ pid: pid_t) -> Bool {
    ProcessExit.wait(pid, timeout: 5)
}

extension Sandbox {
    /// `sigctl update` with failpoints, run to its end (or its death).
    func update(failpoints: String) throws -> RunResult {
        try BackgroundRun(self, ["update", "--json"], failpoints: failpoints).wait()
    }

    /// The live set loads with libclamav the way clamd loads it.
    func liveSetLoads(sourceLocation: SourceLocation = #_sourceLocation) throws {
        let verified = try sigctl(["verify", dbDir])
        #expect(verified.status == 0, "the live set must always load: \(verified.stdout) \(verified.stderr)", sourceLocation: sourceLocation)
    }

    /// Nothing of sigctl's staging is left in clamd's database directory.
    func noStagingDebris(sourceLocation: SourceLocation = #_sourceLocation) {
        let debris = Files.list(dbDir).filter { $0.hasPrefix(".sigctl") }
        #expect(debris.isEmpty, "staging debris in the database directory: \(debris)", sourceLocation: sourceLocation)
    }
}
