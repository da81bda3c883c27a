import Foundation

/// Status changes for kept sets, applied to the generation manifests after the run.
public struct HistoryChange: Sendable, Equatable {
    public var statuses: [Int: GenerationStatus] = [:]
    public init() {}
}

/// The state after an update: a pure function of the run's facts and its report.
public enum Recorder {
    public static func record(_ facts: RunFacts, report: UpdateReport) -> (State, HistoryChange) {
        var state = facts.state
        var history = HistoryChange()
        let now = facts.now
        let live = facts.liveNames
        let stamps: [String: FileStamp]
        switch facts.activation {
        case .installed(_, _, let installed): stamps = installed
        case .refused(_, _, _, let restored): stamps = restored
        default: stamps = [:]
        }

        if let backoffs = facts.acquisition.backoffs { state.hosts = backoffs }
        state.hosts = state.hosts.filter { $0.value.until > now }
        for (name, feed) in facts.acquisition.feeds {
            if let coolDown = feed.coolDown {
                var all = state.coolDowns ?? [:]
                all[name] = coolDown
                state.coolDowns = all
            }
        }

        // Per file: validators and what is installed.
        for (feedName, feed) in facts.acquisition.feeds {
            for result in feed.files {
                var record = state.feeds[feedName, default: FeedState()].files[result.name] ?? FileState()
                switch result.outcome {
                case .unchanged:
                    record.lastError = nil
                case .refreshed(let mirror, let validators):
                    record.setValidators(validators, for: mirror)
                    record.lastError = nil
                case .staged(let file) where live.contains(file.name):
                    install(file, into: &record, stamp: stamps[file.name], now: now)
                case .staged:
                    record.lastError = report.feeds.first { $0.name == feedName }?.files.first { $0.name == result.name }?.message
                case .failed(let message), .rejected(let message):
                    record.lastError = Redact.text(message)
                case .conflict(let message):
                    record.lastError = Redact.text(message)
                    record.conflict = true
                case .deferred:
                    break
                }
                state.feeds[feedName, default: FeedState()].files[result.name] = record
            }
        }
        // A publisher's manifest counts as installed once all of its changed files went live.
        for (feedName, feed) in facts.acquisition.feeds {
            guard let publication = feed.publication else { continue }
            let settled = feed.files.allSatisfy { result in
                switch result.outcome {
                case .unchanged, .refreshed: return true
                case .staged(let file): return live.contains(file.name)
                default: return false
                }
            }
            let changed = feed.files.contains { if case .staged = $0.outcome { return true } else { return false } } || !feed.dropped.isEmpty
            if settled && (!changed || facts.wentLive) { state.feeds[feedName, default: FeedState()].publication = publication }
        }
        for file in facts.gates?.candidate.files ?? [] where file.origin != .download && live.contains(file.name) {
            var record = state.feeds[file.feed, default: FeedState()].files[file.name] ?? FileState()
            install(file, into: &record, stamp: stamps[file.name], now: now)
            if case .repair = file.origin { record.lastChange = state.feeds[file.feed]?.files[file.name]?.lastChange ?? now }
            state.feeds[file.feed, default: FeedState()].files[file.name] = record
        }
        if facts.wentLive {
            for (name, feed) in facts.appliedDrops { state.feeds[feed]?.files[name] = nil }
            if facts.plan.allowList == .remove { state.feeds[AllowListSource.feedName]?.files[allowListFileName] = nil }
            for feed in facts.acquisition.feeds.values where feed.files.contains(where: { live.contains($0.name) }) {
                for name in feed.replaced { state.feeds[feed.feed]?.files[name] = nil }
            }
        }
        for (name, feed) in facts.plan.handbacks { state.feeds[feed]?.files[name] = nil }

        // Per feed: checked (unless a file could not be fetched, which the next run retries), changed, problems.
        for plan in facts.plan.feeds {
            let results = facts.acquisition.feeds[plan.feed.name]?.files ?? []
            var feedState = state.feeds[plan.feed.name, default: FeedState()]
            switch plan.decision {
            case .fetch, .official, .publication:
                let retry = results.contains {
                    if case .failed = $0.outcome { return true }
                    if case .deferred = $0.outcome { return true }
                    return false
                }
                if !retry {
                    feedState.lastCheck = now
                    feedState.configDigest = plan.digest
                }
                if results.contains(where: { live.contains($0.name) }) { feedState.lastChange = now }
            default:
                break
            }
            state.feeds[plan.feed.name] = feedState
        }
        // A disabled feed forgets its digest, so enabling it again makes it due at once.
        for feed in facts.config.feeds where !feed.enabled && state.feeds[feed.name] != nil {
            state.feeds[feed.name]?.configDigest = Planner.disabledDigest
        }
        let planned = Set(facts.plan.feeds.map(\.feed.name))
        for feed in report.feeds where planned.contains(feed.name) {
            var feedState = state.feeds[feed.name, default: FeedState()]
            if feed.problems.isEmpty {
                if feed.status != .not_due {
                    feedState.lastError = nil
                    feedState.lastSuccess = now
                }
            } else {
                for problem in feed.problems {
                    let cause = ErrorCause.classify(problem.status, problem.message).rawValue
                    feedState.errorTotals = feedState.errorTotals ?? [:]
                    feedState.errorTotals![cause, default: 0] += problem.files.count
                }
                feedState.lastError = feed.problems.map { problem in
                    problem.files.count == 1 ? "\(problem.files[0]): \(problem.message)"
                        : "\(problem.files.count) files (\(problem.files.prefix(4).joined(separator: ", "))\(problem.files.count > 4 ? ", …" : "")): \(problem.message)"
                }.joined(separator: "; ")
                feedState.lastErrorAt = now
            }
            for problem in feed.problems where problem.repeated != true {
                for name in problem.files { feedState.files[name]?.lastErrorPrinted = now }
            }
            state.feeds[feed.name] = feedState
        }

        // The live set and the history.
        switch facts.activation {
        case .installed(var set, let proof, _):
            switch proof {
            case .confirmed:
                set.confirmed = true
                set.confirmedAt = now
                history.statuses[set.generation] = .confirmed
            case .skipped:
                history.statuses[set.generation] = .unproven
            default:
                break
            }
            state.live = set
        case .checked(var set, let proof):
            if case .confirmed = proof {
                set.confirmed = true
                set.confirmedAt = now
                history.statuses[set.generation] = .confirmed
            }
            state.live = set
        case .refused(let refused, _, let restoration, _):
            switch restoration {
            case .failed:
                state.live = refused
            case .restored(var set, let proof, let files):
                for (name, file) in files {
                    var record = state.feeds[file.feed, default: FeedState()].files[name] ?? FileState()
                    if record.sha256 != file.sha256 { record.dropValidators() }
                    record.sha256 = file.sha256
                    record.size = file.size
                    record.signatures = file.signatures
                    record.stamp = stamps[name]
                    state.feeds[file.feed, default: FeedState()].files[name] = record
                }
                for name in refused.owned where !set.owned.contains(name) {
                    if let feed = state.record(of: name)?.feed { state.feeds[feed]?.files[name] = nil }
                }
                set.confirmed = false
                if case .confirmed = proof {
                    set.confirmed = true
                    set.confirmedAt = now
                    history.statuses[set.generation] = .confirmed
                }
                state.live = set
            case .removed:
                state.live = nil
            default:
                break
            }
        case .installFailed, .nothing:
            break
        }
        if !facts.plan.handbacks.isEmpty, var set = state.live {
            set.owned.removeAll { facts.plan.handbacks[$0] != nil }
            state.live = set
        }
        if let generation = facts.gates?.candidate.generation { state.nextGeneration = max(state.nextGeneration, generation + 1) }
        state.lastRun = now
        state.memoryFallbackSince = report.memoryFallback == nil ? nil : state.memoryFallbackSince ?? now
        state.lastExitCode = report.exitCode
        if report.exitCode == 0 { state.lastSuccess = now }
        if report.reload.result == .confirmed, let seconds = report.reload.seconds { state.lastReloadSeconds = seconds }
        if report.reload.failed { state.reloadFailures = (state.reloadFailures ?? 0) + 1 }
        return (state, history)
    }

    /// Records a file that went live: its digests, validators from the mirror it came
    /// from (the other mirrors' validators describe an older version and go), its stamp.
    /// A file restored from a kept set (a repair, a rollback) keeps its validators: they
    /// describe what the mirror has, so the mirror's 304 leaves the restored file in place.
    static func install(_ file: StagedFile, into record: inout FileState, stamp: FileStamp?, now: Date) {
        if file.origin == .download || file.origin == .local {
            record.dropValidators()
            if let mirror = file.mirror, let validators = file.validators { record.setValidators(validators, for: mirror) }
            record.installedLastModified = file.validators?.lastModified
            // Digests that recognise upstream's version on another mirror.
            record.upstreamSHA256 = file.sha256
            record.md5 = file.md5
            record.signatureDigest = file.signatureDigest
        }
        record.sha256 = file.sha256
        record.conflict = nil
        record.size = file.size
        record.signatures = file.signatures
        record.stamp = stamp
        record.lastChange = now
        record.lastError = nil
    }
}
