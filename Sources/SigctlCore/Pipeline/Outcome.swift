import Foundation

/// Everything a run found, for the pure stages at its end.
public struct RunFacts: Sendable {
    public var config: Configuration
    /// The state the run started from (after recovery and allow-list changes).
    public var state: State
    public var plan: UpdatePlan
    public var acquisition: Acquisition
    public var gates: GateResult?
    public var activation: Activation
    public var now: Date
    /// Repairs made before planning (rebuilt state, finished install).
    public var notes: [String] = []

    public init(config: Configuration, state: State, plan: UpdatePlan, acquisition: Acquisition, gates: GateResult?,
                activation: Activation, now: Date) {
        self.config = config
        self.state = state
        self.plan = plan
        self.acquisition = acquisition
        self.gates = gates
        self.activation = activation
        self.now = now
    }

    /// The candidate's files went live (also when clamd refused them and the previous
    /// set could not be put back: then they stay, and are recorded as what is live).
    var wentLive: Bool {
        switch activation {
        case .installed: return true
        case .refused(_, _, .failed, _): return true
        default: return false
        }
    }
    var liveNames: Set<String> { wentLive ? Set(gates?.candidate.files.map(\.name) ?? []) : [] }
    /// The planned drops the installed set carries out (a held-back publisher's are not).
    var appliedDrops: [String: String] {
        guard let candidate = gates?.candidate else { return plan.drops }
        return plan.drops.filter { candidate.drops[$0.key] != nil }
    }
}

/// The report of an update: a pure function of the run's facts.
public enum Outcome {
    public static func report(_ facts: RunFacts) -> UpdateReport {
        var report = UpdateReport()
        report.notes = facts.notes + facts.plan.notes
        var files: [String: [FileReport]] = [:]
        var messages: [String: String] = [:]
        let live = facts.liveNames
        let gates = facts.gates

        for plan in facts.plan.feeds {
            switch plan.decision {
            case .notDue(let why): messages[plan.feed.name] = why
            case .blocked(let why):
                files[plan.feed.name, default: []].append(FileReport(name: "official databases", status: .failed, message: why))
            default: break
            }
        }
        for (feedName, feed) in facts.acquisition.feeds {
            for result in feed.files {
                let previous = facts.state.feeds[feedName]?.files[result.name]
                var entry = FileReport(name: result.name, status: .unchanged, signatures: previous?.signatures,
                                       previousSignatures: previous?.signatures, size: previous?.size)
                switch result.outcome {
                case .unchanged(let mirror):
                    entry.mirror = mirror
                case .refreshed(let mirror, _):
                    entry.mirror = mirror
                case .staged(let file):
                    entry.mirror = file.mirror
                    entry.signatures = file.signatures
                    entry.size = file.size
                    (entry.status, entry.message) = stagedStatus(file, facts: facts)
                    entry.loadedSignatures = live.contains(file.name) ? gates?.loaded[file.name] : nil
                case .failed(let message):
                    entry.status = .failed
                    entry.message = message
                case .rejected(let message), .conflict(let message):
                    entry.status = .rejected
                    entry.message = message
                case .deferred(let message):
                    entry.status = .not_due
                    entry.message = message
                }
                files[feedName, default: []].append(entry)
            }
        }
        // Files sigctl itself staged: repairs and the allow list.
        for file in gates?.candidate.files ?? [] where file.origin != .download {
            var entry = FileReport(name: file.name, status: .updated, signatures: file.signatures, size: file.size)
            (entry.status, entry.message) = stagedStatus(file, facts: facts)
            if case .repair(let generation) = file.origin, entry.status == .updated {
                entry.message = "restored from set \(generation) after it was changed by hand"
            }
            files[file.feed, default: []].append(entry)
        }
        for (name, feed) in facts.appliedDrops {
            let why = facts.config.feed(named: feed)?.publication == true ? "the publisher's manifest no longer lists it"
                : "no longer enabled in the feed's configuration"
            files[feed, default: []].append(FileReport(name: name, status: facts.wentLive ? .removed : .unchanged, message: why))
        }
        if facts.plan.allowList == .remove, facts.wentLive {
            files[AllowListSource.feedName, default: []].append(FileReport(name: allowListFileName, status: .removed,
                                                                        message: "the allow list is empty"))
        }
        for (name, feed) in facts.plan.handbacks {
            files[feed, default: []].append(FileReport(name: name, status: .handed_back,
                                                       message: "left in place in \(facts.config.settings.databaseDir) for freshclam; sigctl no longer manages it"))
        }

        for name in Set(files.keys).union(messages.keys).sorted() {
            let list = files[name] ?? []
            let status: ItemStatus = list.map(\.status).max { $0.weight < $1.weight } ?? .not_due
            let problems = group(list, feed: name, state: facts.state, now: facts.now)
            report.feeds.append(FeedReport(name: name, status: status,
                                           message: messages[name] ?? problems.first.map(\.message),
                                           files: list, problems: problems))
        }
        report.configWarnings = facts.config.warnings
        report.warnings = gates?.warnings ?? []
        report.memoryFallback = gates?.memoryFallback
        if let fallback = gates?.memoryFallback, facts.state.memoryFallbackSince == nil { report.warnings.insert(fallback, at: 0) }
        report.detectCorpus = gates?.detectCorpus
        report.phases["fetch"] = facts.acquisition.fetchSeconds
        report.phases["check"] = facts.acquisition.checkSeconds
        if let gates { report.phases["verify"] = gates.seconds }
        report.verification = (gates?.verification).map(VerificationSummary.init)
        report.corpora = (gates?.corpora).map(CorpusSummary.init)
        reload(facts, into: &report)
        report.exitCode = exitStatus(report).rawValue
        return redacted(report)
    }


