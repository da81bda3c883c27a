import Foundation

/// What `sigctl hits` was asked.
public struct HitOptions: Sendable {
    /// Log files given on the command line ("-" is standard input); empty: the configured logs.
    public var paths: [String] = []
    public var since: Int64?
    public var until: Int64?
    public var feed: String?
    public var grouping: HitGrouping = .feed

    public init() {}
}

/// The last line of `hits --json`.
public struct HitSummary: Codable, Sendable {
    public var detections: Int
    public var since: Date?
    public var until: Date?
    public var feed: String?
    public var by: HitGrouping
    public var lines: Int
    public var malformedLines: Int
    public var inputs: [InputStats]
    public var byFeed: [FeedHits]
    public var bySignature: [SignatureHits]
    public var bySender: [SenderHits]
    public var byClient: [ClientHits]
}

public struct HitResult: Sendable {
    public var hits: [HitRecord]
    public var report: HitReport
    public var summary: HitSummary
}

/// `sigctl hits`: logs → detections → feeds and files → groups.
public enum HitRun {
    public static func run(_ options: HitOptions, config: Configuration, now: Date) throws -> HitResult {
        let inputs = try LogInputs.resolve(options.paths, settings: config.settings)
        let scan = HitScanner.scan(inputs, since: options.since, until: options.until, now: Int64(now.timeIntervalSince1970))
        // Nothing at all could be read: that is an error, not an empty report.
        if scan.inputs.allSatisfy({ ($0.error != nil && $0.lines == 0) || $0.skipped }),
           let failed = scan.inputs.first(where: { $0.error != nil }), let error = failed.error {
            let denied = error.contains(String(cString: strerror(EACCES)))
            let journal = failed.name.hasPrefix("journald")
            throw CommandError("cannot read \(failed.name): \(error)",
                               hint: journal ? "the journal is readable by root and the groups adm and systemd-journal; check journal_directory when it is set"
                                   : denied ? "mail logs are readable by root and group adm: run sigctl hits as root or as a member of adm"
                                   : "check that it is a mail log", exit: .failed)
        }
        let origins = HitAttribution.origins(of: Set(scan.detections.compactMap(\.signature)), config: config)
        var hits = HitRecord.make(scan.detections, origins: origins, localNetworks: config.settings.localNetworks)
        var enabled = enabledFiles(config)
        if let feed = options.feed {
            guard config.feed(named: feed) != nil || hits.contains(where: { $0.feed == feed }) else {
                throw CommandError("there is no feed \(feed)", hint: "sigctl feeds lists them", exit: .usage)
            }
            hits = hits.filter { $0.feed == feed }
            enabled = enabled.filter { $0.key == feed }
        }
        let report = HitReport(hits, clean: scan.clean, settings: config.settings, enabledFiles: enabled)
        let summary = HitSummary(
            detections: hits.count, since: options.since.map { Date(timeIntervalSince1970: TimeInterval($0)) },
            until: options.until.map { Date(timeIntervalSince1970: TimeInterval($0)) }, feed: options.feed, by: options.grouping,
            lines: scan.inputs.reduce(0) { $0 + $1.lines }, malformedLines: scan.inputs.reduce(0) { $0 + $1.malformed },
            inputs: scan.inputs, byFeed: report.byFeed, bySignature: report.bySignature, bySender: report.bySender, byClient: report.byClient)
        return HitResult(hits: hits, report: report, summary: summary)
    }

    /// The files of the live set, by feed, of the feeds that are enabled.
    static func enabledFiles(_ config: Configuration) -> [String: [String]] {
        var files: [String: [String]] = [:]
        for (file, feed) in FeedAttribution.map(config: config) where config.feed(named: feed)?.enabled == true {
            files[feed, default: []].append(file)
        }
        return files
    }
}

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
