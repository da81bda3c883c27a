import Foundation

/// Detections per feed in the last 24 hours of the configured mail logs: what `status`
/// shows and what goes into the hits textfile beside `metrics_textfile`.
public struct RecentHits: Codable, Sendable {
    public var since: Date
    public var detections: Int
    /// Feed name (or the label of detections without one) → detections.
    public var perFeed: [String: Int]
    /// Why the logs could not be read (then the counts are zero).
    public var error: String?

    public static let window: TimeInterval = 86400

    /// Reads the configured logs (`mail_logs`, by default /var/log/mail.log with its
    /// rotations; rotations last written before the window are not opened).
    public static func read(config: Configuration, now: Date) -> RecentHits {
        let since = now.addingTimeInterval(-window)
        var options = HitOptions()
        options.since = Int64(since.timeIntervalSince1970)
        do {
            let result = try HitRun.run(options, config: config, now: now)
            // byFeed lists every enabled feed, also those that caught nothing.
            return from(result.hits, since: since, feeds: result.report.byFeed.map(\.feed))
        } catch {
            return RecentHits(since: since, detections: 0, perFeed: [:], error: (error as? UserFacingError)?.summary ?? "\(error)")
        }
    }

    /// The counts of `hits` from `since` on; every feed in `feeds` appears, with 0 when it caught nothing.
    public static func from<S: Sequence<String>>(_ hits: [HitRecord], since: Date, feeds: S) -> RecentHits {
        let recent = hits.filter { $0.time >= since }
        var perFeed = Dictionary(grouping: recent, by: \.feedLabel).mapValues(\.count)
        for feed in feeds where perFeed[feed] == nil { perFeed[feed] = 0 }
        return RecentHits(since: since, detections: recent.count, perFeed: perFeed)
    }

    /// The hits textfile: `sigctl_hits.prom` in the directory of `metrics_textfile`
    /// (node_exporter's textfile collector reads every .prom file there). It is its own
    /// file because only a user who can read the mail logs can make it.
    public static func textfilePath(_ settings: Settings) -> String? {
        settings.metricsTextfile.map { ($0 as NSString).deletingLastPathComponent + "/sigctl_hits.prom" }
    }

    public func render(now: Date) -> String {
        var out = "# HELP sigctl_hits_24h Detections in the mail logs in the last 24 hours, by the feed whose signature fired.\n"
        out += "# TYPE sigctl_hits_24h gauge\n"
        for (feed, count) in perFeed.sorted(by: { $0.key < $1.key }) {
            out += "sigctl_hits_24h{feed=\"\(Metrics.escape(feed))\"} \(count)\n"
        }
        out += "# HELP sigctl_hits_read_timestamp_seconds When sigctl last read the mail logs for sigctl_hits_24h.\n"
        out += "# TYPE sigctl_hits_read_timestamp_seconds gauge\n"
        out += "sigctl_hits_read_timestamp_seconds \(Int64(now.timeIntervalSince1970))\n"
        return out
    }

    /// Writes the hits textfile when metrics are configured; a warning when it cannot.
    public func write(settings: Settings, now: Date) -> String? {
        guard let path = Self.textfilePath(settings) else { return nil }
        do {
            try Files.writeAtomically(Data(render(now: now).utf8), to: path, mode: 0o644)
            return nil
        } catch {
            return "cannot write \(path): \(error)"
        }
    }
}
