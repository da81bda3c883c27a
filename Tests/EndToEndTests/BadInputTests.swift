import Foundation
import SigctlCore
import Testing

/// Every kind of bad input gets one clear message naming feed, file and cause;
/// the live set stays as it was and clamd keeps scanning with it.
@Suite(.serialized) struct BadInputTests {
    /// A sandbox with version 1 of two feeds installed and confirmed.
    final class Installed {
        let box: Sandbox
        let key: TestKey
        let v1: GeneratedSignatures
        let summed: GeneratedSignatures
        let other: GeneratedSignatures

        init() throws {
            box = try Sandbox()
            try box.clamd.start()
            key = try TestKey(directory: box.root + "/gnupg")
            v1 = GeneratedSignatures.ndb("Test.V1", count: 8)
            summed = GeneratedSignatures.ndb("Test.S1", count: 8)
            other = GeneratedSignatures.ndb("Test.Other", count: 2)
            try box.publish(feed: "gpgfeed", file: "g.ndb", v1.text, key: key)
            try box.publish(feed: "sumfeed", file: "s.ndb", summed.text)
            try box.publish(feed: "otherfeed", file: "o.ndb", other.text)
            try box.writeFeed("gpgfeed", files: ["g.ndb"], integrity: "gpg", key: key)
            try box.writeFeed("sumfeed", files: ["s.ndb"], integrity: "sha256")
            try box.writeFeed("otherfeed", files: ["o.ndb"], integrity: "md5")
            let (result, _) = try box.update()
            guard result.status == 0 else { throw HarnessError("setup update failed: \(result.stderr)") }
        }

        /// Runs an update that must be refused for `feed`/`file`, and checks nothing live changed.
        func expectRejected(feed: String, file: String, status: ItemStatus = .rejected, cause: String,
                            sourceLocation: SourceLocation = #_sourceLocation) throws {
            let before = try box.liveSnapshot()
            let generation = try box.state().live?.generation
            let result = try box.sigctl(["update"])
            #expect(result.status == 1 || result.status == 2, "exit \(result.status), stderr: \(result.stderr)", sourceLocation: sourceLocation)
            let lines = result.stderr.split(separator: "\n").filter { $0.contains("\(feed)/\(file)") }
            #expect(lines.count == 1, "one message for \(feed)/\(file), got: \(result.stderr)", sourceLocation: sourceLocation)
            #expect(lines.first?.contains(status.rawValue) == true, "\(result.stderr)", sourceLocation: sourceLocation)
            #expect(lines.first?.lowercased().contains(cause.lowercased()) == true, "expected '\(cause)' in: \(result.stderr)", sourceLocation: sourceLocation)
            #expect(try box.liveSnapshot() == before, "the live files changed", sourceLocation: sourceLocation)
            #expect(try box.state().live?.generation == generation, sourceLocation: sourceLocation)
            // clamd still scans with the old set.
            #expect(try box.clamd.scan(v1.samples["Test.V1-1"]!) == "Test.V1-1.UNOFFICIAL", sourceLocation: sourceLocation)
            #expect(try box.clamd.scan(summed.samples["Test.S1-8"]!) == "Test.S1-8.UNOFFICIAL", sourceLocation: sourceLocation)
            #expect(try box.clamd.scan(other.samples["Test.Other-1"]!) == "Test.Other-1.UNOFFICIAL", sourceLocation: sourceLocation)
        }

        /// Puts a new, valid version of g.ndb on the mirror (so a download really happens).
        func publishNewGPGVersion() throws -> String {
            let text = v1.text + GeneratedSignatures.ndb("Test.V2", count: 1).text
            try box.publish(feed: "gpgfeed", file: "g.ndb", text, key: key)
            return text
        }
    }

    @Test func htmlPageInsteadOfDatabase() throws {
        let env = try Installed()
        let page = "<!DOCTYPE html><html><body>Mirror maintenance</body></html>\n"
        try env.box.mirror.setFaults(["/otherfeed/o.ndb": ["body": page]])
        try env.box.mirror.put("otherfeed/o.ndb.md5", try ClamAV.hash("md5", Data(page.utf8)))
        try env.expectRejected(feed: "otherfeed", file: "o.ndb", cause: "HTML page")
    }

    @Test func oneBadFeedDoesNotHoldBackTheOthers() throws {
        let env = try Installed()
        let newer = GeneratedSignatures.ndb("Test.V2", count: 1)
        try env.box.publish(feed: "gpgfeed", file: "g.ndb", env.v1.text + newer.text, key: env.key)
        try env.box.publish(feed: "sumfeed", file: "s.ndb", env.summed.text + "Broken.Line:0:*:zz-not-hex\n")
        let (result, report) = try env.box.update()
        #expect(result.status == 1, "partial: \(result.stderr)")
        #expect(report?.file("gpgfeed", "g.ndb")?.status == .updated)
        #expect(report?.file("sumfeed", "s.ndb")?.status == .rejected)
        #expect(report?.reload.result == .confirmed)
        #expect(try env.box.clamd.scan(newer.samples["Test.V2-1"]!) == "Test.V2-1.UNOFFICIAL")
        #expect(try env.box.clamd.scan(env.summed.samples["Test.S1-1"]!) == "Test.S1-1.UNOFFICIAL")
    }

