import Foundation

public struct UpdateOptions: Sendable {
    /// Only these feeds (and ignore their interval). Empty: every enabled feed that is due.
    public var feeds: [String] = []
    /// Accept count collapses and ignore stored validators.
    public var force = false
    /// Seconds to wait after taking the lock, before any request.
    public var sleepSeconds = 0
    /// False for `sigctl allow`: change only sigctl's own allow list, fetch nothing.
    public var fetch = true
    /// Signatures to add to / remove from the allow list in this run.
    public var allow: [String: AllowEntry] = [:]
    public var disallow: [String] = []

    public init() {}
}

/// `sigctl update`: lock, sleep, fetch, check, build a candidate, verify, install,
/// reload and prove, record, report.
public final class UpdateRunner {
    let config: Configuration
    let log: Log
    let options: UpdateOptions
    let manager: SetManager
    let store: StateStore
    var state = State()
    var report = UpdateReport()
    /// Feed files not fetched because a file sigctl does not own has their name.
    var conflicts: [String: [FileReport]] = [:]
    /// Official (libfreshclam) feeds due in this run.
    var officialDue: [Feed] = []
    let now = Date()

    public init(config: Configuration, log: Log, options: UpdateOptions, executable: String = SetVerifier.currentExecutable) {
        self.config = config
        self.log = log
        self.options = options
        self.manager = SetManager(config: config, log: log, executable: executable)
        self.store = StateStore(directory: config.settings.stateDir)
    }

    /// An accepted download, on its way into a candidate.
    struct NewFile {
        var feed: String
        var file: FeedFile
        var download: DownloadedFile
        var previous: FileState?
    }

    public func run() throws -> UpdateReport {
        for name in options.feeds {
            guard let feed = config.feed(named: name) else {
                throw CommandError("there is no feed named '\(name)'", hint: "`sigctl feeds` lists them", exit: .usage)
            }
            guard feed.enabled else {
                throw CommandError("feed '\(name)' is disabled", hint: "set enabled = true in \(feed.source) first", exit: .usage)
            }
        }
        if config.clamd.loadOptions.officialDatabaseOnly && config.feeds.contains(where: \.enabled) {
            throw CommandError("\(config.clamd.path) has OfficialDatabaseOnly yes: clamd ignores every third-party database and sigctl's canary",
                               hint: "set OfficialDatabaseOnly no, or disable the third-party feeds", exit: .config)
        }
        let lock = try RunLock(stateDir: config.settings.stateDir)
        defer { withExtendedLifetime(lock) {} }
        try manager.prepare()
        state = try store.load()
        try manager.recoverInterruptedInstall(&state, store: store)
        try applyAllowChanges()
        if options.sleepSeconds > 0 {
            log.info("waiting \(options.sleepSeconds)s before contacting mirrors (sleep setting)")
            Thread.sleep(forTimeInterval: TimeInterval(options.sleepSeconds))
        }

        let fetchStart = Date()
        let (jobs, notDue) = options.fetch ? plan() : ([], [:])
        let fetcher = Fetcher(settings: config.settings, backoffs: state.hosts, scratch: manager.staging + "/downloads", log: log)
        let outcomes = fetcher.run(jobs)
        state.hosts = fetcher.backoffs.filter { $0.value.until > now }
        report.phases["fetch"] = Date().timeIntervalSince(fetchStart)
        report.phases["check"] = fetcher.checkSeconds

        var fileReports: [String: [FileReport]] = conflicts
        var feedMessages: [String: String] = notDue
        var newFiles: [NewFile] = []
        for (job, outcome) in zip(jobs, outcomes) {
            let feed = job.feed.name, name = job.file.name
            var entry = FileReport(name: name, status: .unchanged, signatures: job.previous?.signatures,
                                   previousSignatures: job.previous?.signatures, size: job.previous?.size)
            switch outcome {
            case .unchanged(let mirror):
                entry.mirror = mirror
            case .downloaded(let download):
                if let previous = job.previous, previous.sha256 == download.sha256, isInstalled(name) {
                    // Same bytes under new validators: remember them, install nothing.
                    update(feed: feed, file: name) { $0.etag = download.etag; $0.lastModified = download.lastModified; $0.mirror = download.mirror }
                    entry.mirror = download.mirror
                } else {
                    newFiles.append(NewFile(feed: feed, file: job.file, download: download, previous: job.previous))
                    entry.status = .updated
                    entry.signatures = download.signatures
                    entry.size = download.size
                    entry.mirror = download.mirror
                }
            case .failed(let message):
                entry.status = .failed
                entry.message = message
            case .rejected(let message):
                entry.status = .rejected
                entry.message = message
            case .deferred(let message):
                entry.status = .not_due
                entry.message = message
            }
            fileReports[feed, default: []].append(entry)
        }
        // A feed counts as checked when no file failed to arrive: a network failure
        // is retried on the next run (back-offs still keep sigctl away from hosts
        // that asked it to wait); a rejected file waits for the feed's interval.
        var drops = filesToDrop()
        var adopting: Set<String> = []
        fetchOfficial(into: &newFiles, reports: &fileReports, drops: &drops, adopting: &adopting)
        try stageAllowList(into: &newFiles, reports: &fileReports, drops: &drops)
        for feed in Set(jobs.map(\.feed.name)).union(officialDue.map(\.name))
        where !(fileReports[feed] ?? []).contains(where: { $0.status == .failed || $0.status == .not_due }) {
            update(feed: feed) { $0.lastCheck = self.now }
        }

        var installedNew: [NewFile] = []
        if !newFiles.isEmpty || !drops.isEmpty {
            installedNew = try installChanges(newFiles, drops: drops, adopting: adopting, fileReports: &fileReports)
        } else if let live = state.live, !live.confirmed {
            confirmPending(live)
        }

        for item in installedNew {
            update(feed: item.feed, file: item.file.name) {
                $0.etag = item.download.etag
                $0.lastModified = item.download.lastModified
                $0.mirror = item.download.mirror
                $0.sha256 = item.download.sha256
                $0.size = item.download.size
                $0.signatures = item.download.signatures
                $0.lastChange = self.now
                $0.lastError = nil
            }
            update(feed: item.feed) { $0.lastChange = self.now }
        }
        for name in drops.keys { state.feeds[drops[name]!]?.files[name] = nil }

        assemble(fileReports: fileReports, feedMessages: feedMessages, drops: drops)
        state.lastRun = now
        report.exitCode = exitStatus().rawValue
        state.lastResult = report.exitCode == 0 ? "ok" : "exit \(report.exitCode)"
        manager.prune(state: state)
        try store.save(state)
        return report
    }

