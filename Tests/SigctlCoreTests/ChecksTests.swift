import Foundation
import Testing
@testable import SigctlCore

@Suite struct ChecksTests {
    @Test func sidecarFormats() {
        let digest = String(repeating: "ab", count: 32)
        #expect(Sidecar.digest(from: Data(digest.utf8), length: 64) == digest)
        #expect(Sidecar.digest(from: Data((digest + "\n").utf8), length: 64) == digest)
        #expect(Sidecar.digest(from: Data((digest.uppercased() + "  phish.ndb\n").utf8), length: 64) == digest)
        #expect(Sidecar.digest(from: Data("<html>not found</html>".utf8), length: 64) == nil)
        #expect(Sidecar.digest(from: Data(String(repeating: "a", count: 32).utf8), length: 64) == nil)
        #expect(Sidecar.digest(from: Data(), length: 32) == nil)
    }

    @Test func countsSignaturesAndSkipsComments() throws {
        let dir = TempDir()
        let path = dir.write("a.ndb", "# comment\nA:0:*:414243\nB:0:*:444546\n")
        #expect(try ContentChecks.check(path: path, name: "a.ndb", contentType: nil) == 2)
        let noFinalNewline = dir.write("b.ndb", "A:0:*:414243\nB:0:*:444546")
        #expect(try ContentChecks.check(path: noFinalNewline, name: "b.ndb", contentType: nil) == 2)
    }