    @Test func badChecksum() throws {
        let env = try Installed()
        try env.box.mirror.put("sumfeed/s.ndb", env.summed.text + "Test.Extra:0:*:41424344454647484950\n")
        try env.expectRejected(feed: "sumfeed", file: "s.ndb", cause: "bad sha256 checksum")
    }

    @Test func badGPGSignature() throws {
        let env = try Installed()
        let text = try env.publishNewGPGVersion()
        // The signature stays valid for the published text; the mirror serves altered bytes.
        try env.box.mirror.put("gpgfeed/g.ndb", text + "Evil.Sig:0:*:41424344454647484950\n")
        try env.expectRejected(feed: "gpgfeed", file: "g.ndb", cause: "GPG check failed")
    }

    @Test func truncatedBody() throws {
        let env = try Installed()
        _ = try env.publishNewGPGVersion()
        try env.box.mirror.setFaults(["/gpgfeed/g.ndb": ["truncate": 40]])
        try env.expectRejected(feed: "gpgfeed", file: "g.ndb", status: .failed, cause: "transfer closed")
    }

    @Test func blankLine() throws {
        let env = try Installed()
        try env.box.publish(feed: "sumfeed", file: "s.ndb", env.summed.text + "\n")
        try env.expectRejected(feed: "sumfeed", file: "s.ndb", cause: "is blank")
    }

    @Test func badPCREFailsOnlyAtCompileAndIsCaught() throws {
        let env = try Installed()
        try env.box.writeFeed("pcrefeed", files: ["p.ldb"])
        try env.box.publish(feed: "pcrefeed", file: "p.ldb", "Test.Good.Ldb;Engine:81-255,Target:0;0;41414141\n")
        #expect(try env.box.update().0.status == 0)
        try env.box.publish(feed: "pcrefeed", file: "p.ldb",
                            "Test.Good.Ldb;Engine:81-255,Target:0;0;41414141\nTest.Bad.Pcre;Engine:81-255,Target:0;0&1;41414141;0/abc(def/\n")
        try env.expectRejected(feed: "pcrefeed", file: "p.ldb", cause: "could not compile")
    }

    @Test func malformedSignatureIsNamedWithFileAndLine() throws {
        let env = try Installed()
        try env.box.publish(feed: "sumfeed", file: "s.ndb", env.summed.text + "Broken.Line:0:*:zz-not-hex\n")
        try env.expectRejected(feed: "sumfeed", file: "s.ndb", cause: "line 9")
    }

    @Test func signatureCountCollapse() throws {
        let env = try Installed()
        try env.box.publish(feed: "sumfeed", file: "s.ndb", env.summed.lines[0] + "\n")
        try env.expectRejected(feed: "sumfeed", file: "s.ndb", cause: "less than half")
        // --force accepts it on purpose.
        let forced = try env.box.sigctl(["update", "--force", "--feed", "sumfeed"])
        #expect(forced.status == 0, "\(forced.stderr)")
    }

    @Test func notFoundOnEveryMirror() throws {
        let env = try Installed()
        try env.box.mirror.setFaults(["/otherfeed/o.ndb": ["status": 404]])
        try env.expectRejected(feed: "otherfeed", file: "o.ndb", status: .failed, cause: "HTTP 404")
    }

    @Test func emptyFile() throws {
        let env = try Installed()
        try env.box.publish(feed: "sumfeed", file: "s.ndb", "")
        try env.expectRejected(feed: "sumfeed", file: "s.ndb", cause: "empty")
    }

    @Test func tooManyRequestsBacksOffUntilRetryAfter() throws {
        let env = try Installed()
        let path = "/otherfeed/o.ndb"
        try env.box.mirror.setFaults([path: ["status": 429, "retry_after": 3600]])
        try env.expectRejected(feed: "otherfeed", file: "o.ndb", status: .failed, cause: "HTTP 429")
        #expect(try env.box.state().hosts.isEmpty == false)
        try env.box.mirror.clearFaults()

        // Within Retry-After: not a single request reaches the host, and it is not an error.
        let count = env.box.mirror.requests().count
        let (quiet, report) = try env.box.update()
        #expect(quiet.status == 0, "\(quiet.stderr)")
        #expect(env.box.mirror.requests().count == count, "sigctl contacted a host that asked it to wait")
        #expect(report?.feeds.first { $0.name == "otherfeed" }?.status == .not_due)

        #expect(try env.box.sigctl(["status"]).stdout.contains("HTTP 429"))

        // Once it has expired (sigctl's clock two hours on), sigctl asks again.
        let (later, _) = try env.box.update(clockOffset: 7200)
        #expect(later.status == 0, "\(later.stderr)")
        #expect(env.box.mirror.requests(path: path).count > 1)
        #expect(try env.box.state().hosts.isEmpty, "the expired back-off is gone")
    }