    // MARK: planning

    /// Which files to fetch now, and why the other enabled feeds are not fetched.
    func plan() -> ([FetchJob], [String: String]) {
        conflicts = [:]
        officialDue = []
        var jobs: [FetchJob] = []
        var notDue: [String: String] = [:]
        let selected = options.feeds.isEmpty ? config.feeds.filter(\.enabled) : config.feeds.filter { options.feeds.contains($0.name) }
        for feed in selected {
            let feedState = state.feeds[feed.name]
            if options.feeds.isEmpty, let last = feedState?.lastCheck, now.timeIntervalSince(last) < TimeInterval(feed.interval) {
                let next = last.addingTimeInterval(TimeInterval(feed.interval))
                notDue[feed.name] = "next check after \(Fetcher.format(next)) (interval \(DurationParser.format(feed.interval)))"
                continue
            }
            if feed.official != nil {
                if let until = state.coolDowns?[feed.name], until > now {
                    notDue[feed.name] = "the mirror put this client on cool-down until \(Fetcher.format(until)); no request goes out before then"
                } else {
                    officialDue.append(feed)
                }
                continue
            }
            let hosts = feed.mirrors.map(Fetcher.host(of:))
            let waiting = hosts.compactMap { state.backoff(forHost: $0, now: now) }
            if !hosts.isEmpty, waiting.count == hosts.count {
                let until = waiting.map(\.until).min()!
                notDue[feed.name] = "every mirror asked sigctl to wait (HTTP \(waiting[0].status)); next request after \(Fetcher.format(until))"
                continue
            }
            for file in feed.enabledFiles {
                if let conflict = foreignFile(file.name) {
                    conflicts[feed.name, default: []].append(conflict)
                    continue
                }
                // Validators are only worth sending for a file that is actually installed.
                let previous = feedState?.files[file.name]
                let usable = isInstalled(file.name) ? previous : previous.map { var p = $0; p.etag = nil; p.lastModified = nil; return p }
                jobs.append(FetchJob(feed: feed, file: file, previous: usable, force: options.force))
            }
        }
        return (jobs, notDue)
    }

