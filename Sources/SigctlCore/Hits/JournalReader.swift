import Foundation

/// Reads the mail daemons' lines from journald through `journalctl -o json` (Debian 12
/// installs no syslog daemon by default, so the journal is the only mail log there).
/// Each entry becomes an RFC 5424 line, so the same parsers read it.
enum JournalReader {
    static let journalctl = "/usr/bin/journalctl"

    static var available: Bool { FileManager.default.isExecutableFile(atPath: journalctl) }

    /// The command line: JSON, only the fields used, the units' entries in the period.
    static func arguments(units: [String], directory: String?, since: Int64?, until: Int64?) -> [String] {
        var args = ["-o", "json", "--no-pager", "-q", "--output-fields=MESSAGE,SYSLOG_IDENTIFIER,_COMM,SYSLOG_PID,_PID,_HOSTNAME"]
        if let directory { args.append("--directory=" + directory) }
        if let since { args.append("--since=@\(since)") }
        if let until { args.append("--until=@\(until)") }
        for unit in units { args += ["-u", unit] }
        return args
    }

    /// Runs journalctl and calls `body` with each entry as a log line; returns the lines
    /// over 64 KiB that were skipped. A journalctl that fails is an error with its words.
    static func forEachLine(units: [String], directory: String?, since: Int64?, until: Int64?,
                            _ body: (UnsafeBufferPointer<UInt8>) -> Void) throws -> Int {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: journalctl)
        process.arguments = arguments(units: units, directory: directory, since: since, until: until)
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // stderr is read beside stdout, so a chatty journalctl never blocks on a full pipe.
        let errors = ErrorText()
        let drained = DispatchGroup()
        DispatchQueue.global().async(group: drained) {
            errors.text = String(decoding: err.fileHandleForReading.readDataToEndOfFile().prefix(4096), as: UTF8.self)
        }
        var line: [UInt8] = []
        let tooLong = try LogReader.forEachLine(fd: out.fileHandleForReading.fileDescriptor, name: "journalctl") { json in
            guard entry(json, into: &line) else { return }
            line.withUnsafeBufferPointer(body)
        }
        process.waitUntilExit()
        drained.wait()
        if process.terminationStatus != 0 {
            let words = errors.text.split(separator: "\n").first.map(String.init) ?? "exit status \(process.terminationStatus)"
            // journalctl refuses -u patterns that match no unit it has ever logged.
            if words.contains("Failed to add filter for units") {
                throw JournalError(words: "the journal has no entries of the mail units (\(units.joined(separator: ", ")))")
            }
            throw JournalError(words: words)
        }
        return tooLong
    }

    /// One JSON entry as `<0>1 STAMP HOST IDENT PID - - MESSAGE`.
    static func entry(_ json: UnsafeBufferPointer<UInt8>, into line: inout [UInt8]) -> Bool {
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: json)) as? [String: Any],
              let micro = (object["__REALTIME_TIMESTAMP"] as? String).flatMap(Int64.init) else { return false }
        let message: String
        if let text = object["MESSAGE"] as? String {
            message = text
        } else if let bytes = object["MESSAGE"] as? [Int] {
            // journald keeps a message that is not UTF-8 as an array of bytes.
            message = String(decoding: bytes.map { UInt8(truncatingIfNeeded: $0) }, as: UTF8.self)
        } else {
            return false
        }
        let ident = object["SYSLOG_IDENTIFIER"] as? String ?? object["_COMM"] as? String ?? "-"
        let pid = object["SYSLOG_PID"] as? String ?? object["_PID"] as? String ?? "-"
        let host = object["_HOSTNAME"] as? String ?? "-"
        line.removeAll(keepingCapacity: true)
        line += "<0>1 \(stamp(micro)) \(host) \(ident) \(pid) - - \(message)".utf8
        return true
    }

    /// An RFC 3339 UTC stamp with microseconds.
    static func stamp(_ micro: Int64) -> String {
        var t = time_t(micro / 1_000_000), parts = tm()
        gmtime_r(&t, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
                      Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(micro % 1_000_000))
    }

    /// Written by the thread reading stderr, read after it is done (the group's wait orders the two).
    private final class ErrorText: @unchecked Sendable {
        var text = ""
    }
}

struct JournalError: Error, CustomStringConvertible {
    var words: String
    var description: String { "journalctl: \(words)" }
}
