import Foundation

/// What the gates made of a candidate.
public struct GateResult: Sendable {
    /// The candidate that passed: the rejected feeds' files taken out.
    public var candidate: Candidate
    /// The verification of exactly that candidate (nil when nothing was left to verify).
    public var verification: VerifyReport?
    /// Feeds whose new files were refused, with the reason (one per feed).
    public var rejected: [String: String] = [:]
    /// Single files refused by the silencing policy (name → reason); the feed's other files go on.
    public var rejectedFiles: [String: String] = [:]
    public var warnings: [String] = []
    public var detectCorpus: [String: CorpusDelta]?
    /// Signatures libclamav loaded from each new file.
    public var loaded: [String: Int] = [:]
    /// Why only the changed files plus the canary were checked (the memory budget), if so.
    public var memoryFallback: String?
    /// The corpus child's last report (ham_corpus, detect_corpus), when one ran.
    public var corpora: CorpusScanReport?
    public var seconds = 0.0

    /// Something is left to install, and it loads.
    public var installable: Bool { !candidate.isEmpty && verification?.ok == true }
}

/// The checks a candidate set passes before it may go live: the silencing policy,
/// load + compile + canary in the verification child (blaming the feed that breaks
/// the set), the false-positive gate, the detect-corpus delta and the count check.
struct Gates {
    let context: SigctlContext
    let config: Configuration
    let layout: Layout
    let force: Bool
    /// Set by `run` from the memory budget: what verification loads, the budget, and why
    /// only the changed files are checked (if so).
    var scope: VerifyScope? = nil
    var budget: MemoryBudget? = nil
    var fallbackReason: String? = nil

    init(context: SigctlContext, config: Configuration, layout: Layout, force: Bool) {
        self.context = context
        self.config = config
        self.layout = layout
        self.force = force
    }

    var verifier: SetVerifier {
        var limit = config.settings.verifyMemoryLimit
        if let budget, scope == .set { limit = min(limit, budget.bytes) }
        return SetVerifier(context: context, memoryLimit: limit, timeout: config.settings.verifyTimeout,
                           options: config.clamd.loadOptions, runAs: SetVerifier.unprivilegedOwner(of: layout.databaseDir),
                           liveDirectory: layout.databaseDir,
                           limitName: limit < config.settings.verifyMemoryLimit ? "the memory budget" : "verify_memory_limit")
    }
    var directories: CandidateDirectory { CandidateDirectory(layout: layout, scope: scope ?? config.settings.verifyScope) }

    func run(_ candidate: Candidate, state: State) throws -> GateResult {
        guard scope != nil else { return try budgeted(state: state).run(candidate, state: state) }
        let start = context.clock.now()
        var result = GateResult(candidate: candidate)
        if geteuid() == 0, SetVerifier.unprivilegedOwner(of: layout.databaseDir) == nil {
            result.warnings.append("\(layout.databaseDir) belongs to root, so the verification child parses downloads as root; make it belong to clamav (chown clamav: \(layout.databaseDir)) as Debian's clamav-daemon has it")
        }
        result.rejectedFiles = policy(candidate, state: state)
        var current = candidate
        // A publisher's set is not split: one refused file holds the whole feed back.
        let held = Set(candidate.files.filter { result.rejectedFiles[$0.name] != nil && candidate.wholeFeeds.contains($0.feed) }.map(\.feed))
        for file in candidate.files where held.contains(file.feed) && result.rejectedFiles[file.name] == nil {
            let culprit = candidate.files.first { $0.feed == file.feed && result.rejectedFiles[$0.name] != nil }!.name
            result.rejectedFiles[file.name] = "held back with \(culprit): a publisher's set goes in whole or not at all"
        }
        current.files.removeAll { result.rejectedFiles[$0.name] != nil }
        if !held.isEmpty { current = current.without(feeds: held) }
        guard !current.isEmpty else {
            result.candidate = current
            result.seconds = context.clock.now().timeIntervalSince(start)
            return result
        }
        var verified = try verify(current, label: "all")
        if !verified.ok, verified.outOfMemory, scope == .set, let budget, budget.bytes < config.settings.verifyMemoryLimit {
            // The whole set did not fit the budget after all: check the changed files instead.
            var fallback = self
            fallback.scope = .changed
            fallback.fallbackReason = "the whole-set check ran out of the memory budget of \(budget.mib) MiB (\(budget.source)); "
                + MemoryBudget.fallbackText
            return try fallback.run(candidate, state: state)
        }
        if !verified.ok {
            let blamed = try blame(current, failure: verified)
            result.rejected.merge(blamed) { a, _ in a }
            (current, verified) = try reverify(current.without(feeds: Set(blamed.keys)), label: "rest",
                                           reason: "the remaining set does not load either", into: &result)
        }
        if current.isEmpty || !verified.ok {
            result.candidate = current
            result.verification = current.isEmpty ? nil : verified
            result.seconds = context.clock.now().timeIntervalSince(start)
            return result
        }
        // The false-positive gate: ham the candidate detects and the live set does not.
        let corpora = CorpusGate(context: context, config: config, layout: layout, directories: directories,
                                 canary: current.canary, runAs: SetVerifier.unprivilegedOwner(of: layout.databaseDir),
                                 memoryLimit: min(config.settings.verifyMemoryLimit, budget?.bytes ?? Int64.max))
        let gated = try hamGate(current, corpora: corpora)
        if !gated.rejected.isEmpty {
            result.rejected.merge(gated.rejected) { a, _ in a }
            (current, verified) = try reverify(current.without(feeds: Set(gated.rejected.keys)), label: "after-gate",
                                           reason: "the set without the gated feeds does not load", into: &result)
        }
        result.warnings += gated.warnings
        if !current.isEmpty && verified.ok {
            let (deltas, warnings) = try detectDelta(current, corpora: corpora)
            result.detectCorpus = deltas
            result.warnings += warnings
            result.loaded = verified.fileCounts ?? [:]
            result.warnings += countWarnings(current, loaded: result.loaded)
            result.warnings += removalWarnings(current, state: state)
        }
        result.corpora = corpora.lastReport
        result.memoryFallback = fallbackReason
        result.candidate = current
        result.verification = current.isEmpty ? nil : verified
        result.seconds = context.clock.now().timeIntervalSince(start)
        return result
    }