    /// A report for a feed file whose name is taken by a file sigctl does not own.
    func foreignFile(_ name: String) -> FileReport? {
        guard !(state.live?.owned.contains(name) ?? false), Files.exists(config.settings.databaseDir + "/" + name) else { return nil }
        return FileReport(name: name, status: .rejected,
                          message: "\(config.settings.databaseDir)/\(name) exists and was not installed by sigctl; sigctl never overwrites files it does not own (freshclam's or yours): remove or rename it, or disable this file in the feed")
    }

    func isInstalled(_ name: String) -> Bool {
        (state.live?.owned.contains(name) ?? false) && Files.exists(config.settings.databaseDir + "/" + name)
    }

    /// sigctl-owned files that no enabled feed delivers any more (name → feed).
    func filesToDrop() -> [String: String] {
        guard let live = state.live, let manifest = manager.generations.manifest(live.generation) else { return [:] }
        var wanted: Set<String> = []
        for feed in config.feeds where feed.enabled { wanted.formUnion(feed.enabledFiles.map(\.name)) }
        var drops: [String: String] = [:]
        if !(state.allowed ?? [:]).isEmpty { wanted.insert(allowListFileName) }
        for (name, file) in manifest.files where !wanted.contains(name) {
            if let feed = config.feed(named: file.feed), feed.enabled, let official = feed.official,
               let database = official.database(of: name), officialDatabases(official).contains(database) {
                continue
            }
            drops[name] = file.feed
        }
        return drops
    }

    /// Records `sigctl allow` changes in state (under the lock, before anything else).
    func applyAllowChanges() throws {
        guard !options.allow.isEmpty || !options.disallow.isEmpty else { return }
        var allowed = state.allowed ?? [:]
        for name in options.disallow where allowed.removeValue(forKey: name) == nil {
            throw CommandError("\(name) is not on sigctl's allow list", hint: "`sigctl status` lists the allowed signatures", exit: .usage)
        }
        for (name, entry) in options.allow { allowed[name] = entry }
        state.allowed = allowed
        try store.save(state)
    }

    /// sigctl's allow list as it should be; staged as a new file when it differs from the installed one.
    func stageAllowList(into newFiles: inout [NewFile], reports: inout [String: [FileReport]], drops: inout [String: String]) throws {
        let allowed = (state.allowed ?? [:]).keys.sorted()
        let installed = config.settings.databaseDir + "/" + allowListFileName
        let owned = state.live?.owned.contains(allowListFileName) ?? false
        if allowed.isEmpty {
            if owned { drops[allowListFileName] = "sigctl" }
            return
        }
        let content = Data((allowed.joined(separator: "\n") + "\n").utf8)
        if owned, FileManager.default.contents(atPath: installed) == content { return }
        let path = manager.staging + "/allow/" + allowListFileName
        try Files.makeDirectory(manager.staging + "/allow")
        try Files.writeAtomically(content, to: path)
        let download = DownloadedFile(path: path, etag: nil, lastModified: nil, mirror: "local", sha256: try ClamAV.hash("sha256", content),
                                      size: Int64(content.count), signatures: allowed.count)
        newFiles.append(NewFile(feed: "sigctl", file: FeedFile(name: allowListFileName), download: download,
                                previous: state.feeds["sigctl"]?.files[allowListFileName]))
        reports["sigctl", default: []].append(FileReport(name: allowListFileName, status: .updated, signatures: allowed.count,
                                                         size: download.size, message: nil))
    }

    /// The configured databases, without bytecode when clamd.conf has Bytecode no.
    func officialDatabases(_ official: OfficialSettings) -> [String] {
        official.databases.filter { $0 != "bytecode" || config.clamd.loadOptions.bytecode }
    }

