import Foundation
import SigctlCore
import Testing

/// Where things are when the tests run.
enum Paths {
    static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// The built `sigctl`, next to the test bundle (or $SIGCTL_BINARY).
    static let sigctl: String = {
        if let env = ProcessInfo.processInfo.environment["SIGCTL_BINARY"] { return env }
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var dir = runner.deletingLastPathComponent()
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent("sigctl").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir.deleteLastPathComponent()
        }
        return packageRoot + "/.build/debug/sigctl"
    }()

    static let fixtures = packageRoot + "/../shared/fixtures"
    static var haveFixtures: Bool { FileManager.default.fileExists(atPath: fixtures + "/README.md") }
    static let clamd = ["/usr/sbin/clamd", "/usr/bin/clamd"].first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// The result of running a program.
struct RunResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs a program to completion, feeding no stdin.
@discardableResult
func runProgram(_ path: String, _ arguments: [String], environment: [String: String]? = nil) throws -> RunResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let dir = NSTemporaryDirectory() + "/sigctl-run-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    _ = FileManager.default.createFile(atPath: dir + "/out", contents: nil)
    _ = FileManager.default.createFile(atPath: dir + "/err", contents: nil)
    let out = FileHandle(forWritingAtPath: dir + "/out")!
    let err = FileHandle(forWritingAtPath: dir + "/err")!
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    try out.close()
    try err.close()
    return RunResult(status: process.terminationStatus,
                     stdout: String(decoding: FileManager.default.contents(atPath: dir + "/out") ?? Data(), as: UTF8.self),
                     stderr: String(decoding: FileManager.default.contents(atPath: dir + "/err") ?? Data(), as: UTF8.self))
}

/// A hex string of some text, for .ndb body signatures.
func hex(_ text: String) -> String { text.utf8.map { String(format: "%02x", $0) }.joined() }

/// Signatures made up for one test, each with a sample that only it matches.
struct GeneratedSignatures {
    var lines: [String] = []
    var samples: [String: Data] = [:]

    /// `count` body signatures named Prefix-1…N, matching unique random markers.
    static func ndb(_ prefix: String, count: Int) -> GeneratedSignatures {
        var result = GeneratedSignatures()
        for index in 1...count {
            let name = "\(prefix)-\(index)"
            let marker = "sigctl-test-marker \(name) \(UUID().uuidString)"
            result.lines.append("\(name):0:*:\(hex(marker))")
            result.samples[name] = Data("Subject: test\n\nsome text before \(marker) and after\n".utf8)
        }
        return result
    }

    var text: String { lines.joined(separator: "\n") + "\n" }
}

/// The loopback mirror (Tests/Support/mirror.py) in a process of its own.
final class Mirror {
    let root: String
    let faultsPath: String
    let logPath: String
    let process: Process
    let port: Int

    init(root: String, workDir: String) throws {
        self.root = root
        faultsPath = workDir + "/faults.json"
        logPath = workDir + "/mirror.log"
        // mirror.py announces "mirror: serving ROOT on http://127.0.0.1:PORT/" once it listens.
        (process, port) = try startAnnounced("mirror.py", ["--root", root, "--faults", faultsPath, "--log", logPath])
    }

    deinit { stop() }