    /// This run's gates with the memory budget applied: when a whole-set check would not
    /// fit, verification checks the changed files plus the canary (as verify_scope = "changed").
    func budgeted(state: State) -> Gates {
        var gates = self
        gates.scope = config.settings.verifyScope
        let host = context.hostMemory(config.clamdAddress)
        guard config.settings.verifyScope == .set,
              let budget = MemoryBudget.resolve(setting: config.settings.memoryBudget, host: host) else { return gates }
        gates.budget = budget
        let need = MemoryBudget.need(signatures: state.live?.signatures ?? 0, clamdRSS: host.clamdRSS)
        if need > budget.bytes {
            gates.scope = .changed
            gates.fallbackReason = "a whole-set check needs about \(need >> 20) MiB, more than the memory budget of \(budget.mib) MiB (\(budget.source)); "
                + MemoryBudget.fallbackText
        }
        return gates
    }

    /// Verifies what is left after some feeds were taken out; if that fails too, every
    /// remaining feed is rejected with `reason` and nothing is left.
    func reverify(_ candidate: Candidate, label: String, reason: String, into result: inout GateResult) throws -> (Candidate, VerifyReport) {
        guard !candidate.isEmpty else { return (candidate, VerifyReport(ok: true, stage: .none, signatures: 0, error: nil, messages: [],
                                                                        loadSeconds: 0, compileSeconds: 0, peakRSSKiB: 0, canaryVerdict: nil)) }
        let verified = try verify(candidate, label: label)
        guard !verified.ok else { return (candidate, verified) }
        let feeds = Set(candidate.files.map(\.feed))
        for feed in feeds { result.rejected[feed] = "\(reason): \(verified.summary)" }
        return (candidate.without(feeds: feeds), verified)
    }

    /// The silencing policy (file → reason), with the files each feed and the local admin have in the set.
    func policy(_ candidate: Candidate, state: State) -> [String: String] {
        let staged = candidate.files.filter { $0.origin == .download }
        guard staged.contains(where: { SilencingPolicy.kind(of: $0.name) != .signatures }) else { return [:] }
        var own: [String: [String]] = [:]
        let replacing = candidate.replacing
        for name in Files.list(layout.databaseDir) where isDatabaseFile(name) && name != canaryFileName && replacing[name] == nil {
            let owner = state.live?.owned.contains(name) == true ? state.record(of: name)?.feed ?? "sigctl" : "a local file"
            own[owner, default: []].append(layout.live(name))
        }
        for file in candidate.files { own[file.feed, default: []].append(file.path) }
        var rejected: [String: String] = [:]
        for feed in Set(staged.map(\.feed)) {
            var rest = own
            rest[feed] = nil
            let found = SilencingPolicy.check(staged.filter { $0.feed == feed }, config: config,
                                              ownFiles: [feed: own[feed] ?? []], others: rest)
            rejected.merge(found) { a, _ in a }
        }
        return rejected
    }

