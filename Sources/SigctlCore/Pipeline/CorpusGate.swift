import Foundation

/// Scans mail corpora with the live set and with a candidate, to see what an update
/// changes: new hits on ham (the false-positive gate) and gains or losses on mail
/// that should be detected. Each set is loaded once per run, however many corpora
/// are scanned, and always as the complete directory clamd will load (even with
/// verify_scope = "changed"), so live and candidate compare like for like.
final class CorpusGate {
    /// Per message: signature → database file, for every match.
    typealias Hits = [String: [String: String]]

    let config: Configuration
    let directories: CandidateDirectory
    let canary: Canary
    private var live: MailTester?
    private var candidate: (files: [String], tester: MailTester)?
    private var scans: [String: Hits] = [:]

    init(config: Configuration, directories: CandidateDirectory, canary: Canary) {
        self.config = config
        self.directories = directories
        self.canary = canary
    }

    /// What the live set detects in `corpus`.
    func liveHits(_ corpus: String) throws -> Hits {
        if let cached = scans["live\t" + corpus] { return cached }
        // An empty set (the first install) detects nothing.
        guard Files.list(config.settings.databaseDir).contains(where: { isDatabaseFile($0) && $0 != canaryFileName }) else { return [:] }
        if live == nil {
            live = try MailTester(directory: config.settings.databaseDir, options: config.clamd.loadOptions, feedOfFile: [:])
        }
        let hits = scan(live!, corpus)
        scans["live\t" + corpus] = hits
        return hits
    }

    /// What the live set with `replacing` installed and `removing` removed detects in `corpus`.
    func candidateHits(_ corpus: String, replacing: [String: String], removing: Set<String>) throws -> Hits {
        let key = replacing.keys.sorted() + ["-"] + removing.sorted()
        if candidate?.files != key {
            let directory = try directories.build(label: "corpus", replacing: replacing, removing: removing,
                                                  canary: canary, complete: true)
            defer { Files.remove(directory) }
            candidate = (key, try MailTester(directory: directory, options: config.clamd.loadOptions, feedOfFile: [:]))
            scans = scans.filter { $0.key.hasPrefix("live\t") }
        }
        if let cached = scans["candidate\t" + corpus] { return cached }
        let hits = scan(candidate!.tester, corpus)
        scans["candidate\t" + corpus] = hits
        return hits
    }

    private func scan(_ tester: MailTester, _ corpus: String) -> Hits {
        let collected = ResultBox()
        _ = tester.run(MessageCollector.collect([corpus]), options: TestOptions()) { collected.add($0) }
        return collected.hits
    }

    final class ResultBox: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var hits: Hits = [:]
        func add(_ result: MessageResult) {
            lock.lock()
            defer { lock.unlock() }
            var signatures: [String: String] = [:]
            for match in result.matches { signatures[match.signature] = match.file ?? "" }
            hits[result.label] = signatures
        }
    }

    /// Hits the candidate has and the live set does not: message → [(signature, file)].
    static func newHits(live: Hits, candidate: Hits) -> [String: [(String, String)]] {
        var result: [String: [(String, String)]] = [:]
        for (message, signatures) in candidate {
            let before = live[message] ?? [:]
            let added = signatures.filter { before[$0.key] == nil }.map { ($0.key, $0.value) }.sorted { $0.0 < $1.0 }
            if !added.isEmpty { result[message] = added }
        }
        return result
    }
}