    /// Downloads are checked in 1 MiB chunks: counts, blank lines and the final newline
    /// are the same across chunk boundaries.
    @Test func bigDownloadsAreCheckedAcrossChunks() throws {
        let dir = TempDir()
        let lines = (0..<60_000).map { "Sig.Big-\($0):0:*:\(String(repeating: "41", count: 12))" }
        let text = lines.joined(separator: "\n") + "\n"
        #expect(text.utf8.count > 2 << 20)
        #expect(try ContentChecks.check(path: dir.write("big.ndb", text), name: "big.ndb", contentType: nil) == 60_000)
        let blank = lines[..<50_000].joined(separator: "\n") + "\n\n" + lines[50_000...].joined(separator: "\n") + "\n"
        let error = #expect(throws: Rejection.self) {
            try ContentChecks.check(path: dir.write("blank.ndb", blank), name: "blank.ndb", contentType: nil)
        }
        #expect(error?.reason.contains("line 50001 is blank") == true)
        let cut = String(text.dropLast())
        #expect(throws: Rejection.self) {
            try ContentChecks.check(path: dir.write("cut.ndb", cut), name: "cut.ndb", contentType: nil, requireFinalNewline: true)
        }
    }

    @Test func rejectsBrokenDownloads() {
        let dir = TempDir()
        let cases: [(String, String, String?)] = [
            ("empty.ndb", "", nil),
            ("page.ndb", "  <!DOCTYPE html>\n<html><body>oops</body></html>\n", nil),
            ("typed.ndb", "A:0:*:414243\n", "text/html; charset=utf-8"),
            ("blank.ndb", "A:0:*:414243\n\nB:0:*:444546\n", nil),
            ("trailing.ndb", "A:0:*:414243\n\n", nil),
            ("crlfblank.ndb", "A:0:*:414243\r\n\r\n", nil),
            ("fake.cvd", "not a cvd", nil),
        ]
        for (name, content, type) in cases {
            let path = dir.write(name, content)
            #expect(throws: Rejection.self, "\(name)") { try ContentChecks.check(path: path, name: name, contentType: type) }
        }
        let gzip = dir.path + "/gz.ndb"
        FileManager.default.createFile(atPath: gzip, contents: Data([0x1f, 0x8b, 0x08, 0x00, 0x00]))
        #expect(throws: Rejection.self) { try ContentChecks.check(path: gzip, name: "gz.ndb", contentType: nil) }
    }

    @Test func cvdHeaderGivesTheCount() throws {
        let dir = TempDir()
        let path = dir.write("x.cvd", "ClamAV-VDB:08 Mar 2021 10-00 +0000:333:92:63:abcd:sig:builder:1615197600" + String(repeating: " ", count: 400))
        #expect(try ContentChecks.check(path: path, name: "x.cvd", contentType: nil) == 92)
    }

    @Test func collapseNeedsForce() throws {
        #expect(throws: Rejection.self) { try ContentChecks.checkCollapse(new: 4, installed: 10, force: false) }
        try ContentChecks.checkCollapse(new: 4, installed: 10, force: true)
        try ContentChecks.checkCollapse(new: 5, installed: 10, force: false)
        try ContentChecks.checkCollapse(new: 1, installed: nil, force: false)
    }

    @Test func gunzipRoundTripAndCorruption() throws {
        let dir = TempDir()
        let plain = dir.write("a.ndb", "A:0:*:414243\n")
        let result = try Process.run(URL(fileURLWithPath: "/bin/gzip"), arguments: ["-k", plain])
        result.waitUntilExit()
        let gz = plain + ".gz"
        try ContentChecks.gunzip(gz, maxBytes: 1 << 20)
        #expect(dir.read("a.ndb.gz") == "A:0:*:414243\n")
        let broken = dir.write("b.gz", "\u{1f}garbage")
        #expect(throws: Rejection.self) { try ContentChecks.gunzip(broken, maxBytes: 1 << 20) }
    }

    @Test func aGzipBombIsCutOffAtTheLimitWhileStreaming() throws {
        let dir = TempDir()
        // 64 MiB of zeros compress to about 64 KiB.
        let bomb = dir.path + "/bomb.ndb.gz"
        let made = try Process.run(URL(fileURLWithPath: "/bin/sh"), arguments: ["-c", "head -c 67108864 /dev/zero | gzip -c > \(bomb)"])
        made.waitUntilExit()
        #expect((Files.size(bomb) ?? 0) < 1 << 20)
        do {
            try ContentChecks.gunzip(bomb, maxBytes: 1 << 20)
            Issue.record("a bomb must be refused")
        } catch let rejection as Rejection {
            #expect(rejection.reason.contains("decompresses to more than the 1048576-byte limit"))
        }
        #expect(!Files.exists(bomb + ".plain"), "nothing of it is left on disk")
    }

    @Test func withoutAChecksumACutLastLineIsTruncation() throws {
        let dir = TempDir()
        let cut = dir.write("cut.ndb", "A:0:*:41424344\nB:0:*:4142")
        #expect(throws: Rejection.self) { try ContentChecks.check(path: cut, name: "cut.ndb", contentType: nil, requireFinalNewline: true) }
        #expect(try ContentChecks.check(path: cut, name: "cut.ndb", contentType: nil) == 2, "with a checksum the end proves nothing")
    }

    @Test func redirectsAreFollowedOnlyOnTheMirrorsOwnHost() throws {
        #expect(try Fetcher.followable("/other/path.ndb", from: "http://127.0.0.1:8080/f/a.ndb") == "http://127.0.0.1:8080/other/path.ndb")
        #expect(try Fetcher.followable("https://a.example/f/a.ndb", from: "http://a.example/f/a.ndb") == "https://a.example/f/a.ndb")
        #expect(throws: CurlError.self) { try Fetcher.followable("http://127.0.0.2:8080/f/a.ndb", from: "http://127.0.0.1:8080/f/a.ndb") }
        #expect(throws: CurlError.self) { try Fetcher.followable("http://127.0.0.1:9090/f/a.ndb", from: "http://127.0.0.1:8080/f/a.ndb") }
        #expect(throws: CurlError.self) { try Fetcher.followable("file:///etc/passwd", from: "http://127.0.0.1:8080/f/a.ndb") }
    }

    @Test func retryAfterAcceptsSecondsAndDates() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(Fetcher.retryAfter("120", now: now) == 120)
        #expect(Fetcher.retryAfter(nil, now: now) == nil)
        #expect(Fetcher.retryAfter("soon", now: now) == nil)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        let inAnHour = formatter.string(from: now.addingTimeInterval(3600))
        #expect(Fetcher.retryAfter(inAnHour, now: now) == 3600, "measured from the run's clock")
    }

    @Test func hostsIncludeThePort() {
        #expect(Fetcher.host(of: "https://Mirror.Example/x/a.ndb") == "mirror.example:443")
        #expect(Fetcher.host(of: "http://127.0.0.1:8080/a.ndb") == "127.0.0.1:8080")
    }

    @Test func jobQueueKeepsToTheLimitPerHost() {
        let queue = JobQueue(hosts: ["a", "a", "a", "b"], limit: 2)
        #expect(queue.take() == 0)
        #expect(queue.take() == 1)
        #expect(queue.take() == 3, "host a is full, so b goes next")
        queue.finish(0)
        #expect(queue.take() == 2)
        queue.finish(1); queue.finish(2); queue.finish(3)
        #expect(queue.take() == nil)
    }

    @Test func canaryLineMatchesOnlyItsPayloadAndTheProbeIsAMail() throws {
        let canary = try Canary.make(generation: 7)
        let other = try Canary.make(generation: 7)
        #expect(canary.name != other.name)
        #expect(canary.payload != other.payload)
        let line = try canary.databaseLine()
        #expect(line == "\(try ClamAV.hash("md5", canary.payload)):\(canary.payload.count):\(canary.name)\n")
        let mail = String(decoding: canary.probe, as: UTF8.self)
        #expect(mail.hasPrefix("From: "), "libclamav types a buffer as mail by its first header")
        #expect(mail.contains(canary.payload.base64EncodedString(options: [.lineLength76Characters, .endLineWithLineFeed])))
        #expect(!canary.probe.contains(canary.payload), "the raw message must not carry the payload undecoded")
        #expect(try Canary.make(generation: 7, mail: false).probe.count == 512 + "sigctl reload canary, generation 7, 00000000\n".count)
        #expect(canary.matches(canary.name + ".UNOFFICIAL"))
        #expect(!canary.matches(other.name + ".UNOFFICIAL"))
    }
}

