import Foundation

/// Per message: signature → database file, for every match.
public typealias CorpusHits = [String: [String: String]]

/// What a corpus is for: ham must not become detected; detect mail should stay detected.
public enum CorpusKind: String, Codable, Sendable { case ham, detect }

public struct CorpusSpec: Codable, Sendable, Hashable {
    public var path: String
    public var kind: CorpusKind
    public init(path: String, kind: CorpusKind) {
        self.path = path
        self.kind = kind
    }
}

/// What the corpus child is asked to compare (written by sigctl as JSON into the child's scratch).
public struct CorpusScanRequest: Codable, Sendable {
    /// The live database directory (what clamd loads).
    public var live: String
    /// The complete candidate directory.
    public var candidate: String
    public var corpora: [CorpusSpec]
    public var options: LoadOptions
    /// Where the child may write (unpacked containers, the small engines' files).
    public var scratch: String
    /// Where unchanged containers' context files are kept between runs.
    public var cache: String?
    /// Above this many lines in the small engines, the whole sets are compared.
    public var maxDeltaLines: Int

    public init(live: String, candidate: String, corpora: [CorpusSpec], options: LoadOptions, scratch: String,
                cache: String?, maxDeltaLines: Int) {
        self.live = live
        self.candidate = candidate
        self.corpora = corpora
        self.options = options
        self.scratch = scratch
        self.cache = cache
        self.maxDeltaLines = maxDeltaLines
    }
}

/// One corpus compared: only the messages whose hits can differ are listed, with their
/// hits in the whole live set and the whole candidate; every other message has the same
/// hits in both.
public struct CorpusComparison: Codable, Sendable {
    public var path: String
    public var kind: CorpusKind
    public var messages: Int
    /// "delta" (small engines picked the messages the whole sets decided) or "whole".
    public var mode: String
    /// Why the whole sets were compared for every message.
    public var reason: String?
    public var flagged: Int
    public var live: CorpusHits
    public var candidate: CorpusHits
}

extension CorpusComparison {
    /// Hits the candidate has and the live set does not: message → [(signature, file)].
    public static func newHits(live: CorpusHits, candidate: CorpusHits) -> [String: [(String, String)]] {
        var result: [String: [(String, String)]] = [:]
        for (message, signatures) in candidate {
            let before = live[message] ?? [:]
            let added = signatures.filter { before[$0.key] == nil }.map { ($0.key, $0.value) }.sorted { $0.0 < $1.0 }
            if !added.isEmpty { result[message] = added }
        }
        return result
    }
}

/// The corpus child's answer on stdout.
public struct CorpusScanReport: Codable, Sendable {
    public var ok = false
    public var error: String?
    public var corpora: [CorpusComparison] = []
    public var changedNames = 0
    /// Signature lines in the two small engines.
    public var deltaLines = 0
    /// Whole sets loaded (0 when the small engines flagged nothing).
    public var wholeLoads = 0
    public var seconds = 0.0
    public var peakRSSKiB = 0
    public init() {}
}

/// The code that runs inside the corpus child (`sigctl __scan-corpora`): one engine at a
/// time, small engines first, whole sets only for the messages they flag.
public enum CorpusScanChild {
    public static func run(_ request: CorpusScanRequest, memoryLimit: Int64, runAs: (uid: uid_t, gid: gid_t)?) -> CorpusScanReport {
        var report = CorpusScanReport()
        let start = Date()
        if let problem = ChildSetup.enter(runAs: runAs, memoryLimit: memoryLimit) {
            report.error = problem
            return report
        }
        do {
            report = try compare(request)
            report.ok = true
        } catch {
            report.error = "\(error)"
        }
        report.seconds = Date().timeIntervalSince(start)
        report.peakRSSKiB = ChildSetup.peakRSS()
        return report
    }