    /// Verifies a candidate in the child. Failing to build its directory (a full state
    /// directory) is this host's problem, not a feed's: it is thrown, and the run fails.
    func verify(_ candidate: Candidate, label: String) throws -> VerifyReport {
        let dir: String
        do {
            dir = try directories.build(label: label, replacing: candidate.replacing, removing: candidate.removing,
                                        canary: candidate.canary)
        } catch {
            throw CommandError("cannot build the candidate set in \(layout.staging): \(error)",
                               hint: "free space in the state directory; the next run tries again", exit: .failed)
        }
        do {
            defer { Files.remove(dir) }
            let report = verifier.verify(directory: dir, canary: candidate.canary, scratch: dir + ".scratch")
            Files.remove(dir + ".scratch")
            context.log.debug("verified \(label): ok=\(report.ok) signatures=\(report.signatures) load=\(report.loadSeconds)s compile=\(report.compileSeconds)s rss=\(report.peakRSSKiB)KiB uid=\(report.uid.map(String.init) ?? "?")")
            return report
        }
    }

    /// Finds the feeds whose new files break the set: each feed's files are tried alone
    /// on top of the live set. If the live set fails on its own, or no single feed fails,
    /// every feed with new files is blamed with the reason.
    func blame(_ candidate: Candidate, failure: VerifyReport) throws -> [String: String] {
        let feeds = Array(Set(candidate.files.map(\.feed)).union(candidate.replaced.values)).sorted()
        var empty = candidate
        empty.files = []
        empty.replaced = [:]
        empty.drops = [:]
        let live = try verify(empty, label: "live")
        if !live.ok {
            let reason = "the live set itself no longer loads, so nothing can be added to it: \(live.summary); fix or remove the file libclamav names"
            return Dictionary(uniqueKeysWithValues: feeds.map { ($0, reason) })
        }
        if feeds.count == 1 { return [feeds[0]: failure.summary] }
        var blamed: [String: String] = [:]
        for feed in feeds {
            let alone = candidate.without(feeds: Set(feeds).subtracting([feed]))
            var only = alone
            only.drops = [:]
            let report = try verify(only, label: "feed")
            if !report.ok { blamed[feed] = report.summary }
        }
        if blamed.isEmpty {
            let reason = "the new files of \(feeds.joined(separator: ", ")) load alone but not together: \(failure.summary)"
            return Dictionary(uniqueKeysWithValues: feeds.map { ($0, reason) })
        }
        return blamed
    }

    /// The ham corpus that gates `feed`'s updates: its own, else the global one.
    func hamCorpus(for feed: String) -> String? {
        config.feed(named: feed)?.hamCorpus ?? config.settings.hamCorpus
    }

    /// Feeds whose new files make ham detected that the live set lets through, naming messages and signatures.
    /// When the comparison itself fails, the feeds it gates wait (the live set stays) and the error says why.
    func hamGate(_ candidate: Candidate, corpora gate: CorpusGate) throws -> (rejected: [String: String], warnings: [String]) {
        var corpora: [String: Set<String>] = [:]
        for feed in Set(candidate.files.filter { $0.origin == .download }.map(\.feed)) {
            if let corpus = hamCorpus(for: feed) { corpora[corpus, default: []].insert(feed) }
        }
        var rejected: [String: String] = [:]
        var warnings: [String] = []
        guard !corpora.isEmpty else { return ([:], []) }
        for (corpus, feeds) in corpora where !Files.exists(corpus) {
            warnings.append("ham_corpus \(corpus) does not exist; the false-positive gate did not run for \(feeds.sorted().joined(separator: ", "))")
            corpora[corpus] = nil
        }
        guard !corpora.isEmpty else { return ([:], warnings) }
        // The detect corpus rides along, so one child answers both.
        var specs = corpora.keys.sorted().map { CorpusSpec(path: $0, kind: .ham) }
        if let detect = config.settings.detectCorpus, Files.exists(detect) { specs.append(CorpusSpec(path: detect, kind: .detect)) }
        let compared: [CorpusSpec: CorpusComparison]
        do {
            compared = try gate.compare(specs, replacing: candidate.replacing, removing: candidate.removing)
        } catch let error as CommandError {
            for feed in corpora.values.flatMap({ $0 }) {
                rejected[feed] = "the false-positive gate could not run: \(error.message); \(error.hint ?? "the next run tries again")"
            }
            return (rejected, warnings)
        }
        let fileToFeed = Dictionary(candidate.files.map { ($0.name, $0.feed) }, uniquingKeysWith: { a, _ in a })
        for (corpus, feeds) in corpora.sorted(by: { $0.key < $1.key }) {
            guard let comparison = compared[CorpusSpec(path: corpus, kind: .ham)] else { continue }
            let hits = CorpusComparison.newHits(live: comparison.live, candidate: comparison.candidate)
            var byFeed: [String: [String]] = [:]
            for (message, signatures) in hits {
                for (signature, file) in signatures {
                    if let feed = fileToFeed[file], feeds.contains(feed) { byFeed[feed, default: []].append("\(message) (\(signature))") }
                }
            }
            for (feed, items) in byFeed.sorted(by: { $0.key < $1.key }) {
                let list = items.sorted()
                let shown = list.prefix(5).joined(separator: ", ") + (list.count > 5 ? " and \(list.count - 5) more" : "")
                if force {
                    warnings.append("\(feed): the update makes \(list.count) ham message(s) in \(corpus) detected (accepted with --force): \(shown)")
                } else {
                    rejected[feed] = "false-positive gate: the update makes \(list.count) ham message(s) in \(corpus) detected: \(shown); check them with `sigctl test`, then accept with --force or `sigctl allow`"
                }
            }
        }
        return (rejected, warnings)
    }

