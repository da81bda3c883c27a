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
            let journal = failed.name.hasPrefix("journald"), noUnits = error.contains("no entries of the mail units")
            throw CommandError("cannot read \(failed.name): \(error)",
                               hint: noUnits ? "give the mail log files, or set mail_logs (or journal_units) in sigctl.toml"
                                   : journal ? "the journal is readable by root and the groups adm and systemd-journal; check journal_directory when it is set"
                                   : denied ? "mail logs are readable by root and group adm: run sigctl hits as root or as a member of adm"
                                   : "check that it is a mail log", exit: .failed)
        }
        let liveFeeds = FeedAttribution.map(config: config)
        let origins = HitAttribution.origins(of: Set(scan.detections.compactMap(\.signature)), config: config, liveFeeds: liveFeeds)
        var hits = HitRecord.make(scan.detections, origins: origins, localNetworks: config.settings.localNetworks)
        var enabled = enabledFiles(config, liveFeeds: liveFeeds)
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
    static func enabledFiles(_ config: Configuration, liveFeeds: [String: String]) -> [String: [String]] {
        var files: [String: [String]] = [:]
        for (file, feed) in liveFeeds where config.feed(named: feed)?.enabled == true {
            files[feed, default: []].append(file)
        }
        return files
    }
}