    /// Runs libfreshclam for each due official feed and turns its updates into new files for the candidate.
    func fetchOfficial(into newFiles: inout [NewFile], reports: inout [String: [FileReport]],
                       drops: inout [String: String], adopting: inout Set<String>) {
        for feed in officialDue {
            if let conflict = FreshclamDetector.conflict(databaseDir: config.settings.databaseDir) {
                reports[feed.name, default: []].append(FileReport(
                    name: "official databases", status: .failed,
                    message: "\(conflict), and two updaters on one directory break sets; sigctl leaves the official files alone until you choose: stop and disable freshclam (systemctl disable --now clamav-freshclam) to let sigctl manage them, or set enabled = false in \(feed.source) to keep freshclam"))
                continue
            }
            let databases = officialDatabases(feed.official ?? OfficialSettings())
            let fetcher = OfficialFetcher(settings: config.settings, feed: feed, executable: manager.verifier.executable, log: log)
            let (outcomes, coolDown) = fetcher.run(databases: databases)
            if state.coolDowns == nil { state.coolDowns = [:] }
            state.coolDowns?[feed.name] = coolDown.flatMap { $0 > now ? $0 : nil }
            for outcome in outcomes {
                var entry = FileReport(name: outcome.newFiles.count == 1 ? outcome.newFiles.keys.first! : outcome.database,
                                       status: outcome.status, message: outcome.message)
                var accepted: [NewFile] = []
                do {
                    for (name, path) in outcome.newFiles.sorted(by: { $0.key < $1.key }) {
                        let signatures = try ContentChecks.check(path: path, name: name, contentType: nil)
                        let download = DownloadedFile(path: path, etag: nil, lastModified: nil, mirror: feed.mirrors.first ?? "",
                                                      sha256: try ClamAV.hashFile("sha256", path: path),
                                                      size: Files.size(path) ?? 0, signatures: signatures)
                        accepted.append(NewFile(feed: feed.name, file: FeedFile(name: name), download: download,
                                                previous: state.feeds[feed.name]?.files[name]))
                        entry.signatures = signatures
                        entry.size = download.size
                    }
                } catch {
                    entry.status = .rejected
                    entry.message = "\(error)"
                    accepted = []
                }
                if entry.status == .updated {
                    newFiles += accepted
                    for name in outcome.removed { drops[name] = feed.name }
                    adopting.formUnion(accepted.map(\.file.name) + outcome.removed)
                }
                reports[feed.name, default: []].append(entry)
            }
        }
    }

    // MARK: candidate, verify, install, reload

