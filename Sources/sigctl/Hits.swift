import ArgumentParser
import Foundation
import SigctlCore

struct Hits: Subcommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what the signatures caught in the mail logs: per feed and file, signature, sender or client, with the client that sent it."
    )

    @OptionGroup var options: GlobalOptions
    @ParentCommand var parent: Sigctl

    @Option(help: ArgumentHelp("Start of the period: a duration back from now (24h, 7d), a date or a time, or \"all\".", valueName: "when"))
    var since = "7d"

    @Option(help: ArgumentHelp("End of the period (default: now), as for --since.", valueName: "when"))
    var until: String?

    @Option(help: ArgumentHelp("Only the detections of this feed.", valueName: "name"))
    var feed: String?

    @Option(help: ArgumentHelp("Group by feed (with the files that caught nothing), signature (with likely false positives), sender, or client.", valueName: "what"))
    var by: HitGrouping = .feed

    @Argument(help: ArgumentHelp("Mail logs to read (plain, rotated or .gz; - for standard input). Default: mail_logs in sigctl.toml, else /var/log/mail.log and its rotations.", valueName: "logfile"))
    var logfiles: [String] = []

    @OptionGroup var output: OutputOptions

    func run() throws {
        let log = global.log
        try execute(log, json: output.json) {
            let config = try global.load(log)
            let now = global.context(log).clock.now()
            var hitOptions = HitOptions()
            hitOptions.paths = logfiles
            hitOptions.feed = feed
            hitOptions.grouping = by
            if since != "all" {
                guard let start = Period.parse(since, now: now) else {
                    throw CommandError("--since \(since) is not a time", hint: "give a duration (24h, 7d), a date (2026-11-20), a time (2026-11-20T08:30) or all", exit: .usage)
                }
                hitOptions.since = start
            }
            if let until {
                guard let end = Period.parse(until, now: now) else {
                    throw CommandError("--until \(until) is not a time", hint: "give a duration (24h, 7d), a date (2026-11-20) or a time (2026-11-20T08:30)", exit: .usage)
                }
                hitOptions.until = end
            }
            let result = try HitRun.run(hitOptions, config: config, now: now)
            // The configured logs over at least the last day: the hits textfile too.
            if logfiles.isEmpty, feed == nil, until == nil, (hitOptions.since ?? .min) <= Int64(now.timeIntervalSince1970 - RecentHits.window) {
                let recent = RecentHits.from(result.hits, since: now.addingTimeInterval(-RecentHits.window), feeds: result.report.byFeed.map(\.feed))
                if let problem = recent.write(settings: config.settings, now: now) { log.warning(problem) }
            }
            for input in result.summary.inputs {
                if let error = input.error { log.warning("\(input.name): \(error); the lines before the error were read") }
                if input.malformed > 0 { log.info("\(input.name): \(input.malformed) malformed line(s) skipped") }
                if input.tooLong > 0 { log.info("\(input.name): \(input.tooLong) line(s) over 64 KiB skipped") }
                if input.skipped { log.info("\(input.name): last written before the period; not read") }
            }
            if output.json {
                for hit in result.hits { FileHandle.standardOutput.write(try JSONOutput.encode(hit, lines: true)) }
                FileHandle.standardOutput.write(try JSONOutput.encode(["summary": result.summary], lines: true))
                return
            }
            HitsText.print(result, grouping: by)
        }
    }
}

extension HitGrouping: ExpressibleByArgument {}
