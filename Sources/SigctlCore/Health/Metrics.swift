import Foundation

/// The Prometheus textfile (node_exporter's textfile collector): sigctl's state as
/// gauges and counters, written atomically after every run when `metrics_textfile` is set.
public enum Metrics {
    /// The exposition text for a status report gathered without asking clamd.
    public static func render(_ report: StatusReport, now: Date) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String, _ samples: [(labels: [(String, String)], value: Double)]) {
            guard !samples.isEmpty else { return }
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for sample in samples {
                let labels = sample.labels.isEmpty ? ""
                    : "{" + sample.labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",") + "}"
                out += "\(name)\(labels) \(number(sample.value))\n"
            }
        }
        func single(_ name: String, _ type: String, _ help: String, _ value: Double?) {
            if let value { family(name, type, help, [([], value)]) }
        }
        func seconds(_ date: Date?) -> Double? { date.map { $0.timeIntervalSince1970.rounded() } }

        family("sigctl_info", "gauge", "sigctl's version and the libclamav it runs with.",
               [([("version", sigctlVersion), ("libclamav", ClamAV.version)], 1)])
        single("sigctl_metrics_timestamp_seconds", "gauge", "When sigctl wrote this file.", seconds(now))
        single("sigctl_last_run_timestamp_seconds", "gauge", "When the last update run ended.", seconds(report.lastRun))
        single("sigctl_last_run_exit_code", "gauge", "The exit code of the last update run (0 success, 1 partial, 2 failed, 3 clamd did not confirm).",
               report.lastExitCode.map(Double.init))
        single("sigctl_last_success_timestamp_seconds", "gauge", "When the last update run that exited 0 ended.", seconds(report.lastSuccess))
        single("sigctl_live_generation", "gauge", "The number of the live signature set.", report.live.map { Double($0.generation) })
        single("sigctl_live_signatures", "gauge", "Signatures libclamav loaded from the live set's directory.", report.live.map { Double($0.signatures) })
        single("sigctl_live_confirmed", "gauge", "1 when clamd was shown to serve the live set (its canary).", report.live.map { $0.confirmed ? 1 : 0 })
        single("sigctl_reload_duration_seconds", "gauge", "How long clamd took to serve the last set it confirmed.", report.reloadSeconds)
        single("sigctl_reload_failures_total", "counter", "Reloads clamd did not confirm.", Double(report.reloadFailures))

        let feeds = report.feeds
        family("sigctl_feed_enabled", "gauge", "1 when the feed is enabled.", feeds.map { ([("feed", $0.name)], $0.enabled ? 1 : 0) })
        family("sigctl_feed_last_check_timestamp_seconds", "gauge", "When the feed was last checked.",
               feeds.compactMap { feed in seconds(feed.lastCheck).map { ([("feed", feed.name)], $0) } })
        family("sigctl_feed_last_success_timestamp_seconds", "gauge", "When a check of the feed last ended without a problem.",
               feeds.compactMap { feed in seconds(feed.lastSuccess).map { ([("feed", feed.name)], $0) } })
        family("sigctl_feed_newest_file_timestamp_seconds", "gauge", "When the feed's newest signatures were made (official: build time; others: last change).",
               feeds.compactMap { feed in seconds(feed.newest).map { ([("feed", feed.name)], $0) } })
        family("sigctl_feed_newest_file_age_seconds", "gauge", "Age of the feed's newest signatures when this file was written.",
               feeds.compactMap { feed in feed.newest.map { ([("feed", feed.name)], max(0, now.timeIntervalSince($0).rounded())) } })
        family("sigctl_feed_signatures", "gauge", "Signatures in the feed's installed files.",
               feeds.map { feed in
                   let official = feed.databases?.compactMap(\.signatures).reduce(0, +)
                   let files = feed.files.filter(\.installed).compactMap(\.signatures).reduce(0, +)
                   return ([("feed", feed.name)], Double(official ?? files))
               })
        family("sigctl_feed_backoff", "gauge", "1 while sigctl backs off from one of the feed's mirrors or waits out a cool-down.",
               feeds.map { ([("feed", $0.name)], $0.backoff.isEmpty && $0.coolDownUntil == nil ? 0 : 1) })
        family("sigctl_errors_total", "counter", "Failed or rejected files, by feed and cause.",
               feeds.flatMap { feed in
                   ErrorCause.allCases.map { cause in ([("feed", feed.name), ("cause", cause.rawValue)], Double(feed.errorTotals[cause.rawValue] ?? 0)) }
               })
        return out
    }

    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(format: "%.6f", value)
    }

    /// Writes the textfile for the current state, atomically (a temporary name that does
    /// not end in .prom, then a rename). Returns a warning when it cannot.
    public static func write(context: SigctlContext, config: Configuration, state: State) -> String? {
        guard let path = config.settings.metricsTextfile else { return nil }
        do {
            let report = StatusReport.gather(context: context, config: config, state: state, askClamd: false)
            try Files.writeAtomically(Data(render(report, now: context.clock.now()).utf8), to: path, mode: 0o644)
            return nil
        } catch {
            let directory = (path as NSString).deletingLastPathComponent, user = PermissionProblem.userName(geteuid())
            return "cannot write metrics_textfile \(path): \(error); make \(directory) writable for \(user) (chgrp \(user) \(directory) && chmod g+w \(directory))"
        }
    }
}