    /// Verifies the new files with the live set, drops the feeds that break it,
    /// installs the rest and proves the reload. Returns the files that went live.
    func installChanges(_ candidates: [NewFile], drops: [String: String], adopting: Set<String>,
                        fileReports: inout [String: [FileReport]]) throws -> [NewFile] {
        var accepted = candidates
        let generation = state.nextGeneration
        state.nextGeneration += 1
        let canary = try Canary.make(generation: generation)
        let verifyStart = Date()
        var verified = verifyCandidate(accepted, drops: drops, canary: canary, label: "all")
        if !verified.ok {
            let blamed = attribute(accepted, canary: canary, failure: verified)
            for (feed, reason) in blamed { reject(feed: feed, reason: reason, in: &fileReports, among: accepted) }
            accepted.removeAll { blamed[$0.feed] != nil }
            if !accepted.isEmpty || !drops.isEmpty {
                verified = verifyCandidate(accepted, drops: drops, canary: canary, label: "rest")
                if !verified.ok {
                    let reason = "the remaining set does not load either: \(verified.summary)"
                    for feed in Set(accepted.map(\.feed)) { reject(feed: feed, reason: reason, in: &fileReports, among: accepted) }
                    accepted = []
                }
            }
            if accepted.isEmpty && (drops.isEmpty || !verified.ok) {
                report.phases["verify"] = Date().timeIntervalSince(verifyStart)
                return []
            }
        }
        // The false-positive gate: ham the candidate detects and the live set does not.
        let corpora = CorpusGate(config: config, manager: manager, canary: canary)
        if try gateOnHam(&accepted, drops: drops, corpora: corpora, fileReports: &fileReports) {
            if accepted.isEmpty && drops.isEmpty {
                report.phases["verify"] = Date().timeIntervalSince(verifyStart)
                return []
            }
            verified = verifyCandidate(accepted, drops: drops, canary: canary, label: "after-gate")
            guard verified.ok else {
                let reason = "the set without the gated feeds does not load: \(verified.summary)"
                for feed in Set(accepted.map(\.feed)) { reject(feed: feed, reason: reason, in: &fileReports, among: accepted) }
                report.phases["verify"] = Date().timeIntervalSince(verifyStart)
                return []
            }
        }
        try measureDetectCorpus(accepted, drops: drops, corpora: corpora)
        report.phases["verify"] = Date().timeIntervalSince(verifyStart)
        compareCounts(accepted, loaded: verified.fileCounts ?? [:], fileReports: &fileReports)

        // The new generation: every sigctl-owned feed file in the new set.
        let installStart = Date()
        let previousManifest = state.live.flatMap { manager.generations.manifest($0.generation) }
        var sources: [String: String] = [:]
        var files: [String: GenerationFile] = [:]
        for (name, file) in previousManifest?.files ?? [:] where drops[name] == nil {
            let kept = manager.generations.directory(previousManifest!.id) + "/" + name
            sources[name] = Files.exists(kept) ? kept : config.settings.databaseDir + "/" + name
            files[name] = file
        }
        for item in accepted {
            sources[item.file.name] = item.download.path
            files[item.file.name] = GenerationFile(feed: item.feed, sha256: item.download.sha256,
                                                   size: item.download.size, signatures: item.download.signatures)
        }
        let manifest = GenerationManifest(id: generation, created: now, reason: "update", files: files,
                                          loadedSignatures: verified.signatures)
        try manager.generations.create(manifest, sources: sources)
        let genDir = manager.generations.directory(generation)
        let previousLive = state.live
        let live = try manager.activate(generation: generation,
                                        files: Dictionary(uniqueKeysWithValues: files.keys.map { ($0, genDir + "/" + $0) }),
                                        canary: canary, signatures: verified.signatures, state: &state, store: store,
                                        adopting: adopting)
        report.phases["install"] = Date().timeIntervalSince(installStart)
        report.installed = true
        report.generation = live.generation
        report.signatures = verified.signatures
        report.warnings += manager.clamdWarnings()

        let reloadStart = Date()
        let outcome = manager.reload(canary, state: &state, store: store)
        report.phases["reload"] = Date().timeIntervalSince(reloadStart)
        report.reload = ReloadReport(outcome, canary: canary, timeout: config.settings.reloadTimeout,
                                     unreachableNote: "the new set stays installed, clamd loads it when it starts, and the next run confirms it")
        switch outcome {
        case .unreachable:
            report.errors.append("clamd did not confirm the reload: \(report.reload.message!)")
        case .notConfirmed:
            report.reload.result = "rolled_back"
            report.reload.message! += "; " + restore(previousLive)
            report.errors.append("clamd did not load the new set: \(report.reload.message!); check clamd's log")
            return []
        case .confirmed, .skipped:
            break
        }
        return accepted
    }

    /// Compares what libclamav loads from each new file with the signatures the file holds.
    /// A big shortfall is a warning: libclamav skips signatures newer than its functionality
    /// level and types clamd.conf's options turn off, so the file protects less than it seems.
    func compareCounts(_ files: [NewFile], loaded: [String: Int], fileReports: inout [String: [FileReport]]) {
        for item in files {
            let name = item.file.name
            guard let count = loaded[name] else { continue }
            if let index = fileReports[item.feed]?.firstIndex(where: { $0.name == name }) {
                fileReports[item.feed]![index].loadedSignatures = count
            }
            guard ContentChecks.countsOnePerLine(name), item.download.signatures > 0, count * 2 < item.download.signatures else { continue }
            report.warnings.append("\(item.feed)/\(name): libclamav \(ClamAV.version) loads only \(count) of its \(item.download.signatures) signatures; the rest need a newer libclamav or are of a type clamd.conf turns off")
        }
    }

