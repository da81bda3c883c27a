import ArgumentParser
import Foundation
import SigctlCore
import Synchronization

struct Test: Subcommand {
    static let configuration = CommandConfiguration(
        abstract: "Scan sample mail with the installed signatures: which signature hit which MIME part, from which feed.",
        discussion: """
        PATH may be a message file, an mbox (reported per message as PATH#N), a directory (recursive; \
        Maildir's cur/ and new/ included) or - for stdin. Exit codes: 0 nothing detected, 1 something \
        detected (or, with --expect, the expectation failed), 2 errors.
        """
    )

    enum Expectation: String, ExpressibleByArgument { case clean, detected }

    @OptionGroup var options: GlobalOptions
    @ParentCommand var parent: Sigctl

    @Option(help: ArgumentHelp("Scan with the databases in this directory instead of the live set (no sigctl config needed).", valueName: "dir"))
    var db: String?

    @Option(help: ArgumentHelp("Scan with an earlier installed set (see `sigctl status`).", valueName: "N"))
    var generation: Int?

    @Flag(help: "Scan the bytes exactly as given, as clamscan does (default: as clamav-milter hands mail to clamd, with a From line first).")
    var raw = false

    @Flag(help: "Stop at the first signature of each message instead of reporting all.")
    var first = false

    @Flag(help: "Scan through the running clamd, which serves the live set: no load here; the per-part report is made locally for detected messages only.")
    var clamd = false

    @Option(help: ArgumentHelp("Scanning threads (default: all cores).", valueName: "N"))
    var jobs: Int?

    @OptionGroup var output: OutputOptions

    @Option(help: ArgumentHelp("clean: fail (exit 1) and list messages that are detected; detected: fail and list messages that are clean.", valueName: "clean|detected"))
    var expect: Expectation?

    @Argument(help: "Messages, mboxes, directories or -.")
    var paths: [String]

    func validate() throws {
        if db != nil && generation != nil { throw ValidationError("--db and --generation cannot be combined") }
        if clamd && (db != nil || generation != nil) { throw ValidationError("--clamd scans with the live set clamd serves: it cannot be combined with --db or --generation") }
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
    }

    func run() throws {
        let log = global.log
        try execute(log, json: output.json) {
            let config: Configuration?
            if db == nil {
                do {
                    config = try global.load(log)
                } catch let error as ConfigError {
                    throw CommandError(error.description, hint: "or scan with a database directory directly: --db DIR", exit: .config)
                }
            } else {
                config = try? global.load(log, showWarnings: false)
            }
            var directory = db ?? config?.settings.databaseDir ?? "/var/lib/clamav"
            var scratch: String?
            if let generation, let config {
                let view = try Files.makeTemporaryDirectory(in: NSTemporaryDirectory(), prefix: "sigctl-test-generation-")
                directory = try FeedAttribution.generationView(config: config, generation: generation, scratch: view)
                scratch = view
            }
            defer { if let scratch { Files.remove(scratch) } }
            let feeds = db == nil ? config.map { FeedAttribution.map(config: $0, generation: generation) } ?? [:] : [:]
            var options = TestOptions()
            options.raw = raw
            options.allMatches = !first
            if let jobs { options.jobs = jobs }
            let messages = MessageStream(paths)
            let collected = Mutex<(TestSummary, [String])>((TestSummary(), []))
            let expectation = expect
            let asJSON = output.json
            let emit: @Sendable (MessageResult) -> Void = { result in
                collected.withLock { state in
                    MailTester.tally(result, into: &state.0)
                    if expectation == .clean && result.verdict == .detected || expectation == .detected && result.verdict == .clean {
                        state.1.append(result.label)
                    }
                }
                if asJSON {
                    FileHandle.standardOutput.write((try? JSONOutput.encode(result, lines: true)) ?? Data())
                } else {
                    Test.printText(result)
                }
            }
            var summary: TestSummary
            if clamd, let config {
                summary = try ClamdTester(config: config, context: global.context(log), feeds: feeds).run(messages, options: options, emit: emit)
            } else {
                let tester = try MailTester(directory: directory, options: config?.clamd.loadOptions ?? LoadOptions(), feedOfFile: feeds)
                summary = tester.run(messages, options: options, emit: emit)
            }
            let (counts, unexpected) = collected.withLock { $0 }
            summary.detected = counts.detected
            summary.clean = counts.clean
            summary.errors = counts.errors
            summary.hitsPerFeed = counts.hitsPerFeed
            if asJSON {
                FileHandle.standardOutput.write((try? JSONOutput.encode(["summary": summary], lines: true)) ?? Data())
            } else {
                Test.printSummary(summary)
                if let expectation, !unexpected.isEmpty {
                    print("expected \(expectation.rawValue), but \(unexpected.count) message(s) were not:")
                    unexpected.forEach { print("  \($0)") }
                }
            }
            if summary.errors > 0 { throw ExitCode(2) }
            switch expectation {
            case .clean?, nil: if summary.detected > 0 { throw ExitCode(1) }
            case .detected?: if summary.clean > 0 { throw ExitCode(1) }
            }
        }
    }

    static func printText(_ result: MessageResult) {
        if result.verdict == .error {
            print("\(result.label): ERROR \(result.error ?? "")")
        }
        for match in result.matches {
            var detail = "part \(match.part) (\(match.type)\(match.filename.map { ", \($0)" } ?? ""))"
            if let file = match.file { detail += ", \(match.feed.map { "feed \($0), " } ?? "")file \(file)" }
            print("\(result.label): \(match.signature) FOUND in \(detail)")
        }
        // Results appear as messages are scanned, also through a pipe.
        fflush(nil)
    }

    static func printSummary(_ summary: TestSummary) {
        print("\(summary.messages) messages: \(summary.detected) detected, \(summary.clean) clean, \(summary.errors) errors; scanned in \(String(format: "%.2f", summary.seconds))s (\(summary.signatures) signatures loaded in \(String(format: "%.2f", summary.loadSeconds))s)")
        if !summary.hitsPerFeed.isEmpty {
            print("hits per feed: " + summary.hitsPerFeed.sorted { $0.value > $1.value || $0.value == $1.value && $0.key < $1.key }
                .map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
    }
}
