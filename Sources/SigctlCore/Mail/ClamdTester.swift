import Foundation
import Synchronization

/// `sigctl test --clamd`: scans through the running clamd, which holds the live set
/// already, so a check costs seconds instead of a full load. clamd says only whether a
/// message is detected and by what; for the detected ones the per-part report is made
/// locally, and the local engine is loaded only when the first detection comes in.
public final class ClamdTester: @unchecked Sendable {
    let clamd: any ClamdService
    let directory: String
    let options: LoadOptions
    let feedOfFile: [String: String]
    let indexDirectory: String
    private let local = Mutex<Result<MailTester, Error>?>(nil)
    /// `find` may build a name index: one at a time.
    private let lookup = Mutex(())

    /// Fails unless clamd answers and serves the live set (its canary). `feeds` maps the
    /// live files to their feeds (`FeedAttribution.map`).
    public init(config: Configuration, context: SigctlContext, feeds: [String: String]) throws {
        guard let address = config.clamdAddress else {
            throw CommandError("--clamd needs a clamd to talk to, and sigctl.toml says clamd = \"none\"",
                               hint: "run without --clamd to load the set here", exit: .usage)
        }
        let layout = Layout(settings: config.settings)
        let state = try StateStore(directory: config.settings.stateDir).load()
        let client = context.clamd(address)
        guard let live = state.live,
              let canary = layout.canary(named: live.canaryName, generation: live.generation, mail: config.clamd.scanMail) else {
            throw CommandError("sigctl has installed no set yet, so it cannot tell which set clamd at \(address) serves",
                               hint: "run `sigctl update` first, or run without --clamd", exit: .failed)
        }
        let serves: Bool
        do {
            serves = try ReloadProver(clamd: client, clock: context.clock, timeout: 10).serves(canary)
        } catch {
            throw CommandError("clamd does not answer: \(error)", hint: "start clamd, or run without --clamd", exit: .failed)
        }
        guard serves else {
            throw CommandError("clamd at \(address) does not serve the live set (set \(live.generation)'s canary is not detected); it may still be reloading",
                               hint: "wait for `sigctl status` to show it confirmed, or run without --clamd", exit: .failed)
        }
        clamd = client
        directory = config.settings.databaseDir
        options = config.clamd.loadOptions
        feedOfFile = feeds
        indexDirectory = layout.nameIndexes
    }

    public func run(_ stream: MessageStream, options: TestOptions, emit: @escaping @Sendable (MessageResult) -> Void) -> TestSummary {
        let start = Date()
        var summary = TestSummary()
        summary.messages = MailTester.ordered(stream, jobs: options.jobs, scan: { self.scan($0, options: options) }, emit: emit)
        summary.seconds = Date().timeIntervalSince(start)
        if let tester = try? local.withLock({ $0 })?.get() {
            summary.loadSeconds = tester.loadSeconds
            summary.signatures = tester.signatures
        }
        return summary
    }

    func scan(_ message: MessageSource, options: TestOptions) -> MessageResult {
        var result = MessageResult(path: message.path, index: message.index, verdict: .clean, matches: [], error: nil)
        guard let data = message.data else {
            result.verdict = .error
            result.error = message.error ?? "unreadable"
            return result
        }
        let found: String?
        do {
            found = try clamd.scan(options.raw ? data : MessageCollector.asMilterPresents(data), deadline: Date().addingTimeInterval(120))
        } catch {
            result.verdict = .error
            result.error = "\(error)"
            return result
        }
        guard let found else { return result }
        // Detected: the parts, from a local engine of the same set.
        do {
            let tester = try localTester()
            result = tester.scan(message, options: options)
        } catch {
            result.error = "clamd found \(found); the per-part report failed: \(error)"
        }
        if !result.matches.contains(where: { definedName($0.signature) == definedName(found) }) {
            // clamd's verdict comes first, also when the local scan saw it differently.
            let scratch = try? Files.makeTemporaryDirectory(in: NSTemporaryDirectory(), prefix: "sigctl-test-")
            defer { if let scratch { Files.remove(scratch) } }
            let file = lookup.withLock { _ in
                scratch.flatMap { SignatureLookup.find(found, in: directory, indexDirectory: indexDirectory, scratch: $0) }?
                    .first { !$0.allowList }?.file
            }
            result.matches.insert(MatchReport(signature: found, feed: file.flatMap { feedOfFile[$0] }, file: file,
                                              part: "1", type: "CL_TYPE_MAIL", filename: nil), at: 0)
        }
        result.verdict = .detected
        return result
    }

    /// The local engine, loaded once, on the first detection.
    private func localTester() throws -> MailTester {
        try local.withLock { cached in
            if cached == nil {
                cached = Result { try MailTester(directory: directory, options: options, feedOfFile: feedOfFile) }
            }
            return try cached!.get()
        }
    }
}
