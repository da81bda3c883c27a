import Foundation
import Synchronization

/// A file that passed every pre-libclamav check.
public struct DownloadedFile: Sendable {
    public var path: String
    public var etag: String?
    public var lastModified: String?
    public var mirror: String
    public var sha256: String
    public var size: Int64
    public var signatures: Int
    /// The md5 the sidecar named (md5 feeds), kept to recognise the file on another mirror.
    public var md5: String? = nil
    /// sha256 of the detached GPG signature (gpg feeds), likewise.
    public var signatureDigest: String? = nil
}

public enum FetchOutcome: Sendable {
    /// The mirror answered 304: the installed version is current.
    case unchanged(mirror: String)
    case downloaded(DownloadedFile)
    /// No mirror could deliver the file (network, HTTP errors, back-off).
    case failed(String)
    /// A mirror delivered it, but it failed a check (checksum, signature, content).
    case rejected(String)
    /// Every mirror's host asked sigctl to wait; not an error, the next run retries.
    case deferred(String)
}

/// One file to fetch, with what sigctl remembers about it.
public struct FetchJob: Sendable {
    public var feed: Feed
    public var file: FeedFile
    public var previous: FileState?
    /// Ignore stored validators and the count-collapse check.
    public var force: Bool
}

/// Fetches feed files with libcurl on threads of its own (never the Swift
/// concurrency pool), at most `maxConnectionsPerHost` at a time per host.
public final class Fetcher: Sendable {
    let settings: Settings
    let gate: HostGate
    let scratch: String
    let gpg: GPGVerifier
    let log: Log
    let failpoints: Failpoints
    let showProgress: Bool

    /// Back-offs are judged by the context's clock.
    public init(settings: Settings, backoffs: [String: HostBackoff], scratch: String, context: SigctlContext) {
        self.settings = settings
        self.gate = HostGate(backoffs: backoffs, limit: settings.maxConnectionsPerHost, clock: context.clock)
        self.scratch = scratch
        self.gpg = GPGVerifier(stateDir: settings.stateDir)
        self.log = context.log
        self.failpoints = context.failpoints
        self.showProgress = Terminal.stderrIsTTY && log.level >= .normal
    }

    private let checkTime = Mutex<Double>(0)

    /// Seconds spent in integrity and content checks, summed over all threads.
    public var checkSeconds: Double { checkTime.withLock { $0 } }

    /// Back-offs after this run (the ones read from state plus new ones).
    public var backoffs: [String: HostBackoff] { gate.backoffs }

    /// "host:port" of a URL: the unit of back-off and connection limits.
    public static func host(of url: String) -> String {
        guard let components = URLComponents(string: url), let host = components.host?.lowercased() else { return url }
        let port = components.port ?? ["https": 443, "rsync": 873][components.scheme?.lowercased() ?? ""] ?? 80
        return "\(host):\(port)"
    }

    /// Runs all jobs and returns their outcomes in the same order.
    public func run(_ jobs: [FetchJob]) -> [FetchOutcome] {
        try? Files.makeDirectory(scratch)
        // Signing keys first, once per feed, so file jobs never race for them.
        let missingKeys = importKeys(for: jobs.map(\.feed))
        let queue = JobQueue(hosts: jobs.map { Fetcher.host(of: $0.file.url ?? $0.feed.url(of: $0.file, mirror: $0.feed.mirrors.first ?? "")) },
                             limit: gate.limit)
        let results = Mutex<[Int: FetchOutcome]>([:])
        let group = DispatchGroup()
        for _ in 0..<max(1, min(jobs.count, 8)) {
            group.enter()
            let thread = Thread { [self] in
                defer { group.leave() }
                while let index = queue.take() {
                    let outcome = missingKeys[jobs[index].feed.name].map(FetchOutcome.failed) ?? self.fetch(jobs[index])
                    results.withLock { $0[index] = outcome }
                    queue.finish(index)
                }
            }
            thread.start()
        }
        group.wait()
        let collected = results.withLock { $0 }
        return jobs.indices.map { collected[$0] ?? .failed("internal error: no result") }
    }