    @Test func aFileSigctlDoesNotOwnIsNeverOverwritten() throws {
        let env = try Installed()
        let admin = "Admin.Own:0:*:4142434445464748\n"
        try admin.write(toFile: env.box.dbDir + "/mine.ndb", atomically: true, encoding: .utf8)
        try env.box.publish(feed: "sumfeed", file: "mine.ndb", GeneratedSignatures.ndb("Test.Mine", count: 1).text)
        try env.box.writeFeed("sumfeed", files: ["s.ndb", "mine.ndb"])
        try env.expectRejected(feed: "sumfeed", file: "mine.ndb", cause: "not installed by sigctl")
        #expect(try String(contentsOfFile: env.box.dbDir + "/mine.ndb", encoding: .utf8) == admin)
        #expect(env.box.mirror.requests(path: "/sumfeed/mine.ndb").isEmpty, "nothing is downloaded for it")
    }

    @Test func aChangedKeyFingerprintFetchesTheNewKey() throws {
        let env = try Installed()
        let newKey = try TestKey(directory: env.box.root + "/gnupg2")
        try FileManager.default.removeItem(atPath: env.box.mirror.root + "/gpgfeed/publickey.gpg")
        let newer = GeneratedSignatures.ndb("Test.Rekeyed", count: 1)
        try env.box.publish(feed: "gpgfeed", file: "g.ndb", env.v1.text + newer.text, key: newKey)
        // Signed by a key sigctl was not told about: rejected.
        try env.expectRejected(feed: "gpgfeed", file: "g.ndb", cause: "GPG check failed")
        // The admin confirms the new fingerprint: the new key is fetched and the file accepted.
        try env.box.writeFeed("gpgfeed", files: ["g.ndb"], integrity: "gpg", key: newKey)
        let result = try env.box.sigctl(["update"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try env.box.clamd.scan(newer.samples["Test.Rekeyed-1"]!) == "Test.Rekeyed-1.UNOFFICIAL")
    }

    @Test func aWrongKeyAtTheKeyURLIsRefused() throws {
        let box = try Sandbox()
        try box.writeSettings("clamd = \"none\"")
        let key = try TestKey(directory: box.root + "/gnupg")
        let impostor = try TestKey(directory: box.root + "/gnupg-impostor")
        try box.publish(feed: "f", file: "a.ndb", GeneratedSignatures.ndb("Test.Key", count: 1).text, key: impostor)
        try box.writeFeed("f", files: ["a.ndb"], integrity: "gpg", key: key)
        let result = try box.sigctl(["update"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("f/a.ndb: failed"))
        #expect(result.stderr.contains("not the configured \(key.fingerprint)"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: box.dbDir + "/a.ndb"))
    }

    @Test func cronHearsAboutAPersistentProblemOncePerDay() throws {
        let env = try Installed()
        try env.box.mirror.setFaults(["/otherfeed/o.ndb": ["status": 404]])
        let first = try env.box.sigctl(["update"])
        #expect(first.status == 2 || first.status == 1)
        #expect(first.stderr.contains("otherfeed/o.ndb: failed"))
        // The same failure on the next unattended run: same exit code, but no new mail for cron.
        let second = try env.box.sigctl(["update"])
        #expect(second.status == first.status)
        #expect(!second.stderr.contains("otherfeed/o.ndb"), "\(second.stderr)")
        #expect(try env.box.sigctl(["status"]).stdout.contains("HTTP 404"), "status still shows it")
        #expect(try env.box.sigctl(["update", "-v"]).stderr.contains("otherfeed/o.ndb: failed"), "-v shows it")
        let json = try env.box.update()
        #expect(json.1?.file("otherfeed", "o.ndb")?.status == .failed, "--json always carries it")
        // A different problem is news again.
        try env.box.mirror.setFaults(["/otherfeed/o.ndb": ["status": 500]])
        #expect(try env.box.sigctl(["update"]).stderr.contains("HTTP 500"))
    }

    @Test func forbiddenWithoutRetryAfterBacksOffForADay() throws {
        let env = try Installed()
        try env.box.mirror.setFaults(["/otherfeed/o.ndb": ["status": 403]])
        try env.expectRejected(feed: "otherfeed", file: "o.ndb", status: .failed, cause: "HTTP 403")
        let backoff = try #require(try env.box.state().hosts.values.first)
        #expect(abs(backoff.until.timeIntervalSinceNow - 86_400) < 120)
        let status = try env.box.sigctl(["status"])
        #expect(status.stdout.contains("backing off"))
    }
}