    /// What became of a staged file.
    static func stagedStatus(_ file: StagedFile, facts: RunFacts) -> (ItemStatus, String?) {
        if let reason = facts.gates?.rejectedFiles[file.name] {
            return (.rejected, "\(reason); the installed version stays")
        }
        if let reason = facts.gates?.rejected[file.feed] {
            if reason.hasPrefix("false-positive gate") {
                return (.rejected, "\(reason); the installed version stays")
            }
            return (.rejected, "verification failed: \(reason); the installed version stays and clamd keeps its current set")
        }
        switch facts.activation {
        case .installed:
            return facts.liveNames.contains(file.name) ? (.updated, nil) : (.unchanged, nil)
        case .refused(let set, _, .failed, _):
            return (.updated, "installed in set \(set.generation), but clamd did not show its canary and the previous set could not be restored")
        case .refused(let set, let verdict, _, _):
            return (.rejected, "clamd did not load set \(set.generation), which holds this file (\(verdict)); the previous set is back, so this version waits for the feed's next change")
        case .installFailed(let message, _):
            return (.failed, message)
        default:
            return (.unchanged, nil)
        }
    }

    static func reload(_ facts: RunFacts, into report: inout UpdateReport) {
        let timeout = facts.config.settings.reloadTimeout
        switch facts.activation {
        case .nothing:
            break
        case .installFailed(let message, _):
            report.errors.append(message)
        case .installed(let live, let proof, _):
            report.installed = true
            report.generation = live.generation
            report.signatures = live.signatures
            report.reload = ReloadReport(proof, canary: live.canaryName, timeout: timeout,
                                         unreachableNote: "the new set stays installed, clamd loads it when it starts, and the next run confirms it")
            if case .unreachable = proof { report.errors.append("clamd did not confirm the reload: \(report.reload.message!)") }
            if !facts.config.clamd.concurrentDatabaseReload {
                report.warnings.append("\(facts.config.clamd.path) has ConcurrentDatabaseReload no: clamd stops scanning while it reloads, and a reload that fails leaves it with no engine; set it to yes")
            }
        case .checked(let live, let proof):
            report.reload = ReloadReport(proof, canary: live.canaryName, timeout: timeout,
                                         unreachableNote: "set \(live.generation) is installed but not yet confirmed")
            switch proof {
            case .confirmed: report.reload.message = "set \(live.generation), installed earlier, is now confirmed"
            case .unreachable: report.errors.append("clamd did not confirm the reload: \(report.reload.message!)")
            case .notShown: report.errors.append("clamd did not confirm the reload: \(report.reload.message!); check clamd's log, then run `sigctl reload`")
            case .skipped: break
            }
        case .refused(let set, let verdict, let restoration, _):
            if case .failed = restoration {
                report.installed = true
                report.generation = set.generation
                report.signatures = set.signatures
            }
            let result: ReloadResult
            if case .failed = restoration { result = .not_confirmed } else { result = .rolled_back }
            report.reload = ReloadReport(result: result, canary: set.canaryName,
                                         message: "clamd answered but did not show the canary of set \(set.generation) within \(timeout)s (\(verdict)); " + describe(restoration))
            report.errors.append("clamd did not load set \(set.generation): \(report.reload.message!); check clamd's log")
        }
    }

    static func describe(_ restoration: Restoration) -> String {
        switch restoration {
        case .restored(let set, .confirmed, _): return "the previous set \(set.generation) is restored and clamd confirmed it"
        case .restored(let set, _, _): return "the previous set \(set.generation) is restored, but clamd did not confirm it either"
        case .removed: return "there was no earlier set, so sigctl removed its files"
        case .failed(let message): return message
        }
    }

    /// 0 success; 1 some feeds failed while others installed or were current; 2 every attempted
    /// feed failed and nothing was installed; 3 clamd did not confirm.
    static func exitStatus(_ report: UpdateReport) -> ExitStatus {
        if report.reload.failed { return .reloadUnconfirmed }
        let attempted = report.feeds.filter { $0.status != .not_due }
        let files = attempted.flatMap(\.files)
        let bad = files.contains { $0.status == .failed || $0.status == .rejected }
        if !bad && report.errors.isEmpty { return .success }
        let good = report.installed || files.contains { $0.status == .unchanged || $0.status == .updated || $0.status == .removed }
        return good ? .partial : .failed
    }
}
