import Foundation

/// What a download must pass before libclamav sees it: the feed's integrity check
/// (sidecar or GPG signature), the content checks, and the sidecar probe that
/// recognises the installed version on a mirror without validators.
extension Fetcher {
    /// Integrity (sidecar or GPG, fetched over HTTP beside the file), then content checks.
    func checkDownload(_ job: FetchJob, path: String, mirror: String, url: String, response: HTTPResponse) throws -> DownloadedFile {
        let feed = job.feed
        if let length = response.headers["content-length"].flatMap(Int64.init), length != response.bodyBytes,
           response.headers["content-encoding"] == nil {
            throw Rejection("the download is truncated (\(response.bodyBytes) of \(length) bytes)", hint: "the next run downloads it again")
        }
        var sidecar: String? = nil
        if let suffix = Self.sidecarSuffix(feed.integrity) {
            let sidecarPath = path + "." + suffix
            let what = suffix == "sig" ? "GPG signature" : "\(suffix) sidecar"
            let sidecarResponse: HTTPResponse
            do {
                let request = makeRequest(url + "." + suffix, maxBytes: 64 << 10)
                sidecarResponse = try download(request, to: sidecarPath, label: "\(feed.name)/\(job.file.name).\(suffix)")
            } catch {
                unlink(sidecarPath)
                throw Rejection("cannot fetch the \(what) (\(error))", hint: "the next run tries again")
            }
            guard sidecarResponse.status == 200 else {
                unlink(sidecarPath)
                throw Rejection("the \(what) \(url).\(suffix) answered HTTP \(sidecarResponse.status)",
                                hint: suffix == "sig" ? "the mirror may be mid-sync"
                                    : "the mirror may be mid-sync; or set integrity = \"none\" if the feed has no sidecars")
            }
            sidecar = sidecarPath
        }
        defer { if let sidecar { unlink(sidecar) } }
        return try checkFile(job, path: path, sidecar: sidecar, mirror: mirror, contentType: response.headers["content-type"],
                             etag: response.headers["etag"], lastModified: response.headers["last-modified"])
    }

    /// The sidecar a feed's integrity check reads beside each file ("sig", "sha256", "md5"), if any.
    static func sidecarSuffix(_ integrity: Integrity) -> String? {
        switch integrity {
        case .none: return nil
        case .gpg: return "sig"
        case .sha256, .md5: return integrity.rawValue
        }
    }

    /// The checks every transport shares, on a file and its sidecar already on disk:
    /// integrity (digest or GPG signature), decompression, content and count collapse.
    func checkFile(_ job: FetchJob, path: String, sidecar: String?, mirror: String, contentType: String?,
                   etag: String?, lastModified: String?) throws -> DownloadedFile {
        let feed = job.feed
        var sha256: String? = nil // kept when the integrity check already computed it
        var md5: String? = nil
        var signatureDigest: String? = nil
        switch feed.integrity {
        case .none:
            break
        case .sha256, .md5:
            let algorithm = feed.integrity.rawValue
            guard let sidecar else { throw Rejection("the \(algorithm) sidecar is missing", hint: "the mirror may be mid-sync") }
            let expected = Sidecar.digest(from: FileManager.default.contents(atPath: sidecar) ?? Data(),
                                          length: algorithm == "md5" ? 32 : 64)
            guard let expected else {
                throw Rejection("the \(algorithm) sidecar holds no \(algorithm) digest", hint: "the mirror serves a broken sidecar")
            }
            let actual = try ClamAV.hashFile(algorithm, path: path)
            if algorithm == "sha256" { sha256 = actual } else { md5 = actual }
            guard actual == expected else {
                throw Rejection("bad \(algorithm) checksum (file \(actual), sidecar \(expected))",
                                hint: "the download is corrupt or the mirror is out of sync; the installed version stays")
            }
        case .gpg:
            guard let sidecar else { throw Rejection("the GPG signature is missing", hint: "the mirror may be mid-sync") }
            try gpg.verify(feed: feed.name, file: path, signature: sidecar, fingerprint: feed.gpgFingerprint ?? "")
            signatureDigest = try ClamAV.hashFile("sha256", path: sidecar)
        }
        if job.file.gzip {
            try ContentChecks.gunzip(path, maxBytes: settings.maxFileSize)
            sha256 = nil
        }
        let signatures = try ContentChecks.check(path: path, name: job.file.name, contentType: contentType,
                                                 requireFinalNewline: feed.integrity == .none)
        try ContentChecks.checkCollapse(new: signatures, installed: job.previous?.signatures, force: job.force)
        return DownloadedFile(path: path, etag: etag, lastModified: lastModified,
                              mirror: mirror, sha256: try sha256 ?? ClamAV.hashFile("sha256", path: path),
                              size: Files.size(path) ?? 0, signatures: signatures, md5: job.file.gzip ? nil : md5,
                              signatureDigest: job.file.gzip ? nil : signatureDigest)
    }

    /// True when the feed's sidecar on this mirror names the installed file: its sha256
    /// or md5 digest, or byte for byte the GPG signature it was installed with.
    func sidecarShowsInstalled(_ job: FetchJob, url: String, previous: FileState) -> Bool {
        guard !job.file.gzip else { return false }
        let suffix: String, expected: String?
        switch job.feed.integrity {
        case .sha256: (suffix, expected) = ("sha256", previous.upstreamSHA256 ?? previous.sha256)
        case .md5: (suffix, expected) = ("md5", previous.md5)
        case .gpg: (suffix, expected) = ("sig", previous.signatureDigest)
        case .none: return false
        }
        guard let expected else { return false }
        let path = scratch + "/\(job.feed.name)/\(job.file.name).probe.\(suffix)"
        defer { unlink(path) }
        guard let response = try? download(makeRequest(url + "." + suffix, maxBytes: 64 << 10), to: path,
                                           label: "\(job.feed.name)/\(job.file.name).\(suffix)"),
              response.status == 200, let data = FileManager.default.contents(atPath: path) else { return false }
        if suffix == "sig" { return (try? ClamAV.hash("sha256", data)) == expected }
        return Sidecar.digest(from: data, length: suffix == "md5" ? 32 : 64) == expected
    }
}