    func stop() { stopProcess(process) }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)/\(path)" }

    /// Replaces the fault table: URL path → fault spec (see mirror.py).
    func setFaults(_ faults: [String: [String: Any]]) throws {
        let data = try JSONSerialization.data(withJSONObject: faults)
        try data.write(to: URL(fileURLWithPath: faultsPath + ".tmp"))
        rename(faultsPath + ".tmp", faultsPath)
    }

    func clearFaults() throws { try setFaults([:]) }

    /// Every request logged so far.
    func requests() -> [[String: Any]] {
        guard let text = try? String(contentsOfFile: logPath, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    func requests(path: String) -> [[String: Any]] {
        requests().filter { ($0["path"] as? String) == path }
    }

    /// Writes a file below the mirror root.
    func put(_ path: String, _ content: Data) throws {
        let full = root + "/" + path
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try content.write(to: URL(fileURLWithPath: full))
    }

    func put(_ path: String, _ text: String) throws { try put(path, Data(text.utf8)) }
}

/// A real clamd from Debian's clamav-daemon on a unix socket in the sandbox.
final class Clamd {
    let configPath: String
    let socket: String
    var process: Process?

    init(configPath: String, socket: String) {
        self.configPath = configPath
        self.socket = socket
    }

    deinit { stop() }

    func start() throws {
        guard let binary = Paths.clamd else { throw HarnessError("clamd is not installed (apt-get install clamav-daemon)") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--config-file=\(configPath)"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        let client = ClamdClient(address: .unix(socket), timeout: 5)
        for _ in 0..<600 {
            if (try? client.ping()) == true { return }
            if !process.isRunning { throw HarnessError("clamd exited at start with status \(process.terminationStatus)") }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw HarnessError("clamd did not answer PING within 30 s")
    }

    func stop() {
        guard let process else { return }
        stopProcess(process)
        self.process = nil
    }

    var client: ClamdClient { ClamdClient(address: .unix(socket), timeout: 10) }

    /// clamd's verdict on some bytes (INSTREAM): the signature name or nil.
    func scan(_ data: Data) throws -> String? { try client.scan(data) }
}

/// A throwaway GnuPG key, as a feed provider would have.
final class TestKey {
    let home: String
    let fingerprint: String

    init(directory: String) throws {
        home = directory
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let made = try runProgram("/usr/bin/gpg", ["--homedir", home, "--batch", "--passphrase", "", "--quick-gen-key",
                                                   "sigctl test feed <test@sigctl.invalid>", "ed25519", "sign", "never"])
        guard made.status == 0 else { throw HarnessError("gpg could not make a key: \(made.stderr)") }
        let listed = try runProgram("/usr/bin/gpg", ["--homedir", home, "--batch", "--with-colons", "--list-keys"])
        guard let line = listed.stdout.split(separator: "\n").first(where: { $0.hasPrefix("fpr:") }) else {
            throw HarnessError("no fingerprint in gpg's listing")
        }
        fingerprint = String(line.split(separator: ":", omittingEmptySubsequences: false)[9])
    }

    deinit { _ = try? runProgram("/usr/bin/gpgconf", ["--homedir", home, "--kill", "gpg-agent"]) }

    func exportPublic() throws -> Data {
        let result = Process()
        result.executableURL = URL(fileURLWithPath: "/usr/bin/gpg")
        result.arguments = ["--homedir", home, "--batch", "--export", fingerprint]
        let pipe = Pipe()
        result.standardOutput = pipe
        result.standardError = FileHandle.nullDevice
        try result.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        result.waitUntilExit()
        return data
    }

    /// Writes `file.sig`, a binary detached signature.
    func sign(_ file: String) throws {
        let result = try runProgram("/usr/bin/gpg", ["--homedir", home, "--batch", "--yes", "--detach-sign", "-o", file + ".sig", file])
        guard result.status == 0 else { throw HarnessError("gpg could not sign: \(result.stderr)") }
    }
}

/// SIGTERM, then SIGKILL if the process has not gone after 5 s.
func stopProcess(_ process: Process) {
    guard process.isRunning else { return }
    process.terminate()
    for _ in 0..<100 where process.isRunning { Thread.sleep(forTimeInterval: 0.05) }
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// One isolated sigctl installation: config, database and state directories,
/// a loopback mirror and (optionally) its own clamd.
final class Sandbox {
    let root: String
    let configDir: String
    let dbDir: String
    let stateDir: String
    let clamdConf: String
    let socket: String
    let mirror: Mirror
    let clamd: Clamd

    init(clamdExtra: String = "") throws {
        let template = NSTemporaryDirectory() + "/sigctl-e2e-" + String(repeating: "X", count: 6) // mkdtemp template
        var buffer = Array(template.utf8CString)
        guard let made = mkdtemp(&buffer) else { throw HarnessError("mkdtemp failed") }
        root = String(cString: made)
        configDir = root + "/etc"
        dbDir = root + "/db"
        stateDir = root + "/state"
        clamdConf = root + "/clamd.conf"
        socket = root + "/clamd.sock"
        for dir in [configDir + "/feeds.d", dbDir, root + "/mirror", root + "/tmp"] {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        // The admin's own database: clamd needs one to start, and sigctl must never touch it.
        try "Local.Admin.Own-1:0:*:\(hex("local admin marker for sigctl tests"))\n"
            .write(toFile: dbDir + "/local.ndb", atomically: true, encoding: .utf8)
        try """
        LocalSocket \(socket)
        DatabaseDirectory \(dbDir)
        TemporaryDirectory \(root)/tmp
        Foreground yes
        ConcurrentDatabaseReload yes
        SelfCheck 3600
        LogFile \(root)/clamd.log
        \(clamdExtra)
        """.write(toFile: clamdConf, atomically: true, encoding: .utf8)
        mirror = try Mirror(root: root + "/mirror", workDir: root)
        clamd = Clamd(configPath: clamdConf, socket: socket)
        try writeSettings()
    }

    deinit {
        clamd.stop()
        mirror.stop()
        try? FileManager.default.removeItem(atPath: root)
    }

    /// sigctl.toml with test defaults: no sleep, short timeouts.
    func writeSettings(_ extra: String = "", reloadTimeout: String = "30s") throws {
        try """
        database_dir = "\(dbDir)"
        state_dir = "\(stateDir)"
        clamd_conf = "\(clamdConf)"
        sleep = "0"
        connect_timeout = "5s"
        stall_timeout = "3s"
        reload_timeout = "\(reloadTimeout)"
        \(extra.contains("mail_logs") ? "" : "mail_logs = [\"\(root)/mail.log\"]")
        \(extra)
        """.write(toFile: configDir + "/sigctl.toml", atomically: true, encoding: .utf8)
    }

    func writeFeed(_ name: String, _ body: String) throws {
        try body.write(toFile: configDir + "/feeds.d/\(name).toml", atomically: true, encoding: .utf8)
    }

    /// A feed of `files` on this sandbox's mirror under /name/, checked each run.
    func writeFeed(_ name: String, files: [String], integrity: String = "sha256", mirrors: [String]? = nil,
                   key: TestKey? = nil, interval: String = "0s", extra: String = "") throws {
        let mirrorList = (mirrors ?? [mirror.url(name + "/")]).map { "\"\($0)\"" }.joined(separator: ", ")
        var body = """
        name = "\(name)"
        mirrors = [\(mirrorList)]
        interval = "\(interval)"
        integrity = "\(integrity)"
        \(extra)

        """
        if let key {
            body += "gpg_key_url = \"\(mirror.url(name + "/publickey.gpg"))\"\ngpg_fingerprint = \"\(key.fingerprint)\"\n"
        }
        for file in files { body += "\n[[files]]\nname = \"\(file)\"\nrisk = \"low\"\n" }
        try writeFeed(name, body)
    }

    /// An official feed "clamav" for ClamAV's signed `test` database, from this sandbox's
    /// mirror under /clamav/ as a private mirror (no DNS).
    func writeOfficialTestFeed(_ extra: String = "") throws {
        try writeFeed("clamav", """
            name = "clamav"
            kind = "official"
            databases = ["test"]
            mirrors = ["\(mirror.url("clamav"))"]
            private_mirror = true
            dns = "none"
            interval = "0s"
            \(extra)
            """)
    }

    /// Publishes a database file on the mirror with its sidecars.
    func publish(feed: String, file: String, _ content: String, key: TestKey? = nil) throws {
        let path = "\(feed)/\(file)"
        try mirror.put(path, content)
        let data = Data(content.utf8)
        try mirror.put(path + ".sha256", try ClamAV.hash("sha256", data) + "  \(file)\n")
        try mirror.put(path + ".md5", try ClamAV.hash("md5", data))
        if let key {
            try key.sign(mirror.root + "/" + path)
            if !FileManager.default.fileExists(atPath: mirror.root + "/\(feed)/publickey.gpg") {
                try mirror.put("\(feed)/publickey.gpg", try key.exportPublic())
            }
        }
    }

    @discardableResult
    func sigctl(_ arguments: [String]) throws -> RunResult {
        var environment = ProcessInfo.processInfo.environment
        environment["SIGCTL_CONFIG"] = configDir
        return try runProgram(Paths.sigctl, arguments, environment: environment)
    }

    /// `sigctl update --json`, decoded.
    func update(_ extra: [String] = []) throws -> (RunResult, UpdateReport?) {
        let result = try sigctl(["update", "--json"] + extra)
        let report = try? JSONDecoder.output.decode(UpdateReport.self, from: Data(result.stdout.utf8))
        return (result, report)
    }

    func state() throws -> State { try StateStore(directory: stateDir).load() }

    /// sha256 of every file in the database directory: a fingerprint of what clamd would load.
    func liveSnapshot() throws -> [String: String] {
        var snapshot: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: dbDir) where !name.hasPrefix(".") {
            snapshot[name] = try ClamAV.hashFile("sha256", path: dbDir + "/" + name)
        }
        return snapshot
    }
}

extension UpdateReport {
    func file(_ feed: String, _ name: String) -> FileReport? {
        feeds.first { $0.name == feed }?.files.first { $0.name == name }
    }
}

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
        var environment = ProcessInfo.processInfo.environment
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

/// A clamd impostor (Tests/Support/fake_clamd.py) on a socket in the sandbox: one that
/// answers RELOAD but never loads anything, or, with `silent`, one that never answers.
final class FakeClamd {
    let socket: String
    let process = Process()

    init(_ box: Sandbox, silent: Bool = false) throws {
        socket = box.root + (silent ? "/silent.sock" : "/fake.sock")
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [Paths.packageRoot + "/Tests/Support/fake_clamd.py", socket] + (silent ? ["--silent"] : [])
        let ready = Pipe()
        process.standardOutput = ready
        try process.run()
        // fake_clamd.py prints "ready" once it listens; EOF means it died first.
        let line = ready.fileHandleForReading.availableData
        guard String(decoding: line, as: UTF8.self).hasPrefix("ready"), FileManager.default.fileExists(atPath: socket) else {
            throw HarnessError("fake clamd did not start")
        }
    }

    deinit { stopProcess(process) }
}

extension Sandbox {
    /// Starts clamd and installs feed f with a.ndb (one generated signature `prefix`-1) as set 1.
    func installOneFile(_ prefix: String) throws -> GeneratedSignatures {
        try clamd.start()
        let sigs = GeneratedSignatures.ndb(prefix, count: 1)
        try publish(feed: "f", file: "a.ndb", sigs.text)
        try writeFeed("f", files: ["a.ndb"])
        let (result, _) = try update()
        guard result.status == 0 else { throw HarnessError("the first install failed: \(result.stderr)") }
        return sigs
    }

    /// A unix socket file that nobody listens on (connect gives ECONNREFUSED).
    func staleSocket() throws -> String {
        let path = root + "/stale.sock"
        let made = try runProgram("/usr/bin/python3", ["-c", "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])", path])
        guard made.status == 0 else { throw HarnessError("cannot make a stale socket: \(made.stderr)") }
        return path
    }
}
