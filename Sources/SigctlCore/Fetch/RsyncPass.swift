import Foundation

/// One feed's files over its rsync mirrors, in order: one rsync run per mirror for the
/// files still missing, then the shared checks on each file that arrived.
struct RsyncPass {
    let feed: Feed
    let settings: Settings
    let fetcher: Fetcher
    let client: RsyncClient
    let scratch: String
    let log: Log

    /// The previous run's copy (rsync's basis) and this run's.
    var copy: String { settings.stateDir + "/rsync/\(feed.name)" }
    var fresh: String { copy + ".new" }

    /// Results for the files the rsync mirrors settled, and the rest with the reasons.
    func run(_ jobs: [FetchJob]) -> (done: [FileResult], left: [(FetchJob, Leftover?)]) {
        var done: [FileResult] = []
        var left: [(FetchJob, Leftover?)] = jobs.filter { $0.file.url != nil }.map { ($0, nil) }
        var pending = jobs.filter { $0.file.url == nil }
        var leftovers: [String: Leftover] = [:]
        func note(_ job: FetchJob, _ kind: Leftover.Kind, _ reason: String) {
            var entry = leftovers[job.file.name] ?? Leftover(kind: kind, reasons: [])
            entry.kind = Leftover.Kind(rawValue: max(entry.kind.rawValue, kind.rawValue))!
            entry.reasons.append(reason)
            leftovers[job.file.name] = entry
        }
        Files.remove(fresh)
        do {
            try Files.makeDirectory(settings.stateDir + "/rsync", mode: 0o700)
            try Files.makeDirectory(fresh)
            try Files.makeDirectory(scratch + "/\(feed.name)")
        } catch {
            let reason = "cannot prepare \(fresh) for rsync (\(error))"
            return ([], jobs.map { ($0, Leftover(kind: .failed, reasons: [reason])) })
        }
        let suffix = Fetcher.sidecarSuffix(feed.integrity)
        for mirror in feed.rsyncMirrors where !pending.isEmpty {
            let base = mirror.hasSuffix("/") ? mirror : mirror + "/"
            let host = Fetcher.host(of: mirror)
            if let backoff = fetcher.gate.backoff(host) {
                let why = backoff.reason ?? "HTTP \(backoff.status)"
                pending.forEach { note($0, .deferred, "\(host) asked sigctl to wait (\(why)) until \(Timestamp.text(backoff.until))") }
                continue
            }
            let names = pending.flatMap { job in [job.file.name] + (suffix.map { [job.file.name + "." + $0] } ?? []) }
            let result: RsyncClient.Result
            do {
                result = try client.fetch(names, mirror: base, into: fresh, basis: Files.isDirectory(copy) ? copy : nil)
            } catch {
                if case .busy(let message) = error {
                    let until = fetcher.gate.backOff(host, status: 429, url: mirror, seconds: RsyncSource.busyBackoff,
                                                     reason: "rsync: \(message)")
                    pending.forEach { note($0, .failed, "\(Redact.url(base)): \(message); sigctl sends nothing to \(host) until \(Timestamp.text(until))") }
                } else {
                    pending.forEach { note($0, .failed, "\(Redact.url(base)): \(error.message)") }
                }
                continue
            }
            log.debug("rsync \(Redact.url(base)): \(result.transferred.count) files transferred, \(result.received) bytes received")
            var still: [FetchJob] = []
            for job in pending {
                let name = job.file.name
                let path = fresh + "/" + name
                guard Files.exists(path) else {
                    note(job, .failed, result.missing.contains(name)
                         ? "\(Redact.url(base))\(name): not on this mirror"
                         : "\(Redact.url(base))\(name): not delivered (\(result.problem ?? "larger than max_file_size, or not a regular file on the mirror"))")
                    still.append(job)
                    continue
                }
                switch check(job, path: path, sidecar: suffix.map { path + "." + $0 }, mirror: mirror) {
                case .settled(let outcome):
                    done.append(FileResult(name: name, outcome: outcome))
                case .rejected(let rejection):
                    note(job, .rejected, "\(Redact.url(base))\(name): \(rejection.reason)")
                    // The next mirror must deliver its own copy, not be judged by this one's.
                    unlink(path)
                    if let suffix { unlink(path + "." + suffix) }
                    if rejection.upstream {
                        leftovers[name]?.final = true
                        left.append((job, leftovers[name]))
                    } else {
                        still.append(job)
                    }
                }
            }
            pending = still
        }
        left += pending.map { ($0, leftovers[$0.file.name]) }
        keepCopy()
        return (done, left)
    }

    enum Checked {
        case settled(FileOutcome)
        case rejected(Rejection)
    }

    /// The installed version, or a staged copy that passed the feed's checks.
    func check(_ job: FetchJob, path: String, sidecar: String?, mirror: String) -> Checked {
        let raw = try? ClamAV.hashFile("sha256", path: path)
        if !job.force, let raw, let previous = job.previous, raw == previous.upstreamSHA256 ?? previous.sha256 {
            return .settled(.unchanged(mirror: mirror))
        }
        let staged = scratch + "/\(feed.name)/\(job.file.name)"
        unlink(staged)
        do {
            try Files.copy(path, to: staged)
            let lastModified = Files.modificationTime(path).map(HTTPDate.text)
            let accepted = try fetcher.checkFile(job, path: staged, sidecar: sidecar.flatMap { Files.exists($0) ? $0 : nil },
                                                 mirror: mirror, contentType: nil, etag: nil, lastModified: lastModified)
            if !job.force, accepted.sha256 != job.previous?.sha256,
               let older = Fetcher.olderThanInstalled(lastModified, previous: job.previous) {
                unlink(staged)
                return .rejected(Rejection("the mirror serves an older version (modified \(older.served)) than the installed one (\(older.installed)); sigctl never goes backwards",
                                           hint: "the mirror is behind; the installed version stays"))
            }
            return .settled(HTTPSource.translate(.downloaded(accepted), job: job))
        } catch let rejection as Rejection {
            unlink(staged)
            return .rejected(rejection)
        } catch {
            unlink(staged)
            return .rejected(Rejection("\(error)", hint: "the next run tries again"))
        }
    }

    /// This run's copy becomes the next run's basis; files it lacks keep their old copy.
    private func keepCopy() {
        let suffix = Fetcher.sidecarSuffix(feed.integrity)
        var wanted = Set<String>()
        for file in feed.files where file.enabled {
            wanted.insert(file.name)
            if let suffix { wanted.insert(file.name + "." + suffix) }
        }
        for name in Files.list(copy) where wanted.contains(name) && !Files.exists(fresh + "/" + name) {
            rename(copy + "/" + name, fresh + "/" + name)
        }
        for name in Files.list(fresh) where !wanted.contains(name) { Files.remove(fresh + "/" + name) }
        Files.remove(copy)
        if rename(fresh, copy) != 0 { log.debug("cannot keep the rsync copy \(copy): \(String(cString: strerror(errno)))") }
    }
}