    /// The ham corpus that gates `feed`'s updates: its own, else the global one.
    func hamCorpus(for feed: String) -> String? {
        config.feed(named: feed)?.hamCorpus ?? config.settings.hamCorpus
    }

    /// Rejects the feeds whose new files make ham detected that the live set lets
    /// through, naming messages and signatures. Returns true when it rejected any.
    func gateOnHam(_ accepted: inout [NewFile], drops: [String: String], corpora gate: CorpusGate,
                   fileReports: inout [String: [FileReport]]) throws -> Bool {
        var corpora: [String: Set<String>] = [:]
        for feed in Set(accepted.map(\.feed)) {
            if let corpus = hamCorpus(for: feed) { corpora[corpus, default: []].insert(feed) }
        }
        guard !corpora.isEmpty else { return false }
        let fileToFeed = Dictionary(accepted.map { ($0.file.name, $0.feed) }, uniquingKeysWith: { a, _ in a })
        let replacing = Dictionary(uniqueKeysWithValues: accepted.map { ($0.file.name, $0.download.path) })
        var rejected: Set<String> = []
        for (corpus, feeds) in corpora.sorted(by: { $0.key < $1.key }) {
            guard Files.exists(corpus) else {
                report.warnings.append("ham_corpus \(corpus) does not exist; the false-positive gate did not run for \(feeds.sorted().joined(separator: ", "))")
                continue
            }
            let hits = CorpusGate.newHits(live: try gate.liveHits(corpus),
                                          candidate: try gate.candidateHits(corpus, replacing: replacing, dropping: Set(drops.keys)))
            var byFeed: [String: [String]] = [:]
            for (message, signatures) in hits {
                for (signature, file) in signatures {
                    if let feed = fileToFeed[file], feeds.contains(feed) { byFeed[feed, default: []].append("\(message) (\(signature))") }
                }
            }
            for (feed, items) in byFeed.sorted(by: { $0.key < $1.key }) {
                let list = items.sorted()
                let shown = list.prefix(5).joined(separator: ", ") + (list.count > 5 ? " and \(list.count - 5) more" : "")
                if options.force {
                    report.warnings.append("\(feed): the update makes \(list.count) ham message(s) in \(corpus) detected (accepted with --force): \(shown)")
                    continue
                }
                rejected.insert(feed)
                let names = Set(accepted.filter { $0.feed == feed }.map(\.file.name))
                for index in fileReports[feed, default: []].indices where names.contains(fileReports[feed]![index].name) {
                    fileReports[feed]![index].status = .rejected
                    fileReports[feed]![index].message = "false-positive gate: the update makes \(list.count) ham message(s) in \(corpus) detected: \(shown); the installed version stays; check them with `sigctl test`, then accept with --force or `sigctl allow`"
                }
            }
        }
        accepted.removeAll { rejected.contains($0.feed) }
        return !rejected.isEmpty
    }

    /// Counts, per feed, the messages of detect_corpus the update newly detects or no longer detects.
    func measureDetectCorpus(_ accepted: [NewFile], drops: [String: String], corpora gate: CorpusGate) throws {
        guard let corpus = config.settings.detectCorpus else { return }
        guard Files.exists(corpus) else {
            report.warnings.append("detect_corpus \(corpus) does not exist")
            return
        }
        let live = try gate.liveHits(corpus)
        let next = try gate.candidateHits(corpus, replacing: Dictionary(uniqueKeysWithValues: accepted.map { ($0.file.name, $0.download.path) }),
                                          dropping: Set(drops.keys))
        let newFeeds = Dictionary(accepted.map { ($0.file.name, $0.feed) }, uniquingKeysWith: { a, _ in a })
        let liveFeeds = FeedAttribution.map(config: config).merging(drops) { a, _ in a }
        var deltas: [String: CorpusDelta] = [:]
        for message in Set(live.keys).union(next.keys) {
            let before = live[message] ?? [:], after = next[message] ?? [:]
            if before.isEmpty, let file = after.values.sorted().first {
                deltas[newFeeds[file] ?? liveFeeds[file] ?? file, default: CorpusDelta()].newlyDetected += 1
            } else if after.isEmpty, let file = before.values.sorted().first {
                deltas[liveFeeds[file] ?? newFeeds[file] ?? file, default: CorpusDelta()].noLongerDetected += 1
            }
        }
        report.detectCorpus = deltas
    }

