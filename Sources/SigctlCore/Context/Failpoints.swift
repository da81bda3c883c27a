import Foundation

/// Named points in the pipeline where a test can make sigctl stop, crash or fail.
///
/// Enabled only by the test-only environment variable `SIGCTL_FAILPOINTS`, a
/// comma-separated list of `point=action`:
/// - `kill`: the process sends itself SIGKILL (a power cut, an OOM kill);
/// - `fail`: the stage throws, as if the system call behind it had failed;
/// - `enospc`: the stage throws ENOSPC;
/// - `pause`: the process writes `<point>.<pid>` into `SIGCTL_FAILPOINT_DIR` and
///   waits until a file `<point>.go` appears there, so a test can act at exactly
///   that moment (kill a child, stop clamd) without guessing with sleeps.
/// A point may carry a count, `install.rename#2=kill`: act on the second time it is reached.
public struct Failpoints: Sendable {
    public enum Action: String, Sendable { case kill, fail, enospc, pause }

    let actions: [String: (action: Action, hit: Int)]
    let directory: String?
    private let counter = Counter()

    public static let environmentKey = "SIGCTL_FAILPOINTS"

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        var actions: [String: (Action, Int)] = [:]
        for item in (environment[Self.environmentKey] ?? "").split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, let action = Action(rawValue: parts[1]) else { continue }
            let nameAndHit = parts[0].split(separator: "#", maxSplits: 1)
            let hit = nameAndHit.count == 2 ? Int(nameAndHit[1]) ?? 1 : 1
            actions[String(nameAndHit[0])] = (action, hit)
        }
        self.actions = actions
        directory = environment["SIGCTL_FAILPOINT_DIR"]
    }

    /// None set: the production case.
    public static let none = Failpoints(environment: [:])

    public var isEmpty: Bool { actions.isEmpty }

    /// Reaches `point`: does what the test asked for, or nothing.
    public func reach(_ point: String) throws {
        guard let entry = actions[point] else { return }
        guard counter.increment(point) == entry.hit else { return }
        switch entry.action {
        case .kill:
            kill(getpid(), SIGKILL)
            while true { pause() }
        case .fail:
            throw CommandError("failpoint \(point): injected failure", hint: "unset SIGCTL_FAILPOINTS")
        case .enospc:
            throw SystemError(call: "write", path: "failpoint \(point)", code: ENOSPC)
        case .pause:
            guard let directory else { return }
            try Self.waitFor(directory + "/\(point).go", announcing: directory + "/\(point).\(getpid())")
        }
    }

    /// Writes `marker`, then blocks until `file` exists. inotify wakes it when a file is
    /// created or moved into the directory; the watch is set before the first look, so
    /// a file made in between is not missed.
    static func waitFor(_ file: String, announcing marker: String) throws {
        let directory = (file as NSString).deletingLastPathComponent
        let watch = inotify_init1(Int32(IN_CLOEXEC))
        guard watch >= 0 else { throw SystemError.errno("inotify_init1", path: directory) }
        defer { close(watch) }
        guard inotify_add_watch(watch, directory, UInt32(IN_CREATE | IN_MOVED_TO)) >= 0 else {
            throw SystemError.errno("inotify_add_watch", path: directory)
        }
        FileManager.default.createFile(atPath: marker, contents: Data("\(getpid())\n".utf8))
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !FileManager.default.fileExists(atPath: file) {
            guard read(watch, &buffer, buffer.count) > 0 || errno == EINTR else {
                throw SystemError.errno("read", path: directory)
            }
        }
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var counts: [String: Int] = [:]
        func increment(_ key: String) -> Int {
            lock.lock()
            defer { lock.unlock() }
            counts[key, default: 0] += 1
            return counts[key]!
        }
    }
}
