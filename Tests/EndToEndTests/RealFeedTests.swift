import Foundation
import SigctlCore
import Testing

/// The real third-party databases in ../shared/fixtures, served by the loopback
/// mirror the way their providers lay them out.
@Suite(.serialized, .enabled(if: Paths.haveFixtures, "../shared/fixtures is absent: real-feed tests skipped"))
struct RealFeedTests {
    static let thirdparty = Paths.fixtures + "/thirdparty"

    func copyFixture(_ relative: String, to box: Sandbox, as path: String, key: TestKey? = nil) throws {
        let text = try String(contentsOfFile: Self.thirdparty + "/" + relative, encoding: .utf8)
        let parts = path.split(separator: "/")
        try box.publish(feed: String(parts[0]), file: String(parts[1]), text, key: key)
    }

    @Test func realDatabasesInstallTogetherAndAFeedChangeIsPickedUp() throws {
        let box = try Sandbox()
        try box.clamd.start()
        let key = try TestKey(directory: box.root + "/gnupg")
        let sanesecurity = ["jurlbla.ndb", "lott.ndb", "spam.ldb", "phishtank.ndb", "winnow_phish_complete.ndb", "winnow_spam_complete.ndb"]
        for file in sanesecurity { try copyFixture("sanesecurity/\(file)", to: box, as: "sanesecurity/\(file)", key: key) }
        try copyFixture("securiteinfo/spam_marketing.ndb", to: box, as: "securiteinfo/spam_marketing.ndb")
        try copyFixture("securiteinfo/securiteinfo.ign2", to: box, as: "securiteinfo/securiteinfo.ign2")
        try copyFixture("urlhaus/urlhaus-2024-07-27.ndb", to: box, as: "urlhaus/urlhaus.ndb")
        try copyFixture("rfxn/rfxn.ndb", to: box, as: "rfxn/rfxn.ndb")
        try box.writeFeed("sanesecurity", files: sanesecurity, integrity: "gpg", key: key)
        try box.writeFeed("securiteinfo", files: ["securiteinfo.ign2", "spam_marketing.ndb"], integrity: "md5")
        try box.writeFeed("urlhaus", files: ["urlhaus.ndb"], integrity: "sha256")
        try box.writeFeed("rfxn", files: ["rfxn.ndb"], integrity: "sha256")

        // SecuriteInfo's ignore list switches off ClamAV's own signatures: refused until
        // the admin lets that feed silence others; the feed's other file goes in.
        let (refused, partial) = try box.update()
        #expect(refused.status == 1, "\(refused.stderr)")
        let ign = partial?.file("securiteinfo", "securiteinfo.ign2")
        #expect(ign?.status == .rejected)
        #expect(ign?.message?.contains("would silence 192 signature(s) that are not securiteinfo's own") == true, "\(ign?.message ?? "")")
        #expect(ign?.message?.contains("may_silence = true") == true)
        #expect(partial?.file("securiteinfo", "spam_marketing.ndb")?.status == .updated)
        #expect(!FileManager.default.fileExists(atPath: box.dbDir + "/securiteinfo.ign2"))
        #expect(refused.stderr.split(separator: "\n").filter { $0.contains("securiteinfo") }.count == 1, "one line: \(refused.stderr)")

        try box.writeFeed("securiteinfo", files: ["securiteinfo.ign2", "spam_marketing.ndb"], integrity: "md5", extra: "may_silence = true")
        let (first, report) = try box.update()
        #expect(first.status == 0, "\(first.stderr)")
        let json = try #require(report)
        #expect(json.file("securiteinfo", "securiteinfo.ign2")?.status == .updated, "a changed config makes the feed due at once")
        #expect(json.reload.result == .confirmed)
        #expect(partial?.file("urlhaus", "urlhaus.ndb")?.signatures == 3952)
        #expect(partial?.file("securiteinfo", "spam_marketing.ndb")?.signatures == 37626)
        #expect((json.signatures ?? 0) > 46_000, "libclamav loaded \(json.signatures ?? 0)")

        // The feed moves on to a newer snapshot: only that file changes.
        try copyFixture("urlhaus/urlhaus.ndb", to: box, as: "urlhaus/urlhaus.ndb")
        let (second, changed) = try box.update()
        #expect(second.status == 0, "\(second.stderr)")
        #expect(changed?.file("urlhaus", "urlhaus.ndb")?.status == .updated)
        #expect(changed?.file("urlhaus", "urlhaus.ndb")?.signatures == 12396)
        #expect(changed?.file("rfxn", "rfxn.ndb")?.status == .unchanged)
        #expect(changed?.file("sanesecurity", "lott.ndb")?.status == .unchanged)
        #expect(try box.state().live?.generation == 3)
    }

    @Test func clamavsTestMailIsDetectedThroughAnInstalledFeed() throws {
        let box = try Sandbox()
        try box.clamd.start()
        let mail = Paths.fixtures + "/mail/clamav-testfiles"
        try box.publish(feed: "clamtest", file: "clamav.hdb", try String(contentsOfFile: mail + "/clamav.hdb", encoding: .utf8))
        try box.writeFeed("clamtest", files: ["clamav.hdb"])
        #expect(try box.update().0.status == 0)
        let message = try Data(contentsOf: URL(fileURLWithPath: mail + "/clam.mail"))
        #expect(try box.clamd.scan(message)?.hasPrefix("ClamAV-Test-File") == true)
        let ham = try Data(contentsOf: URL(fileURLWithPath: try firstFile(in: Paths.fixtures + "/mail/ham")))
        #expect(try box.clamd.scan(ham) == nil)
    }

    func firstFile(in directory: String) throws -> String {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        return directory + "/" + (names.first { !$0.hasPrefix(".") } ?? "")
    }
}
