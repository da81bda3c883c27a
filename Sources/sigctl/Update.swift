import ArgumentParser
import Foundation
import SigctlCore

struct Update: Subcommand {
    static let configuration = CommandConfiguration(
        abstract: "Fetch due feeds, verify the new set as clamd loads it, install it and prove clamd uses it.",
        discussion: """
        Exit codes: 0 success or nothing to do; 1 some feeds failed or were rejected, the rest installed \
        and confirmed or unchanged; 2 nothing installed because of failures; 3 clamd did not confirm the reload; \
        4 another run holds the lock; 64 usage error; 78 configuration error.
        """
    )

    @OptionGroup var options: GlobalOptions
    @ParentCommand var parent: Sigctl

    @Option(name: .long, help: ArgumentHelp("Update only this feed, now: skips its interval and the random sleep, never a host's back-off (repeatable).", valueName: "name"))
    var feed: [String] = []

    @Flag(help: "Do not wait the random sleep time first.")
    var noSleep = false

    @Flag(help: "Accept files whose signature count collapsed, and ignore stored ETag and Last-Modified.")
    var force = false

    @OptionGroup var output: OutputOptions

    func run() throws {
        let log = global.log
        try execute(log, json: output.json) {
            // Unattended (cron, a timer): say what changed only if asked, repeat config
            // warnings once a day, and take a lock held by another run quietly.
            let unattended = !Terminal.stdinIsTTY && log.level < .verbose
            let config = try global.load(log, showWarnings: !unattended)
            let context = global.context(log)
            let memory = WarningMemory(stateDir: config.settings.stateDir), started = context.clock.now()
            let warn = unattended && memory.isDue(config.warnings, now: started)
            if warn { config.warnings.forEach(log.warning) }
            defer { if warn || config.warnings.isEmpty { memory.remember(config.warnings, printedAt: started) } }
            var options = UpdateOptions()
            options.feeds = feed
            options.force = force
            let range = config.settings.sleep
            if !noSleep && feed.isEmpty && !Terminal.stdinIsTTY && range.upperBound > 0 {
                options.sleepSeconds = Int.random(in: range)
            }
            let report: UpdateReport
            do {
                report = try UpdateRunner(context: context, config: config, options: options).run()
            } catch let error as LockHeldError where unattended {
                // Quiet on stderr (cron would mail it), but a --json reader still gets a document.
                log.info(error.description)
                if output.json { printJSONError(error.summary, hint: error.hint, exit: error.exitStatus.rawValue) }
                throw ExitCode(error.exitStatus.rawValue)
            }
            // The change lines go to syslog (with --syslog) always, to stdout when asked.
            let changes = Update.changeLines(report)
            changes.forEach(log.change)
            if output.json {
                try printJSON(report)
            } else {
                if config.settings.report == .changes || !unattended { changes.forEach { print($0) } }
                logQuietOutcomes(report, log: log)
            }
            printProblems(report, log: log, unattended: unattended)
            if report.exitCode != 0 { throw ExitCode(report.exitCode) }
        }
    }

    /// Errors on stderr, one line per failed or rejected file, in text and JSON mode alike.
    func printProblems(_ report: UpdateReport, log: Log, unattended damp: Bool) {
        // Unattended runs print a persistent problem once a day, not on every cron run;
        // the exit code, --json and `sigctl status` always carry it.
        // Notes say what was repaired; under cron only when something went in.
        if !damp || report.installed { report.notes.forEach(log.warning) }
        for feed in report.feeds {
            for problem in feed.problems where !(damp && problem.repeated == true) {
                log.error(Update.describe(problem, feed: feed.name))
            }
        }
        for warning in report.warnings where log.level >= .verbose || report.installed { log.warning(warning) }
        for error in report.errors { log.error(error) }
    }

    /// One line per cause: the feed, the file (or how many files), the status and the message.
    static func describe(_ problem: ProblemReport, feed: String) -> String {
        if problem.files.count == 1 { return "\(feed)/\(problem.files[0]): \(problem.status.rawValue): \(problem.message)" }
        let shown = problem.files.prefix(5).joined(separator: ", ") + (problem.files.count > 5 ? ", …" : "")
        return "\(feed): \(problem.files.count) files \(problem.status.rawValue) (\(shown)): \(problem.message)"
    }

    /// One line per changed feed and one for an installed set; none when nothing changed.
    static func changeLines(_ report: UpdateReport) -> [String] {
        var lines: [String] = []
        for feed in report.feeds {
            let changed = feed.files.filter { $0.status == .updated || $0.status == .removed }
            switch feed.status {
            case .updated, .removed, .handed_back:
                let detail = changed.map { file in
                    let count = file.status == .removed ? "removed" : file.signatures.map { "\($0) sigs" } ?? "removed"
                    return "\(file.name) (\(count))"
                }.joined(separator: ", ")
                if !detail.isEmpty { lines.append("\(feed.name): updated \(detail)") }
                for file in feed.files where file.status == .handed_back {
                    lines.append("\(feed.name): handed \(file.name) back: \(file.message ?? "")")
                }
            case .failed, .rejected:
                if !changed.isEmpty {
                    lines.append("\(feed.name): updated \(changed.map(\.name).joined(separator: ", "))")
                }
            case .unchanged, .not_due:
                break
            }
        }
        for (feed, delta) in (report.detectCorpus ?? [:]).sorted(by: { $0.key < $1.key }) {
            lines.append("\(feed): detect corpus +\(delta.newlyDetected) newly detected, -\(delta.noLongerDetected) no longer detected")
        }
        guard report.installed else { return lines }
        switch report.reload.result {
        case .confirmed:
            lines.append("set \(report.generation ?? 0) installed: \(report.signatures ?? 0) signatures; clamd confirmed it in \(String(format: "%.2f", report.reload.seconds ?? 0))s")
        case .skipped:
            lines.append("set \(report.generation ?? 0) installed: \(report.signatures ?? 0) signatures; clamd not contacted (clamd = \"none\")")
        default:
            break
        }
        return lines
    }

    /// With -v: the feeds that did not change, and a confirmation of an unchanged set.
    func logQuietOutcomes(_ report: UpdateReport, log: Log) {
        for feed in report.feeds {
            if feed.status == .unchanged { log.info("\(feed.name): unchanged") }
            if feed.status == .not_due { log.info("\(feed.name): not due (\(feed.message ?? ""))") }
        }
        if report.reload.result == .confirmed && !report.installed {
            log.info(report.reload.message ?? "clamd confirmed the live set")
        }
    }
}