    /// Tries each mirror in order until one delivers a file that passes the checks.
    func fetch(_ job: FetchJob) -> FetchOutcome {
        let feed = job.feed, file = job.file
        var failures: [String] = []
        var rejections: [String] = []
        var waiting = 0
        let mirrors = file.url != nil ? [file.url!] : feed.mirrors
        let directory = scratch + "/\(feed.name)"
        try? Files.makeDirectory(directory)
        let target = directory + "/" + file.name

        for mirror in mirrors {
            if let last = failures.last ?? rejections.last {
                log.info("\(feed.name)/\(file.name): \(last); trying the next mirror")
            }
            let url = file.url ?? feed.url(of: file, mirror: mirror)
            let host = Fetcher.host(of: url)
            if let backoff = gate.backoff(host) {
                failures.append("\(host) asked sigctl to wait (HTTP \(backoff.status)) until \(Timestamp.text(backoff.until))")
                waiting += 1
                continue
            }
            var request = makeRequest(url, maxBytes: settings.maxFileSize)
            let validators = job.force ? nil : job.previous?.validators(for: mirror)
            if let validators {
                if let etag = validators.etag { request.headers.append("If-None-Match: \(etag)") }
                if let lastModified = validators.lastModified { request.headers.append("If-Modified-Since: \(lastModified)") }
            } else if !job.force, let previous = job.previous, sidecarShowsInstalled(job, url: url, previous: previous) {
                // A mirror sigctl has no validators from (failover): the sidecar says whether
                // the installed file is current, so an unchanged file is not downloaded again.
                log.info("\(feed.name)/\(file.name): \(host)'s sidecar matches the installed file; not downloading it again")
                return .unchanged(mirror: mirror)
            }
            let partial = Partial.load(partialDirectory, feed: feed.name, file: file.name, url: url)
            if let partial {
                request.resumeFrom = partial.bytes
                request.headers.append("If-Range: \(partial.etag)")
            }
            var response: HTTPResponse
            do {
                response = try download(request, to: target, label: "\(feed.name)/\(file.name)")
            } catch let error as CurlError {
                failures.append("\(url): \(error.message)")
                Partial.keep(partialDirectory, feed: feed.name, file: file.name, url: url, error: error,
                             received: target, earlier: partial)
                continue
            } catch {
                failures.append("\(url): \(error)")
                continue
            }
            switch response.status {
            case 304 where validators == nil:
                unlink(target)
                failures.append("\(url): HTTP 304 Not Modified to a request that carried no validators; the mirror is broken")
                continue
            case 304:
                unlink(target)
                Partial.discard(partialDirectory, feed: feed.name, file: file.name)
                return .unchanged(mirror: mirror)
            case 200:
                Partial.discard(partialDirectory, feed: feed.name, file: file.name)
            case 206 where partial != nil:
                do {
                    try Partial.complete(partialDirectory, feed: feed.name, file: file.name, partial: partial!,
                                         rest: target, contentRange: response.headers["content-range"], etag: response.headers["etag"])
                    log.info("\(feed.name)/\(file.name): resumed an interrupted download at byte \(partial!.bytes)")
                } catch {
                    unlink(target)
                    Partial.discard(partialDirectory, feed: feed.name, file: file.name)
                    failures.append("\(url): cannot resume the earlier partial download (\(error)); the next run starts over")
                    continue
                }
            case 429, 403:
                unlink(target)
                let until = gate.backOff(host, status: response.status, url: url,
                                         seconds: Self.retryAfter(response.headers["retry-after"], now: gate.clock.now()) ?? (response.status == 429 ? 4 * 3600 : 24 * 3600))
                failures.append("\(url): HTTP \(response.status); sigctl sends nothing to \(host) until \(Timestamp.text(until))")
                continue
            default:
                unlink(target)
                // A range the mirror will not serve (416 and the like): start over next time.
                if partial != nil { Partial.discard(partialDirectory, feed: feed.name, file: file.name) }
                failures.append("\(url): HTTP \(response.status)")
                continue
            }
            let checkStart = Date()
            defer { checkTime.withLock { $0 += Date().timeIntervalSince(checkStart) } }
            do {
                let accepted = try checkDownload(job, path: target, mirror: mirror, url: url, response: response)
                if let older = Self.olderThanInstalled(response.headers["last-modified"], previous: job.previous), !job.force,
                   accepted.sha256 != job.previous?.sha256 {
                    unlink(target)
                    failures.append("\(url): the mirror serves an older version (Last-Modified \(older.served)) than the installed one (\(older.installed)); sigctl never goes backwards")
                    continue
                }
                return .downloaded(accepted)
            } catch let rejection as Rejection {
                unlink(target)
                rejections.append("\(url): \(rejection.reason)")
                if mirror == mirrors.last || rejection.upstream {
                    return .rejected(rejections.joined(separator: "; ") + "; " + rejection.hint)
                }
            } catch {
                unlink(target)
                failures.append("\(url): \(error)")
            }
        }
        if !rejections.isEmpty { return .rejected(rejections.joined(separator: "; ")) }
        if waiting == mirrors.count { return .deferred(failures.joined(separator: "; ")) }
        return .failed(failures.joined(separator: "; "))
    }

