import Foundation
import Synchronization

/// One signature match, placed in the layer (MIME part) where it fired, as `sigctl test` reports it.
public struct MatchReport: Codable, Sendable, Hashable {
    public var signature: String
    /// The feed that shipped the defining file, when sigctl knows it.
    public var feed: String?
    /// The database file that defines the signature.
    public var file: String?
    /// Layer path: "1" is the message, "1/2" its second part, "1/2/1" the first part inside that.
    public var part: String
    /// libclamav's file type of the part, e.g. CL_TYPE_MSEXE.
    public var type: String
    /// The part's file name, when the message gives one.
    public var filename: String?

    enum CodingKeys: String, CodingKey { case signature, feed, file, part, type, filename }

    /// Every key is always present: absent values are written as null.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(signature, forKey: .signature)
        try container.encode(feed, forKey: .feed)
        try container.encode(file, forKey: .file)
        try container.encode(part, forKey: .part)
        try container.encode(type, forKey: .type)
        try container.encode(filename, forKey: .filename)
    }

    public init(signature: String, feed: String?, file: String?, part: String, type: String, filename: String?) {
        self.signature = signature
        self.feed = feed
        self.file = file
        self.part = part
        self.type = type
        self.filename = filename
    }
}

/// What a scan said about one message.
public enum Verdict: String, Codable, Sendable { case clean, detected, error }

/// The verdict on one message (one JSON line of `sigctl test --json`).
public struct MessageResult: Codable, Sendable {
    public var path: String
    public var index: Int?
    public var verdict: Verdict
    public var matches: [MatchReport]
    public var error: String?

    public var label: String { index.map { "\(path)#\($0)" } ?? path }

    enum CodingKeys: String, CodingKey { case path, index, verdict, matches, error }

    /// Every key is always present: absent values are written as null, as documented.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(path, forKey: .path)
        try container.encode(index, forKey: .index)
        try container.encode(verdict, forKey: .verdict)
        try container.encode(matches, forKey: .matches)
        try container.encode(error, forKey: .error)
    }
}

public struct TestSummary: Codable, Sendable {
    public var messages = 0
    public var detected = 0
    public var clean = 0
    public var errors = 0
    public var hitsPerFeed: [String: Int] = [:]
    public var seconds = 0.0
    public var loadSeconds = 0.0
    public var signatures = 0
    public init() {}
}

public struct TestOptions: Sendable {
    /// Scan the bytes as given (as clamscan does) instead of as clamav-milter presents them.
    public var raw = false
    /// Report every signature (all-matches mode); false stops at the first.
    public var allMatches = true
    public var jobs = ProcessInfo.processInfo.activeProcessorCount
    public init() {}
}

/// `sigctl test`: one compiled engine, scanned from several threads, results in input order.
public final class MailTester: @unchecked Sendable {
    let engine: ClamEngine
    let index: SignatureFileIndex
    let feedOfFile: [String: String]
    public let signatures: Int
    public let loadSeconds: Double

    /// Loads `directory` as clamd does (libclamav's files, in its order, in one engine),
    /// indexing which file defines each signature, compiles, and turns on part reports.
    public init(directory: String, options: LoadOptions, feedOfFile: [String: String]) throws {
        let start = Date()
        guard Files.list(directory).contains(where: { isDatabaseFile($0) && $0 != canaryFileName }) else {
            throw CommandError("\(directory) holds no ClamAV database files", hint: "pass --db DIR with .ndb/.hdb/.cvd files", exit: .failed)
        }
        engine = try ClamEngine()
        do {
            index = try engine.loadDirectoryIndexed(directory, options: options)
            try engine.compile()
        } catch let error as ClamAVError {
            throw CommandError("the signatures in \(directory) do not load: \(error)", hint: "run `sigctl verify \(directory)`", exit: .failed)
        }
        engine.enablePartReports()
        signatures = Int(engine.signatures)
        self.feedOfFile = feedOfFile
        loadSeconds = Date().timeIntervalSince(start)
    }

