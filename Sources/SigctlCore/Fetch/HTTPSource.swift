import Foundation

/// Feeds of files on HTTP(S) mirrors, fetched by `Fetcher` with conditional
/// requests, failover, back-offs and the integrity and content checks.
struct HTTPSource: FeedSource {
    let context: SigctlContext
    let settings: Settings
    let scratch: String

    func handles(_ feed: Feed) -> Bool { feed.official == nil && feed.rsyncMirrors.isEmpty }

    func acquire(_ plans: [FeedPlan], state: State, into acquisition: inout Acquisition) {
        let start = context.clock.now()
        var jobs: [FetchJob] = []
        for plan in plans {
            guard case .fetch(let planned, let conflicts) = plan.decision else { continue }
            let feed = FeedAcquisition(feed: plan.feed.name, conflicts: conflicts, databaseDir: settings.databaseDir)
            acquisition.feeds[plan.feed.name] = feed
            // transport = "http" leaves a feed's rsync:// mirrors out.
            jobs += planned.map { job in
                var job = job
                job.feed.mirrors = plan.feed.httpMirrors
                return job
            }
        }
        let fetcher = Fetcher(settings: settings, backoffs: acquisition.backoffs ?? state.hosts, scratch: scratch, context: context)
        let outcomes = fetcher.run(jobs)
        for (job, outcome) in zip(jobs, outcomes) {
            acquisition.feeds[job.feed.name, default: FeedAcquisition(feed: job.feed.name)].files
                .append(FileResult(name: job.file.name, outcome: Self.translate(outcome, job: job)))
        }
        let now = context.clock.now()
        acquisition.mergeBackoffs(fetcher.backoffs, now: now)
        acquisition.fetchSeconds += now.timeIntervalSince(start)
        acquisition.checkSeconds += fetcher.checkSeconds
    }

    static func translate(_ outcome: FetchOutcome, job: FetchJob) -> FileOutcome {
        switch outcome {
        case .unchanged(let mirror):
            return .unchanged(mirror: mirror)
        case .downloaded(let download):
            let validators = Validators(etag: download.etag, lastModified: download.lastModified)
            if let previous = job.previous, previous.sha256 == download.sha256 {
                unlink(download.path)
                return .refreshed(mirror: download.mirror, validators)
            }
            var staged = StagedFile(feed: job.feed.name, name: job.file.name, path: download.path, sha256: download.sha256,
                                    size: download.size, signatures: download.signatures)
            staged.mirror = download.mirror
            staged.validators = validators
            staged.md5 = download.md5
            staged.signatureDigest = download.signatureDigest
            return .staged(staged)
        case .failed(let message): return .failed(message)
        case .rejected(let message): return .rejected(message)
        case .deferred(let message): return .deferred(message)
        }
    }
}
