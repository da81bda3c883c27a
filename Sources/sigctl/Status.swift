import ArgumentParser
import Foundation
import SigctlCore

struct Status: Subcommand {
    static let configuration = CommandConfiguration(
        abstract: "Show each feed's last check and change, its files, back-offs and errors, and whether clamd runs the live set."
    )

    @OptionGroup var options: GlobalOptions
    @ParentCommand var parent: Sigctl

    @OptionGroup var output: OutputOptions

    func run() throws {
        let log = global.log
        try execute(log, json: output.json) {
            let config = try global.load(log)
            let context = global.context(log), now = context.clock.now()
            var report = try StatusReport.gather(context: context, config: config)
            let health = HealthCheck.evaluate(report, thresholds: HealthThresholds(), now: now)
            report.health = health
            let hits = RecentHits.read(config: config, now: now)
            report.hits = hits
            // Only a user who can read the logs may replace the series (root's cron, say).
            if hits.error == nil, let problem = hits.write(settings: config.settings, now: now) { log.warning(problem) }
            if output.json {
                try printJSON(report)
            } else {
                show(report, health: health, log: log)
            }
            // Exit like `sigctl check`: 0 healthy, 1 warning, 2 critical.
            if health.level != .ok { throw ExitCode(health.level.rawValue) }
        }
    }

    func show(_ report: StatusReport, health: HealthReport, log: Log) {
        print("database dir: \(report.databaseDir)")
        if let version = report.clamdVersion {
            print("clamd:        \(report.clamd) (\(version))")
        } else {
            print("clamd:        \(report.clamd)\(report.clamdError.map { " — not answering: \($0)" } ?? "")")
        }
        if let live = report.live {
            let confirmation = report.clamd == "none" ? "not checked with clamd (clamd = \"none\")"
                : live.confirmed ? "confirmed by clamd at \(Timestamp.text(live.confirmedAt))"
                : "NOT confirmed by clamd yet"
            print("live set:     \(live.generation), installed \(Timestamp.text(live.installedAt)), \(live.signatures) signatures, \(confirmation)")
            if let now = live.clamdServesItNow {
                print("              clamd \(now ? "serves" : "does NOT serve") this set's canary right now")
            }
        } else {
            print("live set:     none installed by sigctl yet")
        }
        print("kept sets:    \(report.generations.map(String.init).joined(separator: ", "))")
        print("last run:     \(Timestamp.text(report.lastRun))\(report.lastExitCode.map { $0 == 0 ? " (ok)" : " (exit \($0))" } ?? ""), last success \(Timestamp.text(report.lastSuccess))")
        for (name, entry) in report.allowed.sorted(by: { $0.key < $1.key }) {
            print("allowed:      \(name) (by \(entry.by) at \(Timestamp.text(entry.at))\(entry.reason.map { ": \($0)" } ?? ""))")
        }
        for feed in report.feeds {
            print("")
            print("\(feed.name)\(feed.enabled ? "" : " (disabled)"): checked \(Timestamp.text(feed.lastCheck)), changed \(Timestamp.text(feed.lastChange)), next check \(feed.enabled ? feed.nextCheck.map { Timestamp.text($0) } ?? "now" : "-")")
            if let publication = feed.publication {
                print("  publisher:   set \(publication.generation) of \(publication.publisher), published \(Timestamp.text(publication.publishedAt)), verified with libclamav \(publication.libclamav); installed here in set \(publication.localGeneration.map(String.init) ?? "-")")
            }
            for entry in feed.backoff { print("  backing off: \(entry.text)") }
            if let until = feed.coolDownUntil { print("  on cool-down until \(Timestamp.text(until)): libfreshclam sends nothing before then") }
            for database in feed.databases ?? [] {
                if let file = database.file {
                    print("  \(database.name.padding(toLength: 10, withPad: " ", startingAt: 0)) \(file), version \(database.version.map(String.init) ?? "?"), \(database.signatures.map(String.init) ?? "?") sigs, built \(Timestamp.text(database.built))")
                } else {
                    print("  \(database.name.padding(toLength: 10, withPad: " ", startingAt: 0)) not installed")
                }
            }
            if let error = feed.lastError { print("  last error: \(error)") }
            for file in feed.files where file.enabled || file.installed {
                let sigs = file.signatures.map { "\($0) sigs" } ?? "-"
                let size = file.size.map { "\(($0 + 1023) / 1024) KiB" } ?? "-"
                let state = file.installed ? "installed" : "not installed"
                print("  \(file.name.padding(toLength: 28, withPad: " ", startingAt: 0)) \(sigs.padding(toLength: 12, withPad: " ", startingAt: 0)) \(size.padding(toLength: 10, withPad: " ", startingAt: 0)) risk \(file.risk.padding(toLength: 6, withPad: " ", startingAt: 0)) \(state), changed \(Timestamp.text(file.lastChange))")
            }
        }
        if let hits = report.hits {
            print("")
            if let error = hits.error {
                print("hits (24h):   not read: \(error)")
            } else {
                let counts = hits.perFeed.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map { "\($0.key) \($0.value)" }
                print("hits (24h):   \(hits.detections) detection(s)\(counts.isEmpty ? "" : ": " + counts.joined(separator: ", "))")
            }
        }
        report.warnings.forEach(log.warning)
        print("")
        print("health:       \(health.level.label)\(health.findings.isEmpty ? "" : ": " + health.findings.map(\.text).joined(separator: "; "))")
    }
}
