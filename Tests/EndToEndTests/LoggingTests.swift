import Foundation
import SigctlCore
import Testing

/// A syslog daemon of our own: a datagram socket the run sends to through
/// $SIGCTL_SYSLOG_SOCKET, read after the run.
final class SyslogReceiver {
    let path: String
    private let fd: Int32

    init(in directory: String) throws {
        path = directory + "/log.sock"
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard fd >= 0, bound == 0 else { throw HarnessError("cannot bind \(path)") }
    }

    deinit { close(fd) }

    /// The datagrams received so far, in order.
    func messages() -> [String] {
        var received: [String] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            guard n > 0 else { return received }
            received.append(String(decoding: buffer[0..<n], as: UTF8.self))
        }
    }
}

@Suite struct LoggingTests {
    /// Runs sigctl with stderr going to a file whose device and inode are in
    /// $JOURNAL_STREAM, as systemd sets it for a service.
    func runUnderJournal(_ box: Sandbox, _ arguments: [String]) throws -> RunResult {
        let err = box.root + "/journal-stderr", out = box.root + "/journal-stdout"
        FileManager.default.createFile(atPath: err, contents: nil)
        FileManager.default.createFile(atPath: out, contents: nil)
        var st = stat()
        stat(err, &st)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Paths.sigctl)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["SIGCTL_CONFIG"] = box.configDir
        environment["JOURNAL_STREAM"] = "\(st.st_dev):\(st.st_ino)"
        process.environment = environment
        process.standardError = FileHandle(forWritingAtPath: err)
        process.standardOutput = FileHandle(forWritingAtPath: out)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        let read = { (path: String) in String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self) }
        return RunResult(status: process.terminationStatus, stdout: read(out), stderr: read(err))
    }

    @Test func underSystemdEachLineCarriesItsPriority() throws {
        let box = try Sandbox()
        try box.writeSettings("clamd = \"none\"\nsleeep = \"0\"")
        try box.publish(feed: "f", file: "a.ndb", GeneratedSignatures.ndb("Test.Journal", count: 1).text)
        try box.writeFeed("f", files: ["a.ndb", "missing.ndb"])
        let result = try runUnderJournal(box, ["update"])
        #expect(result.status == 1)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("<4>sigctl: warning: ") && $0.contains("unknown key 'sleeep'") }, "\(result.stderr)")
        #expect(lines.contains { $0.hasPrefix("<3>sigctl: error: f/missing.ndb") }, "\(result.stderr)")
        #expect(lines.allSatisfy { $0.hasPrefix("<") }, "every line is marked: \(result.stderr)")
        // Without JOURNAL_STREAM (or with one that is not stderr) no marks.
        let plain = try box.sigctl(["update", "-v", "--force"])
        #expect(!plain.stderr.contains("<3>") && plain.stderr.contains("sigctl: error: f/missing.ndb"), "\(plain.stderr)")
    }

    @Test func syslogGetsErrorsAndChangesWithFacilityMail() throws {
        let box = try Sandbox()
        try box.clamd.start()
        let receiver = try SyslogReceiver(in: box.root)
        try box.publish(feed: "f", file: "a.ndb", GeneratedSignatures.ndb("Test.Syslog", count: 2).text)
        try box.writeFeed("f", files: ["a.ndb", "missing.ndb"])
        var environment = ProcessInfo.processInfo.environment
        environment["SIGCTL_CONFIG"] = box.configDir
        environment["SIGCTL_SYSLOG_SOCKET"] = receiver.path
        let result = try runProgram(Paths.sigctl, ["update", "--syslog"], environment: environment)
        #expect(result.status == 1, "\(result.stderr)")
        // report = "errors" (the default): cron mails only the error, mail.log gets both.
        #expect(result.stdout.isEmpty, "\(result.stdout)")
        #expect(result.stderr.contains("sigctl: error: f/missing.ndb"))
        let messages = receiver.messages()
        let tag = "sigctl[", mailError = "<19>", mailNotice = "<21>"
        #expect(messages.contains { $0.hasPrefix(mailError) && $0.contains(tag) && $0.contains("]: error: f/missing.ndb") }, "\(messages)")
        #expect(messages.contains { $0.hasPrefix(mailNotice) && $0.hasSuffix("]: f: updated a.ndb") }, "\(messages)")
        #expect(messages.contains { $0.hasPrefix(mailNotice) && $0.contains("]: set 1 installed: ") && $0.contains("clamd confirmed it") }, "\(messages)")

        // report = "changes": the change lines are printed too.
        try box.writeSettings("report = \"changes\"")
        try box.publish(feed: "f", file: "a.ndb", GeneratedSignatures.ndb("Test.Syslog", count: 3).text)
        let changes = try runProgram(Paths.sigctl, ["update", "--syslog"], environment: environment)
        #expect(changes.stdout.hasPrefix("f: updated a.ndb\nset 2 installed: "), "\(changes.stdout)")
        // Without --syslog nothing is sent.
        _ = receiver.messages()
        try box.publish(feed: "f", file: "a.ndb", GeneratedSignatures.ndb("Test.Syslog", count: 4).text)
        _ = try box.sigctl(["update"])
        #expect(receiver.messages().isEmpty)
    }

    @Test func unattendedRunsRepeatConfigWarningsOnlyWhenTheyChange() throws {
        let box = try Sandbox()
        try box.writeSettings("clamd = \"none\"\nsleeep = \"0\"")
        let first = try box.sigctl(["update"])
        #expect(first.stderr.contains("unknown key 'sleeep' ignored (did you mean 'sleep'?)"), "\(first.stderr)")
        let second = try box.sigctl(["update"])
        #expect(second.stderr.isEmpty, "the same warning is not mailed again today: \(second.stderr)")
        #expect(try box.sigctl(["update", "-v"]).stderr.contains("unknown key 'sleeep'"), "-v always shows it")
        #expect(try box.sigctl(["status"]).stderr.contains("unknown key 'sleeep'"), "other commands always show it")
        try box.writeSettings("clamd = \"none\"\nsleeep = \"0\"\nkeep_generation = 3")
        let changed = try box.sigctl(["update"])
        #expect(changed.stderr.contains("unknown key 'keep_generation'"), "a new warning is printed: \(changed.stderr)")
        try box.writeSettings("clamd = \"none\"")
        #expect(try box.sigctl(["update"]).stderr.isEmpty)
        try box.writeSettings("clamd = \"none\"\nsleeep = \"0\"")
        #expect(try box.sigctl(["update"]).stderr.contains("unknown key 'sleeep'"), "fixed, then back: printed again")
    }
}