@Suite struct RedactTests {
    static let id = String(repeating: "0123456789abcdef", count: 8)

    @Test func secretsInURLsAreRedactedAndFileNamesKept() {
        #expect(Redact.url("https://www.securiteinfo.com/get/signatures/\(Self.id)/securiteinfo.hdb")
            == "https://www.securiteinfo.com/get/signatures/REDACTED/securiteinfo.hdb")
        #expect(Redact.url("https://user:pw@mirror.example/f/a.ndb?key=s3cret&x=1") == "https://REDACTED@mirror.example/f/a.ndb?key=REDACTED&x=REDACTED")
        #expect(Redact.url("http://127.0.0.1:8080/sanesecurity/phish.ndb") == "http://127.0.0.1:8080/sanesecurity/phish.ndb")
        let text = "https://a.example/get/\(Self.id)/x.hdb: HTTP 404; https://b.example/x.hdb: timeout"
        #expect(Redact.text(text) == "https://a.example/get/REDACTED/x.hdb: HTTP 404; https://b.example/x.hdb: timeout")
    }

    @Test func validatorsAreStoredUnderTheRedactedMirror() throws {
        var file = FileState()
        let mirror = "https://www.securiteinfo.com/get/signatures/\(Self.id)/"
        file.setValidators(Validators(etag: "\"e\"", lastModified: nil), for: mirror)
        #expect(file.validators(for: mirror)?.etag == "\"e\"")
        let json = String(decoding: try JSONEncoder.sigctl.encode(file), as: UTF8.self)
        #expect(!json.contains(Self.id))
    }
}
