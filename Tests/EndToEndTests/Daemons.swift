import Foundation
import SigctlCore
import Testing

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
        // clamd binds its socket, then listens, then loads the databases and answers. Each
        // try follows a change in the sandbox (the socket appearing, clamd writing its log);
        // a PING sent once it listens waits for the answer.
        let events = try DirectoryEvents((socket as NSString).deletingLastPathComponent)
        try process.run()
        self.process = process
        let client = ClamdClient(address: .unix(socket), timeout: 30)
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if FileManager.default.fileExists(atPath: socket), (try? client.ping()) == true { return }
            if !process.isRunning { throw HarnessError("clamd exited at start with status \(process.terminationStatus)") }
            // At least once a second, to notice a clamd that died without a trace.
            _ = events.next(within: 1)
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