    /// Counts, per feed, the messages of detect_corpus the update newly detects or no longer detects.
    func detectDelta(_ candidate: Candidate, corpora gate: CorpusGate) throws -> ([String: CorpusDelta]?, [String]) {
        guard let corpus = config.settings.detectCorpus else { return (nil, []) }
        guard Files.exists(corpus) else { return (nil, ["detect_corpus \(corpus) does not exist"]) }
        let spec = CorpusSpec(path: corpus, kind: .detect)
        let comparison: CorpusComparison
        do {
            guard let found = try gate.compare([spec], replacing: candidate.replacing, removing: candidate.removing)[spec] else { return (nil, []) }
            comparison = found
        } catch let error as CommandError {
            return (nil, ["detect_corpus \(corpus) was not compared: \(error.message)"])
        }
        let live = comparison.live, next = comparison.candidate
        let newFeeds = Dictionary(candidate.files.map { ($0.name, $0.feed) }, uniquingKeysWith: { a, _ in a })
        let liveFeeds = FeedAttribution.map(config: config).merging(candidate.drops) { a, _ in a }
        var deltas: [String: CorpusDelta] = [:]
        for message in Set(live.keys).union(next.keys) {
            let before = live[message] ?? [:], after = next[message] ?? [:]
            if before.isEmpty, let file = after.values.sorted().first {
                deltas[newFeeds[file] ?? liveFeeds[file] ?? file, default: CorpusDelta()].newlyDetected += 1
            } else if after.isEmpty, let file = before.values.sorted().first {
                deltas[liveFeeds[file] ?? newFeeds[file] ?? file, default: CorpusDelta()].noLongerDetected += 1
            }
        }
        return (deltas, [])
    }

    /// A new version that only removes signatures is installed (a withdrawn false positive
    /// must not wait), but said: a mirror serving an older copy looks the same.
    func removalWarnings(_ candidate: Candidate, state: State) -> [String] {
        candidate.files.compactMap { file in
            guard file.origin == .download, state.live?.owned.contains(file.name) == true, !ContentChecks.isContainer(file.name),
                  file.size < 64 << 20, (Files.size(layout.live(file.name)) ?? Int64.max) < 64 << 20 else { return nil }
            func lines(_ path: String) -> Set<Substring>? {
                guard let data = Files.readRegular(path, limit: 64 << 20) else { return nil }
                return Set(String(decoding: data, as: UTF8.self).split(separator: "\n").filter { !$0.hasPrefix("#") })
            }
            guard let new = lines(file.path), let old = lines(layout.live(file.name)), new.isStrictSubset(of: old) else { return nil }
            return "\(file.feed)/\(file.name): the new version only removes \(old.count - new.count) signature(s) and adds none; if upstream did not mean to withdraw them, a mirror may be serving an older copy"
        }
    }

    /// A big shortfall between what libclamav loads from a new file and the signatures
    /// the file holds is a warning: libclamav skips signatures newer than its functionality
    /// level and types clamd.conf's options turn off, so the file protects less than it seems.
    func countWarnings(_ candidate: Candidate, loaded: [String: Int]) -> [String] {
        candidate.files.compactMap { file in
            guard let count = loaded[file.name], ContentChecks.countsOnePerLine(file.name),
                  file.signatures > 0, count * 2 < file.signatures else { return nil }
            return "\(file.feed)/\(file.name): libclamav \(ClamAV.version) loads only \(count) of its \(file.signatures) signatures; the rest need a newer libclamav or are of a type clamd.conf turns off"
        }
    }
}
