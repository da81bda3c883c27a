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

/// SIGTERM, then SIGKILL if the process has not gone after 5 s.
func stopProcess(_ process: Process) {
    guard process.isRunning else { return }
    process.terminate()
    // The kernel reports the exit through a pidfd.
    if !ProcessExit.wait(process.processIdentifier, timeout: 5) { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
}

extension Sandbox {
    /// The test runner's environment without the machine's proxy settings: sigctl in a
    /// sandbox uses only the `proxy` its own config names.
    static var environment: [String: String] {
        ProcessInfo.processInfo.environment.filter { key, _ in
            !["http_proxy", "https_proxy", "all_proxy", "no_proxy", "rsync_proxy"].contains(key.lowercased())
        }
    }
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

    /// sigctl with this sandbox's config; `clockOffset` moves its clock that many seconds
    /// ahead (SIGCTL_TEST_CLOCK_OFFSET), past a back-off a mirror asked for.
    @discardableResult
    func sigctl(_ arguments: [String], clockOffset: Int? = nil) throws -> RunResult {
        var environment = Sandbox.environment
        environment["SIGCTL_CONFIG"] = configDir
        if let clockOffset { environment[SystemClock.offsetKey] = String(clockOffset) }
        return try runProgram(Paths.sigctl, arguments, environment: environment)
    }

    /// `sigctl update --json`, decoded.
    func update(_ extra: [String] = [], clockOffset: Int? = nil) throws -> (RunResult, UpdateReport?) {
        let result = try sigctl(["update", "--json"] + extra, clockOffset: clockOffset)
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
