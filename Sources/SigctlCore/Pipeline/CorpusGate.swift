import Foundation

/// Compares what the live set and a candidate detect in mail corpora, in a child
/// (`sigctl __scan-corpora`): small engines of the changed signatures pick the messages
/// whose hits can differ, and the whole sets, loaded one at a time, decide those. The
/// sigctl process never holds an engine. Results are kept per candidate, so the ham
/// gate and the detect corpus share one child run.
final class CorpusGate {
    let context: SigctlContext
    let config: Configuration
    let layout: Layout
    let directories: CandidateDirectory
    let canary: Canary
    let runAs: (uid: uid_t, gid: gid_t)?
    /// The child's address-space limit (verify_memory_limit, or the memory budget when smaller).
    let memoryLimit: Int64
    private var results: (key: [String], byCorpus: [CorpusSpec: CorpusComparison])?
    /// The last child's figures, for the debug log and the benchmarks.
    private(set) var lastReport: CorpusScanReport?

    init(context: SigctlContext, config: Configuration, layout: Layout, directories: CandidateDirectory,
         canary: Canary, runAs: (uid: uid_t, gid: gid_t)?, memoryLimit: Int64) {
        self.memoryLimit = memoryLimit
        self.context = context
        self.config = config
        self.layout = layout
        self.directories = directories
        self.canary = canary
        self.runAs = runAs
    }

    /// The comparison of each corpus for the live set with `replacing` installed and `removing` removed.
    func compare(_ corpora: [CorpusSpec], replacing: [String: String], removing: Set<String>) throws -> [CorpusSpec: CorpusComparison] {
        let key = replacing.keys.sorted() + ["-"] + removing.sorted()
        if results?.key != key { results = (key, [:]) }
        let missing = corpora.filter { results?.byCorpus[$0] == nil }
        if !missing.isEmpty {
            for comparison in try run(missing, replacing: replacing, removing: removing) {
                results?.byCorpus[CorpusSpec(path: comparison.path, kind: comparison.kind)] = comparison
            }
        }
        return results?.byCorpus.filter { corpora.contains($0.key) } ?? [:]
    }

    private func run(_ corpora: [CorpusSpec], replacing: [String: String], removing: Set<String>) throws -> [CorpusComparison] {
        let directory = try directories.build(label: "corpus", replacing: replacing, removing: removing, canary: canary, complete: true)
        defer { Files.remove(directory) }
        let scratch = directory + ".scratch"
        defer { Files.remove(scratch) }
        let cache = layout.corpusCache
        for path in [scratch, cache] {
            try Files.makeDirectory(path)
            if let runAs { Self.chownTree(path, to: runAs) }
        }
        let request = CorpusScanRequest(live: layout.databaseDir, candidate: directory, corpora: corpora,
                                        options: config.clamd.loadOptions, scratch: scratch + "/work", cache: cache,
                                        maxDeltaLines: 1_000_000)
        let requestPath = scratch + "/request.json"
        try Files.writeAtomically(try JSONEncoder().encode(request), to: requestPath)
        var arguments = ["__scan-corpora", "--request", requestPath, "--memory-limit", String(memoryLimit)]
        if let runAs { arguments += ["--run-as", "\(runAs.uid):\(runAs.gid)"] }
        let result = try context.runner.run(context.executable, arguments, timeout: config.settings.verifyTimeout * 3, scratch: scratch)
        let names = corpora.map(\.path).joined(separator: ", ")
        if result.timedOut {
            throw CommandError("comparing \(names) did not finish within \(DurationParser.format(config.settings.verifyTimeout * 3))",
                               hint: "raise verify_timeout if this host is slow", exit: .failed)
        }
        guard let report = try? JSONDecoder().decode(CorpusScanReport.self, from: result.output) else {
            let how = result.signalled ? "was killed by signal \(result.status) (often out of memory: the limit is \(memoryLimit >> 20) MiB, from verify_memory_limit or memory_budget)"
                : "exited with status \(result.status) and no report"
            throw CommandError("the child comparing \(names) \(how)\(result.errorTail.isEmpty ? "" : "; its stderr: \(result.errorTail)")",
                               hint: "the live set stays; run `sigctl update -v` to see more", exit: .failed)
        }
        lastReport = report
        context.log.debug("corpora \(names): changed names \(report.changedNames), small-engine lines \(report.deltaLines), whole loads \(report.wholeLoads), \(String(format: "%.1f", report.seconds)) s, peak \(report.peakRSSKiB >> 10) MiB; "
            + report.corpora.map { "\($0.path): \($0.mode)\($0.reason.map { " (\($0))" } ?? ""), \($0.flagged) of \($0.messages) flagged" }.joined(separator: "; "))
        guard report.ok else {
            throw CommandError("comparing \(names) failed: \(report.error ?? "no reason given")",
                               hint: "the live set stays; check the corpus paths, verify_memory_limit and memory_budget", exit: .failed)
        }
        return report.corpora
    }

    /// Hands a directory the child writes to its user, entries included (a cache entry a
    /// root-owned run left must stay prunable). Symlinks are changed, never followed.
    static func chownTree(_ path: String, to owner: (uid: uid_t, gid: gid_t)) {
        lchown(path, owner.uid, owner.gid)
        guard let entries = FileManager.default.enumerator(atPath: path) else { return }
        for case let entry as String in entries { lchown(path + "/" + entry, owner.uid, owner.gid) }
    }
}
