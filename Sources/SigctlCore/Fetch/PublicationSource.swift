import Foundation

/// `kind = "sigctl"` feeds: a publisher's tree (`sigctl publish`) on a plain web server.
/// One conditional GET of manifest.json per run; when it changed, its detached signature
/// (at the generation's immutable path) must verify with the pinned site key, it must not
/// be older than the installed one, and each changed file must match its manifest entry.
/// A publication goes in whole or not at all: one file that cannot be fetched or checked
/// holds every changed file back, so a gateway never mixes two of the publisher's sets.
struct PublicationSource: FeedSource {
    let context: SigctlContext
    let settings: Settings
    let scratch: String

    func handles(_ feed: Feed) -> Bool { feed.publication }

    func acquire(_ plans: [FeedPlan], state: State, into acquisition: inout Acquisition) {
        let start = context.clock.now()
        let fetcher = Fetcher(settings: settings, backoffs: acquisition.backoffs ?? state.hosts, scratch: scratch, context: context)
        let keyProblems = fetcher.importKeys(for: plans.map(\.feed))
        for plan in plans {
            guard case .publication(let job) = plan.decision else { continue }
            var feed = FeedAcquisition(feed: plan.feed.name)
            if let problem = keyProblems[plan.feed.name] {
                feed.files = job.owned.sorted().map { FileResult(name: $0, outcome: .failed(problem)) }
                if feed.files.isEmpty { feed.files = [FileResult(name: PublishManifest.currentPath, outcome: .failed(problem))] }
            } else {
                feed = PublicationFetch(feed: plan.feed, job: job, fetcher: fetcher, scratch: scratch + "/\(plan.feed.name)",
                                        log: context.log).run()
            }
            acquisition.feeds[plan.feed.name] = feed
        }
        let now = context.clock.now()
        acquisition.mergeBackoffs(fetcher.backoffs, now: now)
        acquisition.fetchSeconds += now.timeIntervalSince(start)
        acquisition.checkSeconds += fetcher.checkSeconds
    }
}

/// One publication feed's run against its mirrors, in order.
struct PublicationFetch {
    let feed: Feed
    let job: PublicationJob
    let fetcher: Fetcher
    let scratch: String
    let log: Log

    /// What went wrong on one mirror, and whether the mirror served something bad.
    struct Problem: Error {
        var message: String
        var rejected: Bool
        var deferred = false
    }

    func run() -> FeedAcquisition {
        var problems: [Problem] = []
        try? Files.makeDirectory(scratch)
        for mirror in feed.mirrors {
            do {
                return try fetch(from: mirror.hasSuffix("/") ? mirror : mirror + "/")
            } catch let problem as Problem {
                problems.append(problem)
                log.info("\(feed.name): \(problem.message)\(mirror == feed.mirrors.last ? "" : "; trying the next mirror")")
            } catch {
                problems.append(Problem(message: "\(Redact.url(mirror)): \(error)", rejected: false))
            }
        }
        let text = problems.map(\.message).joined(separator: "; ")
        let outcome: FileOutcome = problems.contains(where: \.rejected) ? .rejected(text)
            : problems.allSatisfy(\.deferred) ? .deferred(text) : .failed(text)
        var acquisition = FeedAcquisition(feed: feed.name)
        let names = job.owned.isEmpty ? [PublishManifest.currentPath] : job.owned.sorted()
        acquisition.files = names.map { FileResult(name: $0, outcome: outcome) }
        return acquisition
    }

