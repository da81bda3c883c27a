import Foundation

/// Which logs to read.
public enum LogInputs {
    /// The paths given, or else the configured logs (`mail_logs`, by default
    /// /var/log/mail.log) with their rotations (`.1`, `.2.gz`, `-20261122`), oldest first.
    public static func resolve(_ paths: [String], settings: Settings) throws -> [LogInput] {
        if !paths.isEmpty {
            guard paths.filter({ $0 == "-" }).count <= 1 else {
                throw CommandError("standard input (-) is given more than once", hint: "give - once", exit: .usage)
            }
            return try paths.map { path in
                if path == "-" { return .standardInput }
                guard FileManager.default.fileExists(atPath: path) else {
                    throw CommandError("\(path): no such log file", hint: "give the mail log, e.g. /var/log/mail.log* for it and its rotations (plain or .gz)", exit: .usage)
                }
                return .file(path)
            }
        }
        let journal = LogInput.journal(units: settings.journalUnits, directory: settings.journalDirectory)
        guard let configured = settings.mailLogs else {
            // Debian 12 without a syslog daemon keeps mail logs only in the journal.
            let found = rotations(of: "/var/log/mail.log")
            if !found.isEmpty { return found.map { .file($0) } }
            if JournalReader.available { return [journal] }
            throw CommandError("no mail log to read: /var/log/mail.log does not exist and journalctl is not installed",
                               hint: "give the log files, or list them in sigctl.toml as mail_logs = [\"/var/log/mail.log\"]", exit: .config)
        }
        let found = configured.flatMap { $0 == "journald" ? [] : rotations(of: $0) }.map { LogInput.file($0) }
            + (configured.contains("journald") ? [journal] : [])
        guard !found.isEmpty else {
            throw CommandError("no mail log to read: \(configured.joined(separator: ", ")) \(configured.count == 1 ? "does" : "do") not exist",
                               hint: "give the log files (sigctl hits /var/log/mail.log*), or list them in sigctl.toml as mail_logs = [\"/var/log/mail.log\"]",
                               exit: .config)
        }
        return found
    }

    /// `path` and its rotated copies as logrotate names them, oldest first.
    static func rotations(of path: String) -> [String] {
        let slash = path.lastIndex(of: "/") ?? path.startIndex
        let directory = String(path[..<slash])
        let base = String(path[path.index(after: slash)...])
        var numbered: [(Int, String)] = []
        var dated: [String] = []
        for name in Files.list(directory) where name.hasPrefix(base) && name != base {
            var suffix = name.dropFirst(base.count)
            if suffix.hasSuffix(".gz") { suffix = suffix.dropLast(3) }
            if suffix.hasPrefix("."), suffix.count <= 5, let n = Int(suffix.dropFirst()), n > 0 {
                numbered.append((n, name))
            } else if suffix.hasPrefix("-") || suffix.hasPrefix("."), suffix.count > 8,
                      suffix.dropFirst().allSatisfy({ $0.isNumber || $0 == "-" }) {
                // logrotate's dateext (-20261122) and postfix logrotate's .20261122-101500.
                dated.append(name)
            }
        }
        let older = numbered.sorted { $0.0 > $1.0 }.map(\.1) + dated.sorted()
        let current = FileManager.default.fileExists(atPath: path) ? [path] : []
        return older.map { directory + "/" + $0 } + current
    }
}