    /// Wraps an engine that is loaded and compiled already, and turns on part reports.
    init(engine: ClamEngine, index: SignatureFileIndex, loadSeconds: Double) {
        engine.enablePartReports()
        self.engine = engine
        self.index = index
        self.feedOfFile = [:]
        self.signatures = Int(engine.signatures)
        self.loadSeconds = loadSeconds
    }

    /// Scans the messages of `stream` as they are read, on `options.jobs` threads, and
    /// calls `emit` once per message in input order. Memory holds the messages being
    /// scanned and the results waiting for an earlier one, never the whole corpus.
    public func run(_ stream: MessageStream, options: TestOptions, emit: @escaping @Sendable (MessageResult) -> Void) -> TestSummary {
        let start = Date()
        var summary = TestSummary()
        summary.messages = Self.ordered(stream, jobs: options.jobs, scan: { self.scan($0, options: options) }, emit: emit)
        summary.seconds = Date().timeIntervalSince(start)
        summary.loadSeconds = loadSeconds
        summary.signatures = signatures
        return summary
    }

    /// Runs `scan` over the stream on `jobs` threads and emits the results in input order;
    /// returns how many messages there were.
    static func ordered(_ stream: MessageStream, jobs: Int, scan: @escaping @Sendable (MessageSource) -> MessageResult,
                        emit: @escaping @Sendable (MessageResult) -> Void) -> Int {
        struct Shared {
            var printed = 0
            var results: [Int: MessageResult] = [:]
        }
        let shared = Mutex(Shared())
        // Taking the next message may block on input (stdin, a slow disk): it has a lock of
        // its own, so results already scanned still come out meanwhile.
        let taking = Mutex(0)
        let group = DispatchGroup()
        for _ in 0..<max(1, jobs) {
            group.enter()
            Thread {
                defer { group.leave() }
                while true {
                    // Numbered under the lock that reads, so input order is kept.
                    let taken: (Int, MessageSource)? = taking.withLock { next in
                        guard let message = stream.next() else { return nil }
                        defer { next += 1 }
                        return (next, message)
                    }
                    guard let (index, message) = taken else { return }
                    let result = scan(message)
                    shared.withLock { state in
                        state.results[index] = result
                        while let ready = state.results.removeValue(forKey: state.printed) {
                            emit(ready)
                            state.printed += 1
                        }
                    }
                }
            }.start()
        }
        group.wait()
        return taking.withLock { $0 }
    }

    public func scan(_ message: MessageSource, options: TestOptions) -> MessageResult {
        var result = MessageResult(path: message.path, index: message.index, verdict: .clean, matches: [], error: nil)
        guard let data = message.data else {
            result.verdict = .error
            result.error = message.error ?? "unreadable"
            return result
        }
        do {
            let bytes = options.raw ? data : MessageCollector.asMilterPresents(data)
            let scanned = try engine.scan(bytes, name: (message.path as NSString).lastPathComponent, allMatches: options.allMatches)
            // A signature that matches the raw message and again the decoded part inside it
            // is reported once, at the most specific part; matches in sibling parts all stay.
            let matches = scanned.filter { match in
                !scanned.contains { $0.signature == match.signature && $0.part.hasPrefix(match.part + "/") }
            }
            result.matches = matches.map { match in
                var match = match
                match.file = index.file(of: match.signature)
                match.feed = match.file.flatMap { feedOfFile[$0] }
                return match
            }
            result.verdict = result.matches.isEmpty ? .clean : .detected
        } catch {
            result.verdict = .error
            result.error = "\(error)"
        }
        return result
    }

    /// Adds one result to the summary counts.
    public static func tally(_ result: MessageResult, into summary: inout TestSummary) {
        switch result.verdict {
        case .detected:
            summary.detected += 1
            for match in result.matches { summary.hitsPerFeed[match.feed ?? match.file ?? "unknown", default: 0] += 1 }
        case .clean: summary.clean += 1
        case .error: summary.errors += 1
        }
    }
}