    func verifyCandidate(_ files: [NewFile], drops: [String: String], canary: Canary, label: String) -> VerifyReport {
        do {
            let dir = try manager.buildCandidate(label: label,
                                                 replacing: Dictionary(uniqueKeysWithValues: files.map { ($0.file.name, $0.download.path) }),
                                                 dropping: Set(drops.keys), canary: canary)
            defer { Files.remove(dir) }
            return manager.verify(dir, canary: canary, countFiles: files.map(\.file.name))
        } catch {
            return VerifyReport(ok: false, stage: "child", signatures: 0, error: "cannot build the candidate set: \(error)",
                                messages: [], loadSeconds: 0, compileSeconds: 0, peakRSSKiB: 0, canaryVerdict: nil)
        }
    }

    /// Finds the feeds whose new files break the set: each feed's files are tried alone
    /// on top of the live set. If the live set fails on its own, or no single feed fails,
    /// every feed with new files is blamed with the reason.
    func attribute(_ files: [NewFile], canary: Canary, failure: VerifyReport) -> [String: String] {
        let feeds = Array(Set(files.map(\.feed))).sorted()
        let live = verifyCandidate([], drops: [:], canary: canary, label: "live")
        if !live.ok {
            let reason = "the live set itself no longer loads, so nothing can be added to it: \(live.summary); fix or remove the file libclamav names"
            return Dictionary(uniqueKeysWithValues: feeds.map { ($0, reason) })
        }
        if feeds.count == 1 { return [feeds[0]: failure.summary] }
        var blamed: [String: String] = [:]
        for feed in feeds {
            let report = verifyCandidate(files.filter { $0.feed == feed }, drops: [:], canary: canary, label: feed)
            if !report.ok { blamed[feed] = report.summary }
        }
        if blamed.isEmpty {
            let reason = "the new files of \(feeds.joined(separator: ", ")) load alone but not together: \(failure.summary)"
            return Dictionary(uniqueKeysWithValues: feeds.map { ($0, reason) })
        }
        return blamed
    }

    func reject(feed: String, reason: String, in reports: inout [String: [FileReport]], among files: [NewFile]) {
        let names = Set(files.filter { $0.feed == feed }.map(\.file.name))
        for index in reports[feed, default: []].indices where names.contains(reports[feed]![index].name) {
            reports[feed]![index].status = .rejected
            reports[feed]![index].message = "verification failed: \(reason); the installed version stays and clamd keeps its current set"
        }
    }

    /// Puts the previous set back after clamd refused the new one.
    func restore(_ previous: LiveSet?) -> String {
        do {
            guard let previous, let manifest = manager.generations.manifest(previous.generation),
                  let canary = manager.liveCanary(previous) else {
                let removed = try manager.installer.install(files: [:], previouslyOwned: Set(state.live?.owned ?? []),
                                                            generation: 0, canaryName: "", signatures: 0)
                _ = removed
                state.live = nil
                try store.save(state)
                _ = try? manager.prover?.client.reload()
                return "there was no earlier set, so sigctl removed its files"
            }
            let dir = manager.generations.directory(previous.generation)
            _ = try manager.activate(generation: previous.generation,
                                     files: Dictionary(uniqueKeysWithValues: manifest.files.keys.map { ($0, dir + "/" + $0) }),
                                     canary: canary, signatures: previous.signatures, state: &state, store: store)
            if case .confirmed = manager.reload(canary, state: &state, store: store) {
                return "the previous set \(previous.generation) is restored and clamd confirmed it"
            }
            return "the previous set \(previous.generation) is restored, but clamd did not confirm it either"
        } catch {
            return "restoring the previous set failed: \(error)"
        }
    }