    static func compare(_ request: CorpusScanRequest) throws -> CorpusScanReport {
        var report = CorpusScanReport()
        let plan = try SetDelta(live: request.live, candidate: request.candidate, options: request.options,
                                scratch: request.scratch, cache: request.cache, maxLines: request.maxDeltaLines).plan()
        report.changedNames = plan.changedNames
        report.deltaLines = plan.lines
        func blocker(_ spec: CorpusSpec) -> String? { spec.kind == .ham ? plan.hamBlocker : plan.detectBlocker }
        // Each corpus is read as a stream on every pass: memory holds the messages being scanned.
        // A message this child cannot read would pass the gate unseen: that fails the comparison.
        var labels: [String: [String]] = [:]
        for path in Set(request.corpora.map(\.path)) {
            labels[path] = []
            guard access(path, R_OK) == 0, !Files.isDirectory(path) || opendir(path).map({ closedir($0); return true }) == true else {
                throw CorpusError("cannot read \(path) as uid \(getuid()); make the corpus readable by the owner of the database directory (clamav)")
            }
            let stream = MessageStream([path])
            while let message = stream.next() {
                if let error = message.error { throw CorpusError("cannot read \(message.label) as uid \(getuid()) (\(error)); make the corpus readable by the owner of the database directory (clamav)") }
                labels[path]?.append(message.label)
            }
        }

        // Small engines: the messages whose hits among the changed names differ.
        var flagged: [CorpusSpec: Set<String>] = [:]
        let deltaCorpora = request.corpora.filter { blocker($0) == nil }
        if !deltaCorpora.isEmpty, plan.changedNames > 0 {
            let paths = Array(Set(deltaCorpora.map(\.path))).sorted()
            let before = try scanSmall(plan.live, names: plan.names, options: request.options, paths: paths)
            let after = try scanSmall(plan.candidate, names: plan.names, options: request.options, paths: paths)
            // From the scans themselves, so a message that appears between passes is not missed.
            let differing = Set(before.keys).union(after.keys).filter { before[$0] != after[$0] }
            for spec in deltaCorpora {
                flagged[spec] = differing.filter { $0 == spec.path || $0.hasPrefix(spec.path.hasSuffix("/") ? spec.path : spec.path + "/") || $0.hasPrefix(spec.path + "#") }
            }
        }
        for spec in request.corpora where blocker(spec) != nil { flagged[spec] = Set(labels[spec.path] ?? []) }

        // The whole sets decide the flagged messages, one engine at a time.
        let wanted = request.corpora.reduce(into: Set<String>()) { $0.formUnion(flagged[$1] ?? []) }
        let paths = Array(Set(request.corpora.filter { !(flagged[$0] ?? []).isEmpty }.map(\.path))).sorted()
        var live: CorpusHits = [:], candidate: CorpusHits = [:]
        if !wanted.isEmpty {
            let liveHasSet = Files.list(request.live).contains { isDatabaseFile($0) && $0 != canaryFileName }
            if liveHasSet {
                live = try scanWhole(request.live, liveDirectory: request.live, options: request.options, paths: paths, only: wanted)
                report.wholeLoads += 1
            }
            candidate = try scanWhole(request.candidate, liveDirectory: request.live, options: request.options, paths: paths, only: wanted)
            report.wholeLoads += 1
        }
        for spec in request.corpora {
            let chosen = flagged[spec] ?? []
            report.corpora.append(CorpusComparison(
                path: spec.path, kind: spec.kind, messages: labels[spec.path]?.count ?? 0,
                mode: blocker(spec) == nil ? "delta" : "whole", reason: blocker(spec), flagged: chosen.count,
                live: live.filter { chosen.contains($0.key) }, candidate: candidate.filter { chosen.contains($0.key) }))
        }
        return report
    }

    /// Loads a small engine (allow lists first, as libclamav loads them) and returns, per
    /// message, the changed names that match (hits of unchanged names are the same in both sets).
    static func scanSmall(_ files: [DeltaFile], names: Set<UInt64>, options: LoadOptions, paths: [String]) throws -> [String: Set<String>] {
        guard files.contains(where: { !$0.allowList && DeltaRole.of($0.path) != .context }) else { return [:] }
        let engine = try ClamEngine()
        for file in files.filter(\.allowList) + files.filter({ !$0.allowList }) {
            try engine.load(file.path, options: options, extraFlags: file.flags)
        }
        try engine.compile()
        let hits = try scan(MailTester(engine: engine, index: SignatureFileIndex(files: [], keys: []), loadSeconds: 0), MessageStream(paths))
        return hits.compactMapValues { signatures in
            let changed = Set(signatures.keys.map(definedName).filter { names.contains(SignatureFileIndex.hash($0)) })
            return changed.isEmpty ? nil : changed
        }
    }

    /// Loads a whole set as clamd does and returns the hits, with their files, of the messages in `only`.
    static func scanWhole(_ directory: String, liveDirectory: String, options: LoadOptions, paths: [String], only: Set<String>) throws -> CorpusHits {
        let engine = try ClamEngine()
        let index = try engine.loadDirectoryIndexed(directory, options: options, liveDirectory: liveDirectory)
        try engine.compile()
        let stream = MessageStream(paths)
        stream.only = only
        return try scan(MailTester(engine: engine, index: index, loadSeconds: 0), stream)
    }

    /// A message that cannot be read or scanned fails the pass: it must not count as clean.
    static func scan(_ tester: MailTester, _ stream: MessageStream) throws -> CorpusHits {
        let collected = Collected()
        _ = tester.run(stream, options: TestOptions()) { collected.add($0) }
        if let failure = collected.failure { throw CorpusError("a message could not be scanned: \(failure)") }
        return collected.hits
    }

    final class Collected: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var hits: CorpusHits = [:]
        private(set) var failure: String?
        func add(_ result: MessageResult) {
            lock.lock()
            defer { lock.unlock() }
            if result.verdict == .error, failure == nil { failure = "\(result.label): \(result.error ?? "scan error")" }
            var signatures: [String: String] = [:]
            for match in result.matches { signatures[match.signature] = match.file ?? "" }
            hits[result.label] = signatures
        }
    }
}

/// Why the corpus child could not compare a corpus.
struct CorpusError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
