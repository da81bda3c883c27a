import Foundation

/// Scans a mail corpus with the live set and with a candidate, to see what an
/// update changes: new hits on ham (the false-positive gate) and gains or losses
/// on mail that should be detected.
struct CorpusGate {
    let config: Configuration
    let log: Log

    /// Per message: signature → database file, for every match.
    typealias Hits = [String: [String: String]]

    func scan(directory: String, corpus: String) throws -> Hits {
        // An empty set (the first install) detects nothing.
        guard Files.list(directory).contains(where: { isDatabaseFile($0) && $0 != canaryFileName }) else { return [:] }
        let tester = try MailTester(directory: directory, options: config.clamd.loadOptions, feedOfFile: [:])
        let messages = MessageCollector.collect([corpus])
        let collected = ResultBox()
        _ = tester.run(messages, options: TestOptions()) { result in collected.add(result) }
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
