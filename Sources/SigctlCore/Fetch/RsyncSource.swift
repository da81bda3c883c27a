import Foundation

/// Feeds with rsync:// mirrors. Each rsync mirror gets one connection per run for all of
/// the feed's files; a file it cannot deliver, or that fails a check, goes to the next
/// rsync mirror and then to the feed's HTTP(S) mirrors. Every file passes the same
/// integrity and content checks as an HTTP download.
///
/// The files land in `<state>/rsync/<feed>.new`, with the previous run's copy
/// (`<state>/rsync/<feed>`) as rsync's basis, so a changed file costs only its delta.
struct RsyncSource: FeedSource {
    let context: SigctlContext
    let settings: Settings
    let scratch: String

    /// How long a mirror that answered "max connections reached" is left alone.
    static let busyBackoff = 3600

    func handles(_ feed: Feed) -> Bool { feed.official == nil && !feed.rsyncMirrors.isEmpty }

    func acquire(_ plans: [FeedPlan], state: State, into acquisition: inout Acquisition) {
        let start = context.clock.now()
        let fetcher = Fetcher(settings: settings, backoffs: acquisition.backoffs ?? state.hosts, scratch: scratch, context: context)
        let keyProblems = fetcher.importKeys(for: plans.map(\.feed))
        var fallback: [(job: FetchJob, earlier: Leftover?)] = []
        for plan in plans {
            guard case .fetch(let jobs, let conflicts) = plan.decision else { continue }
            var feed = FeedAcquisition(feed: plan.feed.name, conflicts: conflicts, databaseDir: settings.databaseDir)
            if let problem = keyProblems[plan.feed.name] {
                feed.files += jobs.map { FileResult(name: $0.file.name, outcome: .failed(problem)) }
            } else {
                let pass = RsyncPass(feed: plan.feed, settings: settings, fetcher: fetcher,
                                     client: RsyncClient(settings: settings, runner: context.runner, scratch: scratch + "/rsync-child"),
                                     scratch: scratch, log: context.log)
                let (done, left) = pass.run(jobs)
                feed.files += done
                for (job, leftover) in left {
                    if leftover?.final != true, job.file.url != nil || !plan.feed.httpMirrors.isEmpty {
                        var httpJob = job
                        httpJob.feed.mirrors = plan.feed.httpMirrors
                        fallback.append((httpJob, leftover))
                    } else if let leftover {
                        feed.files.append(FileResult(name: job.file.name, outcome: leftover.outcome))
                    }
                }
            }
            acquisition.feeds[plan.feed.name] = feed
        }
        if !fallback.isEmpty {
            for (job, earlier) in fallback where earlier != nil {
                context.log.info("\(job.feed.name)/\(job.file.name): \(earlier!.reasons.last ?? "not fetched over rsync"); trying the HTTP mirrors")
            }
            let outcomes = fetcher.run(fallback.map(\.job))
            for ((job, earlier), outcome) in zip(fallback, outcomes) {
                let file = HTTPSource.translate(outcome, job: job)
                acquisition.feeds[job.feed.name, default: FeedAcquisition(feed: job.feed.name)].files
                    .append(FileResult(name: job.file.name, outcome: earlier.map { $0.combined(with: file) } ?? file))
            }
        }
        let now = context.clock.now()
        acquisition.mergeBackoffs(fetcher.backoffs, now: now)
        acquisition.fetchSeconds += now.timeIntervalSince(start)
        acquisition.checkSeconds += fetcher.checkSeconds
    }
}

/// Why the rsync mirrors did not deliver a file: every mirror's reason, and how bad.
struct Leftover {
    enum Kind: Int { case deferred, failed, rejected }
    var kind: Kind
    var reasons: [String]
    /// The problem is upstream's (every mirror serves it): no HTTP fallback either.
    var final = false

    var outcome: FileOutcome {
        let text = reasons.joined(separator: "; ")
        switch kind {
        case .deferred: return .deferred(text)
        case .failed: return .failed(text)
        case .rejected: return .rejected(text)
        }
    }

    /// The HTTP fallback's outcome, with what the rsync mirrors said when it did not deliver either.
    func combined(with http: FileOutcome) -> FileOutcome {
        let (httpKind, httpText): (Kind, String)
        switch http {
        case .deferred(let text): (httpKind, httpText) = (.deferred, text)
        case .failed(let text): (httpKind, httpText) = (.failed, text)
        case .rejected(let text): (httpKind, httpText) = (.rejected, text)
        default: return http
        }
        return Leftover(kind: max(kind.rawValue, httpKind.rawValue) == kind.rawValue ? kind : httpKind,
                        reasons: reasons + [httpText]).outcome
    }
}

extension Acquisition {
    /// Adds back-offs a source recorded to those of sources that ran before it.
    mutating func mergeBackoffs(_ recorded: [String: HostBackoff], now: Date) {
        var merged = backoffs ?? [:]
        for (host, entry) in recorded where entry.until > now {
            if let existing = merged[host], existing.until >= entry.until { continue }
            merged[host] = entry
        }
        backoffs = merged.filter { $0.value.until > now }
    }
}