    /// The whole publication from one mirror, or the problem that stops it there.
    func fetch(from base: String) throws -> FeedAcquisition {
        let host = Fetcher.host(of: base)
        if let backoff = fetcher.gate.backoff(host) {
            throw Problem(message: "\(host) asked sigctl to wait (HTTP \(backoff.status)) until \(Timestamp.text(backoff.until))",
                          rejected: false, deferred: true)
        }
        var acquisition = FeedAcquisition(feed: feed.name)
        let manifestURL = base + PublishManifest.currentPath
        var request = fetcher.makeRequest(manifestURL, maxBytes: 16 << 20)
        let validators = job.conditional ? job.publication?.validators?[Redact.url(base)] : nil
        if let etag = validators?.etag { request.headers.append("If-None-Match: \(etag)") }
        if let lastModified = validators?.lastModified { request.headers.append("If-Modified-Since: \(lastModified)") }
        let manifestPath = scratch + "/manifest.json"
        let response = try get(request, to: manifestPath, label: "\(feed.name)/manifest.json", host: host)
        if response.status == 304, validators != nil {
            acquisition.files = job.owned.sorted().map { FileResult(name: $0, outcome: .unchanged(mirror: base)) }
            return acquisition
        }
        guard response.status == 200 else { throw Problem(message: "\(Redact.url(manifestURL)): HTTP \(response.status)", rejected: false) }
        let data = Files.readRegular(manifestPath) ?? Data()
        guard let manifest = try? PublishManifest.decode(data) else {
            throw Problem(message: "\(Redact.url(manifestURL)) is not a sigctl publish manifest; check the feed's URL", rejected: true)
        }
        // The signature lives at the generation's own path, which never changes once written.
        let signatureURL = base + PublishManifest.archivedPath(manifest.id) + ".sig"
        let signaturePath = manifestPath + ".sig"
        let signed = try get(fetcher.makeRequest(signatureURL, maxBytes: 64 << 10), to: signaturePath,
                             label: "\(feed.name)/manifest.json.sig", host: host)
        guard signed.status == 200 else {
            throw Problem(message: "\(Redact.url(signatureURL)): HTTP \(signed.status) (the manifest's signature is missing)", rejected: true)
        }
        do {
            try fetcher.gpg.verify(feed: feed.name, file: manifestPath, signature: signaturePath, fingerprint: feed.gpgFingerprint ?? "")
        } catch let rejection as Rejection {
            throw Problem(message: "\(Redact.url(manifestURL)): \(rejection.reason); the manifest was altered or not signed by the site key, so nothing from it is installed",
                          rejected: true)
        }
        if let installed = job.publication, manifest.publishedAt < installed.publishedAt {
            throw Problem(message: "\(Redact.url(manifestURL)) holds set \(manifest.generation) published \(Timestamp.text(manifest.publishedAt)), older than the installed set \(installed.generation) published \(Timestamp.text(installed.publishedAt)); refused as a replay",
                          rejected: true)
        }
        var results: [FileResult] = []
        var trouble: [String] = []
        var bad = false
        for entry in manifest.files {
            if let reason = refusal(entry) {
                results.append(FileResult(name: entry.name, outcome: .rejected(reason)))
                trouble.append("\(entry.name): \(reason)")
                bad = true
                continue
            }
            if job.foreign.contains(entry.name) {
                let reason = "\(fetcher.settings.databaseDir)/\(entry.name) exists and was not installed by sigctl; sigctl never overwrites files it does not own: remove it, or stop the updater that put it there"
                results.append(FileResult(name: entry.name, outcome: .conflict(reason)))
                trouble.append("\(entry.name): \(reason)")
                continue
            }
            if !job.force, job.installed[entry.name]?.sha256 == entry.sha256 {
                results.append(FileResult(name: entry.name, outcome: .unchanged(mirror: base)))
                continue
            }
            do {
                results.append(FileResult(name: entry.name, outcome: .staged(try download(entry, base: base, host: host))))
            } catch let problem as Problem {
                results.append(FileResult(name: entry.name, outcome: problem.rejected ? .rejected(problem.message) : .failed(problem.message)))
                trouble.append("\(entry.name): \(problem.message)")
                bad = bad || problem.rejected
            }
        }
        if !trouble.isEmpty {
            // All or nothing: the files that did arrive wait with the rest.
            let reason = "set \(manifest.generation) of \(Redact.url(base)) is held back whole: " + trouble.joined(separator: "; ")
            for (index, result) in results.enumerated() {
                if case .staged(let file) = result.outcome {
                    unlink(file.path)
                    results[index].outcome = bad ? .rejected(reason) : .failed(reason)
                }
            }
            acquisition.files = results
            return acquisition
        }
        acquisition.files = results
        acquisition.dropped = job.owned.subtracting(manifest.files.map(\.name)).sorted()
        var previous = job.publication?.validators ?? [:]
        previous[Redact.url(base)] = Validators(etag: response.headers["etag"], lastModified: response.headers["last-modified"])
        acquisition.publication = PublicationState(generation: manifest.generation, publishedAt: manifest.publishedAt,
                                                   publisher: manifest.publisher, libclamav: manifest.verified.libclamav,
                                                   validators: previous)
        return acquisition
    }

