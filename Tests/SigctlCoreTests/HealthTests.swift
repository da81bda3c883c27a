import Foundation
@testable import SigctlCore
import Testing

@Suite struct HealthTests {
    @Test func causesAreClassifiedFromTheMessage() {
        let cases: [(ItemStatus, String, ErrorCause)] = [
            (.failed, "http://m/f/a.ndb: HTTP 404", .http),
            (.failed, "the sha256 sidecar http://m/f/a.ndb.sha256 answered HTTP 404", .integrity),
            (.rejected, "bad sha256 checksum (file ab, sidecar cd)", .integrity),
            (.rejected, "gpgv rejected it (BADSIG)", .integrity),
            (.failed, "http://m/f/a.ndb: connect failed: Connection refused", .network),
            (.failed, "http://m/f/a.ndb: stalled: no data for 3 s", .network),
            (.rejected, "the download is truncated (10 of 20 bytes)", .content),
            (.rejected, "verification failed: libclamav: Malformed database", .verification),
            (.rejected, "it would silence 2 signature(s) that are not f's own: X", .policy),
            (.rejected, "false-positive gate: the update makes 1 ham message(s) in /c detected", .ham_corpus),
            (.rejected, "/db/a.ndb exists and was not installed by sigctl; sigctl never overwrites files", .conflict),
            (.failed, "something else", .other),
        ]
        for (status, message, cause) in cases {
            #expect(ErrorCause.classify(status, message) == cause, "\(message)")
        }
    }

    func report(live: Bool = true, clamdError: String? = nil, serves: Bool? = true, lastSuccess: Date?, newest: Date?,
                backoff: [StatusBackoff] = [], now: Date) -> StatusReport {
        let feed = StatusFeed(name: "f", databases: nil, coolDownUntil: nil, enabled: true, interval: 3600,
                              lastCheck: now, lastChange: newest, lastSuccess: lastSuccess, newest: newest, nextCheck: now,
                              backoff: backoff, lastError: nil, errorTotals: [:], files: [])
        let set = StatusLive(generation: 4, installedAt: now, signatures: 10, confirmed: true, confirmedAt: now,
                             canary: "Sigctl.Canary.4", clamdServesItNow: serves)
        return StatusReport(databaseDir: "/db", stateDir: "/state", clamd: "unix:/s", clamdVersion: clamdError == nil ? "ClamAV 1.4.6" : nil,
                            clamdError: clamdError, live: live ? set : nil, generations: [4], feeds: [feed], lastRun: lastSuccess,
                            lastExitCode: 0, lastSuccess: lastSuccess, reloadSeconds: 1.5, reloadFailures: 0, allowed: [:], warnings: [])
    }

    @Test func levelsFollowThresholds() {
        let now = Date(timeIntervalSince1970: 2_000_000_000)
        let thresholds = HealthThresholds()
        let fresh = HealthCheck.evaluate(report(lastSuccess: now, newest: now, now: now), thresholds: thresholds, now: now)
        #expect(fresh.level == .ok)
        #expect(HealthCheck.pluginText(fresh) == "SIGCTL OK - set 4 (10 signatures) served by clamd; 1 feed(s) fresh | 'generation'=4;;;0 'signatures'=10;;;0 'last_success'=0s;21600;86400;0 'age_f'=0s;259200;604800;0 'backoffs'=0;;;0")
        let oldRun = HealthCheck.evaluate(report(lastSuccess: now - 7 * 3600, newest: now, now: now), thresholds: thresholds, now: now)
        #expect(oldRun.level == .warning && oldRun.summary == "the last successful run was 7h ago")
        let oldSigs = HealthCheck.evaluate(report(lastSuccess: now, newest: now - 8 * 86_400, now: now), thresholds: thresholds, now: now)
        #expect(oldSigs.level == .critical && oldSigs.summary == "f: the newest signatures are 8d old")
        let notServed = HealthCheck.evaluate(report(serves: false, lastSuccess: now, newest: now, backoff: [StatusBackoff(host: "h", until: now, httpStatus: 429, reason: nil)], now: now),
                                             thresholds: thresholds, now: now)
        #expect(notServed.level == .critical && notServed.findings.map(\.level) == [.critical, .warning])
        #expect(HealthCheck.pluginText(notServed).split(separator: "\n").count == 3, "status line, then one line per finding")
        let nothing = HealthCheck.evaluate(report(live: false, lastSuccess: nil, newest: nil, now: now), thresholds: thresholds, now: now)
        #expect(nothing.level == .critical && nothing.summary.hasPrefix("no signature set installed"))
    }

    @Test func metricsAreValidExposition() {
        let now = Date(timeIntervalSince1970: 2_000_000_000)
        var status = report(lastSuccess: now, newest: now - 60, now: now)
        status.feeds[0].name = "we\"ird"
        status.feeds[0].errorTotals = ["http": 3]
        let text = Metrics.render(status, now: now)
        #expect(text.contains("sigctl_feed_newest_file_age_seconds{feed=\"we\\\"ird\"} 60\n"), "\(text)")
        #expect(text.contains("sigctl_errors_total{feed=\"we\\\"ird\",cause=\"http\"} 3\n"))
        #expect(text.contains("sigctl_reload_duration_seconds 1.500000\n"))
        #expect(text.contains("sigctl_last_success_timestamp_seconds 2000000000\n"))
        // Every sample follows its family's HELP and TYPE.
        var declared: Set<String> = []
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") { declared.insert(String(line.split(separator: " ")[2])) }
            if !line.hasPrefix("#") {
                let name = String(line.prefix { $0 != "{" && $0 != " " })
                #expect(declared.contains(name), "\(name) has a TYPE line")
            }
        }
    }
}