    /// Where interrupted downloads wait to be resumed.
    var partialDirectory: String { settings.stateDir + "/partial" }

    /// A GET with the configured timeouts, proxy and User-Agent.
    func makeRequest(_ url: String, maxBytes: Int64) -> HTTPRequest {
        var request = HTTPRequest(url: url, userAgent: settings.userAgent)
        request.connectTimeout = settings.connectTimeout
        request.stallTimeout = settings.stallTimeout
        request.maxBytes = maxBytes
        request.proxy = settings.proxy?.url
        return request
    }

    /// Downloads one URL into `path`, showing progress on a terminal.
    func download(_ request: HTTPRequest, to path: String, label: String) throws -> HTTPResponse {
        unlink(path)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SystemError.errno("open", path: path) }
        defer { close(fd) }
        let curl = try CurlEasy()
        // Progress on a terminal; and for tests, the failpoint `fetch.receiving` (kill or
        // pause), reached once per download when its first body bytes are in the file.
        var receiving = !failpoints.isEmpty
        let progress: ((Int64, Int64) -> Void)? = showProgress || receiving ? { [log, showProgress, failpoints] now, total in
            if showProgress {
                let amount = total > 0 ? "\(now / 1024)/\(total / 1024) KiB" : "\(now / 1024) KiB"
                log.progress("\r\u{1b}[K\(label): \(amount)")
            }
            if receiving && now > 0 {
                receiving = false
                try? failpoints.reach("fetch.receiving")
            }
        } : nil
        defer { if showProgress { log.progress("\r\u{1b}[K") } }
        var request = request
        for _ in 0...Self.maxRedirects {
            log.debug("GET \(request.url) \(request.headers.joined(separator: ", "))")
            let response: HTTPResponse
            do {
                response = try curl.perform(request, into: fd, progress: progress)
            } catch var error as CurlError where error.status == 0 {
                // No HTTP answer: through a proxy, the proxy is the first thing that failed. Say which.
                if let proxy = settings.proxy { error.message += " (through the proxy \(proxy.redacted))" }
                throw error
            }
            log.debug("\(request.url): HTTP \(response.status), \(response.bodyBytes) bytes")
            guard [301, 302, 303, 307, 308].contains(response.status), let location = response.headers["location"] else {
                return response
            }
            request.url = try Self.followable(location, from: request.url)
            ftruncate(fd, 0)
            lseek(fd, 0, SEEK_SET)
        }
        throw CurlError(code: -1, kind: .other, message: "more than \(Self.maxRedirects) redirects (a redirect loop?)", bodyBytes: 0)
    }

    static let maxRedirects = 5

    /// Where a redirect may lead: the same host and port (or the https port of the same
    /// host), never another host. A mirror that sends sigctl elsewhere is named, so the
    /// admin can list that place as a mirror if it is trusted.
    static func followable(_ location: String, from current: String) throws -> String {
        guard let base = URL(string: current), let target = URL(string: location, relativeTo: base)?.absoluteURL,
              let scheme = target.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            throw CurlError(code: -1, kind: .other, message: "the mirror redirects to \"\(location)\", which is not an http(s) URL", bodyBytes: 0)
        }
        let sameHost = target.host?.lowercased() == base.host?.lowercased()
        let samePort = host(of: target.absoluteString) == host(of: current) || (scheme == "https" && target.port == nil)
        guard sameHost && samePort else {
            throw CurlError(code: -1, kind: .other,
                            message: "the mirror redirects to another host (\(target.absoluteString)); sigctl follows redirects only on the mirror's own host: list that URL in mirrors if you trust it",
                            bodyBytes: 0)
        }
        return target.absoluteString
    }

    /// Imports the signing key of every GPG feed that lacks it; returns feed → problem.
    func importKeys(for feeds: [Feed]) -> [String: String] {
        try? Files.makeDirectory(scratch)
        var problems: [String: String] = [:]
        for feed in Dictionary(feeds.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a }).values
        where feed.integrity == .gpg && !gpg.hasKey(feed: feed.name, fingerprint: feed.gpgFingerprint ?? "") {
            if let problem = fetchKey(feed) { problems[feed.name] = problem }
        }
        return problems
    }

    /// Downloads and imports the feed's signing key; returns a problem or nil.
    private func fetchKey(_ feed: Feed) -> String? {
        guard let keyURL = feed.gpgKeyURL, let fingerprint = feed.gpgFingerprint else {
            return "integrity = \"gpg\" but no key is configured"
        }
        let host = Fetcher.host(of: keyURL)
        if let backoff = gate.backoff(host) {
            return "cannot fetch the signing key: \(host) asked sigctl to wait until \(Timestamp.text(backoff.until))"
        }
        let path = scratch + "/\(feed.name).key"
        let request = makeRequest(keyURL, maxBytes: 1 << 20)
        do {
            let response = try download(request, to: path, label: "\(feed.name) key")
            defer { unlink(path) }
            guard response.status == 200 else { return "cannot fetch the signing key \(keyURL): HTTP \(response.status)" }
            try gpg.importKey(feed: feed.name, keyFile: path, fingerprint: fingerprint)
            log.info("\(feed.name): imported signing key \(fingerprint) from \(keyURL)")
            return nil
        } catch let rejection as Rejection {
            return "\(rejection.reason); \(rejection.hint)"
        } catch {
            return "cannot fetch the signing key \(keyURL): \(error)"
        }
    }

    /// The dates, when a mirror's Last-Modified is older than the installed version's.
    static func olderThanInstalled(_ served: String?, previous: FileState?) -> (served: String, installed: String)? {
        guard let served, let installed = previous?.installedLastModified,
              let servedDate = HTTPDate.parse(served), let installedDate = HTTPDate.parse(installed), servedDate < installedDate else { return nil }
        return (served, installed)
    }

    /// Retry-After as seconds: a number, or an HTTP date.
    /// Retry-After in seconds: a number, or an HTTP date measured from `now` (the run's clock).
    static func retryAfter(_ value: String?, now: Date) -> Int? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if let seconds = Int(value) { return max(0, seconds) }
        guard let date = HTTPDate.parse(value) else { return nil }
        return max(0, Int(date.timeIntervalSince(now).rounded(.up)))
    }

}