    /// Why a manifest entry may not be installed here, or nil.
    func refusal(_ entry: PublishManifest.File) -> String? {
        if entry.name.contains("/") || entry.name.hasPrefix(".") || !isDatabaseFile(entry.name)
            || entry.name == canaryFileName || entry.name == allowListFileName {
            return "\"\(entry.name)\" is not a database file name a publisher may ship"
        }
        if entry.path != PublishManifest.filePath(sha256: entry.sha256, name: entry.name) {
            return "its path \"\(entry.path)\" is not where a publish tree keeps it"
        }
        if let other = job.taken[entry.name] {
            return "feed '\(other)' on this host delivers \(entry.name) too; disable it there (the publisher's set already carries it)"
        }
        return nil
    }

    /// One file of the manifest, checked against its entry and the content checks.
    func download(_ entry: PublishManifest.File, base: String, host: String) throws -> StagedFile {
        let url = base + entry.path
        let path = scratch + "/" + entry.name
        let response = try get(fetcher.makeRequest(url, maxBytes: min(fetcher.settings.maxFileSize, entry.size + 1)), to: path,
                               label: "\(feed.name)/\(entry.name)", host: host)
        guard response.status == 200 else {
            unlink(path)
            throw Problem(message: "\(Redact.url(url)): HTTP \(response.status)", rejected: false)
        }
        let digest = try ClamAV.hashFile("sha256", path: path)
        guard digest == entry.sha256, Files.size(path) == entry.size else {
            unlink(path)
            throw Problem(message: "\(Redact.url(url)) does not match the signed manifest (sha256 \(digest), expected \(entry.sha256)); the file was altered on the server or in transit",
                          rejected: true)
        }
        let signatures: Int
        do {
            signatures = try ContentChecks.check(path: path, name: entry.name, contentType: response.headers["content-type"])
        } catch let rejection as Rejection {
            unlink(path)
            throw Problem(message: "\(entry.name): \(rejection.reason)", rejected: true)
        }
        var staged = StagedFile(feed: feed.name, name: entry.name, path: path, sha256: digest, size: entry.size, signatures: signatures)
        staged.mirror = base
        staged.validators = Validators(etag: nil, lastModified: entry.version.flatMap { Int($0) == nil ? $0 : nil })
        staged.adopting = false
        return staged
    }

    /// A GET; curl errors and 429/403 become problems (the latter back the host off).
    func get(_ request: HTTPRequest, to path: String, label: String, host: String) throws -> HTTPResponse {
        let response: HTTPResponse
        do {
            response = try fetcher.download(request, to: path, label: label)
        } catch let error as CurlError {
            throw Problem(message: "\(Redact.url(request.url)): \(error.message)", rejected: false)
        }
        // The site's own server: only a 429 backs off (a 403 is a permissions mistake
        // on the publisher, reported on every run until it is fixed).
        if response.status == 429 {
            let until = fetcher.gate.backOff(host, status: 429, url: request.url,
                                             seconds: Fetcher.retryAfter(response.headers["retry-after"], now: fetcher.gate.clock.now()) ?? 3600)
            throw Problem(message: "\(Redact.url(request.url)): HTTP \(response.status); sigctl sends nothing to \(host) until \(Timestamp.text(until))",
                          rejected: false)
        }
        return response
    }
}
