import Foundation

/// What a download must pass before libclamav sees it: the feed's integrity check
/// (sidecar or GPG signature), the content checks, and the sidecar probe that
/// recognises the installed version on a mirror without validators.
extension Fetcher {
    /// Integrity (sidecar or GPG), then content checks.
    func checkDownload(_ job: FetchJob, path: String, mirror: String, url: String, response: HTTPResponse) throws -> DownloadedFile {
        let feed = job.feed
        if let length = response.headers["content-length"].flatMap(Int64.init), length != response.bodyBytes,
           response.headers["content-encoding"] == nil {
            throw Rejection("the download is truncated (\(response.bodyBytes) of \(length) bytes)", hint: "the next run downloads it again")
        }
        var sha256: String? = nil // kept when the integrity check already computed it
        var md5: String? = nil
        var signatureDigest: String? = nil
        switch feed.integrity {
        case .none:
            break
        case .sha256, .md5:
            let algorithm = feed.integrity.rawValue
            let sidecarPath = path + "." + algorithm
            let sidecarResponse: HTTPResponse
            do {
                let request = makeRequest(url + "." + algorithm, maxBytes: 64 << 10)
                sidecarResponse = try download(request, to: sidecarPath, label: "\(feed.name)/\(job.file.name).\(algorithm)")
            } catch {
                throw Rejection("cannot fetch the \(algorithm) sidecar (\(error))", hint: "the next run tries again")
            }
            defer { unlink(sidecarPath) }
            guard sidecarResponse.status == 200 else {
                throw Rejection("the \(algorithm) sidecar \(url).\(algorithm) answered HTTP \(sidecarResponse.status)",
                                hint: "the mirror may be mid-sync; or set integrity = \"none\" if the feed has no sidecars")
            }
            let expected = Sidecar.digest(from: FileManager.default.contents(atPath: sidecarPath) ?? Data(),
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
            let signaturePath = path + ".sig"
            defer { unlink(signaturePath) }
            let request = makeRequest(url + ".sig", maxBytes: 64 << 10)
            let sigResponse: HTTPResponse
            do {
                sigResponse = try download(request, to: signaturePath, label: "\(feed.name)/\(job.file.name).sig")
            } catch {
                throw Rejection("cannot fetch the GPG signature (\(error))", hint: "the next run tries again")
            }
            guard sigResponse.status == 200 else {
                throw Rejection("the GPG signature \(url).sig answered HTTP \(sigResponse.status)", hint: "the mirror may be mid-sync")
            }
            try gpg.verify(feed: feed.name, file: path, signature: signaturePath, fingerprint: feed.gpgFingerprint ?? "")
            signatureDigest = try ClamAV.hashFile("sha256", path: signaturePath)
        }
        if job.file.gzip {
            try ContentChecks.gunzip(path, maxBytes: settings.maxFileSize)
            sha256 = nil
        }
        let signatures = try ContentChecks.check(path: path, name: job.file.name, contentType: response.headers["content-type"],
                                                 requireFinalNewline: feed.integrity == .none)
        try ContentChecks.checkCollapse(new: signatures, installed: job.previous?.signatures, force: job.force)
        return DownloadedFile(path: path, etag: response.headers["etag"], lastModified: response.headers["last-modified"],
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
