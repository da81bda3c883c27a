import Foundation
import SigctlCore
import Testing

/// `sigctl allow` and `sigctl explain` against a real clamd.
@Suite(.serialized) struct AllowExplainTests {
    @Test func allowRemovesADetectionThroughThePipelineAndSurvivesUpdates() throws {
        let box = try Sandbox()
        try box.clamd.start()
        let sigs = GeneratedSignatures.ndb("Test.FP", count: 2)
        try box.publish(feed: "f", file: "a.ndb", sigs.text)
        try box.writeFeed("f", files: ["a.ndb"])
        #expect(try box.update().0.status == 0)
        #expect(try box.clamd.scan(sigs.samples["Test.FP-1"]!) == "Test.FP-1.UNOFFICIAL")

        let allowed = try box.sigctl(["allow", "Test.FP-1.UNOFFICIAL", "--reason", "hits our invoices"])
        #expect(allowed.status == 0, "\(allowed.stderr)")
        #expect(allowed.stdout.contains("allowed Test.FP-1 in sigctl's allow list; set 2 installed; clamd confirmed it"))
        #expect(try box.clamd.scan(sigs.samples["Test.FP-1"]!) == nil, "clamd no longer fires it")
        #expect(try box.clamd.scan(sigs.samples["Test.FP-2"]!) == "Test.FP-2.UNOFFICIAL")
        #expect(try String(contentsOfFile: box.dbDir + "/" + allowListFileName, encoding: .utf8) == "Test.FP-1\n")
        let status = try box.sigctl(["status"])
        #expect(status.stdout.contains("allowed:      Test.FP-1 (by "))
        #expect(status.stdout.contains("hits our invoices"))

        // A feed update keeps the entry.
        try box.publish(feed: "f", file: "a.ndb", sigs.text + GeneratedSignatures.ndb("Test.More", count: 1).text)
        #expect(try box.update().0.status == 0)
        #expect(try box.clamd.scan(sigs.samples["Test.FP-1"]!) == nil)
        #expect(FileManager.default.fileExists(atPath: box.dbDir + "/" + allowListFileName))
        let explained = try box.sigctl(["explain", "Test.FP-1"])
        #expect(explained.stdout.contains("allowed with sigctl allow by"))

        // Removing it brings the detection back, through the same pipeline.
        let removed = try box.sigctl(["allow", "--remove", "Test.FP-1"])
        #expect(removed.status == 0, "\(removed.stderr)")
        #expect(try box.clamd.scan(sigs.samples["Test.FP-1"]!) == "Test.FP-1.UNOFFICIAL")
        #expect(!FileManager.default.fileExists(atPath: box.dbDir + "/" + allowListFileName))
        let again = try box.sigctl(["allow", "--remove", "Test.FP-1"])
        #expect(again.status == 64)
    }

    @Test func explainShowsFileFeedRiskAndLine() throws {
        let box = try Sandbox()
        try box.writeSettings("clamd = \"none\"")
        let sigs = GeneratedSignatures.ndb("Test.Explain", count: 3)
        try box.publish(feed: "f", file: "a.ndb", sigs.text)
        try box.writeFeed("f", files: ["a.ndb"])
        #expect(try box.update().0.status == 0)
        let result = try box.sigctl(["explain", "Test.Explain-2.UNOFFICIAL"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("defined in a.ndb, feed f, false-positive risk low, line 2:"))
        #expect(result.stdout.contains(sigs.lines[1]))
        #expect(result.stdout.contains("allowed: no"))
        let json = try box.sigctl(["explain", "--json", "Test.Explain-3"])
        let decoded = try JSONDecoder.sigctl.decode(Explanation.self, from: Data(json.stdout.utf8))
        #expect(decoded.feed == "f")
        #expect(decoded.definitions.first?.line == 3)
        let missing = try box.sigctl(["explain", "No.Such.Signature"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("defines No.Such.Signature"))
    }

    @Test(.enabled(if: Paths.haveFixtures, "../shared/fixtures is absent: CVD explain skipped"))
    func explainLooksInsideSignedContainers() throws {
        let box = try Sandbox()
        try box.writeSettings("clamd = \"none\"")
        try FileManager.default.copyItem(atPath: Paths.fixtures + "/clamav-cvd/test-6.cvd", toPath: box.dbDir + "/test.cvd")
        let result = try box.sigctl(["explain", "Win.Worm.Sobig-1"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("defined in test.cvd (test.ndb inside it)"))
    }
}
