import ArgumentParser
import Foundation
import SigctlCore

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show each feed's last check and change, its files, back-offs and errors, and whether clamd runs the live set."
    )

    @OptionGroup var options: GlobalOptions
    @ParentCommand var parent: Sigctl
    /// The global options, given before or after the subcommand.
    var global: GlobalOptions { options.merged(with: parent.global) }

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let log = global.log
        try execute(log) {
            let config = try global.load(log)
            let report = try StatusReport.gather(context: global.context(log), config: config)
            if json { return try printJSON(report) }
            print("database dir: \(report.databaseDir)")
            if let version = report.clamdVersion {
                print("clamd:        \(report.clamd) (\(version))")
            } else {
                print("clamd:        \(report.clamd)\(report.clamdError.map { " — not answering: \($0)" } ?? "")")
            }
            if let live = report.live {
                let confirmation = live.confirmed
                    ? "confirmed by clamd at \(formatDate(live.confirmedAt))"
                    : "NOT confirmed by clamd yet"
                print("live set:     \(live.generation), installed \(formatDate(live.installedAt)), \(live.signatures) signatures, \(confirmation)")
                if let now = live.clamdServesItNow {
                    print("              clamd \(now ? "serves" : "does NOT serve") this set's canary right now")
                }
            } else {
                print("live set:     none installed by sigctl yet")
            }
            print("kept sets:    \(report.generations.map(String.init).joined(separator: ", "))")
            print("last run:     \(formatDate(report.lastRun))\(report.lastResult.map { " (\($0))" } ?? "")")
            for (name, entry) in report.allowed.sorted(by: { $0.key < $1.key }) {
                print("allowed:      \(name) (by \(entry.by) at \(formatDate(entry.at))\(entry.reason.map { ": \($0)" } ?? ""))")
            }
            for feed in report.feeds {
                print("")
                print("\(feed.name)\(feed.enabled ? "" : " (disabled)"): checked \(formatDate(feed.lastCheck)), changed \(formatDate(feed.lastChange)), next check \(feed.enabled ? formatDate(feed.nextCheck ?? Date()) : "-")")
                for entry in feed.backoff { print("  backing off: \(entry)") }
                if let until = feed.coolDownUntil { print("  on cool-down until \(formatDate(until)): libfreshclam sends nothing before then") }
                for database in feed.databases ?? [] {
                    if let file = database.file {
                        print("  \(database.name.padding(toLength: 10, withPad: " ", startingAt: 0)) \(file), version \(database.version.map(String.init) ?? "?"), \(database.signatures.map(String.init) ?? "?") sigs, built \(formatDate(database.built))")
                    } else {
                        print("  \(database.name.padding(toLength: 10, withPad: " ", startingAt: 0)) not installed")
                    }
                }
                if let error = feed.lastError { print("  last error: \(error)") }
                for file in feed.files where file.enabled || file.installed {
                    let sigs = file.signatures.map { "\($0) sigs" } ?? "-"
                    let size = file.size.map { "\(($0 + 1023) / 1024) KiB" } ?? "-"
                    let state = file.installed ? "installed" : "not installed"
                    print("  \(file.name.padding(toLength: 28, withPad: " ", startingAt: 0)) \(sigs.padding(toLength: 12, withPad: " ", startingAt: 0)) \(size.padding(toLength: 10, withPad: " ", startingAt: 0)) risk \(file.risk.padding(toLength: 6, withPad: " ", startingAt: 0)) \(state), changed \(formatDate(file.lastChange))")
                }
            }
            report.warnings.forEach(log.warning)
        }
    }
}