    /// Nothing changed, but the live set was never confirmed (clamd was down): check now.
    func confirmPending(_ live: LiveSet) {
        guard let prover = manager.prover else { return }
        guard let canary = manager.liveCanary(live) else {
            report.warnings.append("the canary of set \(live.generation) is missing; the next change will confirm clamd")
            return
        }
        // clamd may already run it (it loaded the set when it started); else reload.
        let start = Date()
        let outcome: ReloadOutcome = (try? prover.serves(canary)) == true
            ? .confirmed(seconds: Date().timeIntervalSince(start))
            : manager.reload(canary, state: &state, store: store)
        if case .confirmed = outcome { manager.markConfirmed(canary, state: &state) }
        report.reload = ReloadReport(outcome, canary: canary, timeout: config.settings.reloadTimeout,
                                     unreachableNote: "set \(live.generation) is installed but not yet confirmed")
        switch outcome {
        case .confirmed:
            report.reload.message = "set \(live.generation), installed earlier, is now confirmed"
        case .unreachable:
            report.errors.append("clamd did not confirm the reload: \(report.reload.message!)")
        case .notConfirmed:
            report.errors.append("clamd did not confirm the reload: \(report.reload.message!); check clamd's log, then run `sigctl reload`")
        case .skipped:
            break
        }
    }

    // MARK: state and report

    func update(feed: String, _ change: (inout FeedState) -> Void) {
        change(&state.feeds[feed, default: FeedState()])
    }

    func update(feed: String, file: String, _ change: (inout FileState) -> Void) {
        change(&state.feeds[feed, default: FeedState()].files[file, default: FileState()])
    }

    func assemble(fileReports: [String: [FileReport]], feedMessages: [String: String], drops: [String: String]) {
        var reports = fileReports
        for (name, feed) in drops {
            reports[feed, default: []].append(FileReport(name: name, status: report.installed ? .removed : .unchanged,
                                                         message: "no longer enabled in the feed's configuration"))
        }
        markRepeatedProblems(&reports)
        let names = Set(reports.keys).union(feedMessages.keys).sorted()
        for name in names {
            let files = reports[name] ?? []
            var status: ItemStatus = files.map(\.status).max { $0.weight < $1.weight } ?? .not_due
            if files.isEmpty { status = .not_due }
            let problems = files.filter { $0.status == .failed || $0.status == .rejected }
            let message = feedMessages[name] ?? problems.first.map { "\($0.name): \($0.message ?? "")" }
            report.feeds.append(FeedReport(name: name, status: status, message: message, files: files))
            update(feed: name) { feedState in
                if problems.isEmpty {
                    if status != .not_due { feedState.lastError = nil }
                } else {
                    feedState.lastError = problems.map { "\($0.name): \($0.message ?? "")" }.joined(separator: "; ")
                    feedState.lastErrorAt = self.now
                }
            }
            for file in problems {
                update(feed: name, file: file.name) { state in
                    state.lastError = file.message
                    if file.repeated != true { state.lastErrorPrinted = self.now }
                }
            }
        }
        report.configWarnings = config.warnings
    }

    /// The parts of a message that change from run to run without the problem changing:
    /// durations ("after 12 ms"), timestamps, and long numbers such as ports and sizes.
    static let varying = try! NSRegularExpression(pattern: "after [0-9]+ ms|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]+Z|[0-9]{4,}")

    /// A problem counts as repeated when the last run recorded the same message (its
    /// varying parts aside) and it was printed less than a day ago.
    func markRepeatedProblems(_ reports: inout [String: [FileReport]]) {
        func shape(_ text: String?) -> String {
            let text = text ?? ""
            return Self.varying.stringByReplacingMatches(in: text, range: NSRange(text.startIndex..., in: text), withTemplate: "#")
        }
        for (feed, files) in reports {
            for index in files.indices where files[index].status == .failed || files[index].status == .rejected {
                guard let previous = state.feeds[feed]?.files[files[index].name], let printed = previous.lastErrorPrinted,
                      now.timeIntervalSince(printed) < 86_400, shape(previous.lastError) == shape(files[index].message) else { continue }
                reports[feed]![index].repeated = true
            }
        }
    }

    func exitStatus() -> ExitStatus {
        if report.reload.failed { return .reloadUnconfirmed }
        let attempted = report.feeds.filter { $0.status != .not_due }
        let bad = attempted.filter { $0.status == .failed || $0.status == .rejected }
        if bad.isEmpty { return .success }
        return bad.count == attempted.count ? .failed : .partial
    }
}
