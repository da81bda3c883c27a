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

    @Test func theFalsePositiveGateRejectsAFeedThatWouldEatHam() throws {
        let box = try Sandbox()
        try box.clamd.start()
        let ham = box.root + "/ham", spam = box.root + "/spam"
        for dir in [ham, spam] { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        try "From: boss@example.invalid\nSubject: quarterly invoice\n\nPlease find the quarterly invoice attached.\n"
            .write(toFile: ham + "/invoice.eml", atomically: true, encoding: .utf8)
        try "From: friend@example.invalid\nSubject: lunch\n\nLunch on Friday?\n".write(toFile: ham + "/lunch.eml", atomically: true, encoding: .utf8)
        let bad = GeneratedSignatures.ndb("Test.Spam", count: 2)
        try bad.samples["Test.Spam-1"]!.write(to: URL(fileURLWithPath: spam + "/one.eml"))
        try bad.samples["Test.Spam-2"]!.write(to: URL(fileURLWithPath: spam + "/two.eml"))
        try box.writeSettings("ham_corpus = \"\(ham)\"\ndetect_corpus = \"\(spam)\"")
        let good = GeneratedSignatures.ndb("Test.Good", count: 1)
        try box.publish(feed: "careful", file: "careful.ndb", good.text)
        try box.publish(feed: "sloppy", file: "sloppy.ndb", bad.text)
        try box.writeFeed("careful", files: ["careful.ndb"])
        try box.writeFeed("sloppy", files: ["sloppy.ndb"])
        let (first, report) = try box.update()
        #expect(first.status == 0, "\(first.stderr)")
        #expect(report?.detectCorpus?["sloppy"]?.newlyDetected == 2)

        // sloppy's next version also matches the word "invoice", which real mail carries.
        try box.publish(feed: "sloppy", file: "sloppy.ndb", bad.text + "Test.Sloppy.Invoice:0:*:\(hex("quarterly invoice"))\n")
        try box.publish(feed: "careful", file: "careful.ndb", good.text + GeneratedSignatures.ndb("Test.Good2", count: 1).text)
        let (gated, gatedReport) = try box.update()
        #expect(gated.status == 1, "partial: \(gated.stderr)")
        #expect(gatedReport?.file("sloppy", "sloppy.ndb")?.status == .rejected)
        #expect(gatedReport?.file("careful", "careful.ndb")?.status == .updated)
        #expect(gated.stderr.contains("sloppy/sloppy.ndb: rejected: false-positive gate"))
        #expect(gated.stderr.contains("invoice.eml (Test.Sloppy.Invoice.UNOFFICIAL)"))
        let invoice = try Data(contentsOf: URL(fileURLWithPath: ham + "/invoice.eml"))
        #expect(try box.clamd.scan(invoice) == nil, "clamd never got the signature")

        // --force accepts it on purpose.
        let forced = try box.sigctl(["update", "--force", "--feed", "sloppy"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(forced.stderr.contains("accepted with --force"))
        #expect(try box.clamd.scan(invoice) == "Test.Sloppy.Invoice.UNOFFICIAL")
    }

    @Test func detectCorpusComparesCompleteSetsEvenWithTheLowMemoryScope() throws {
        let box = try Sandbox()
        let caught = box.root + "/caught"
        try FileManager.default.createDirectory(atPath: caught, withIntermediateDirectories: true)
        let steady = GeneratedSignatures.ndb("Test.Steady", count: 1)
        try steady.samples["Test.Steady-1"]!.write(to: URL(fileURLWithPath: caught + "/steady.eml"))
        try box.writeSettings("clamd = \"none\"\nverify_scope = \"changed\"\ndetect_corpus = \"\(caught)\"")
        try box.publish(feed: "steady", file: "steady.ndb", steady.text)
        try box.publish(feed: "moving", file: "moving.ndb", GeneratedSignatures.ndb("Test.Moving", count: 1).text)
        try box.writeFeed("steady", files: ["steady.ndb"], interval: "1h")
        try box.writeFeed("moving", files: ["moving.ndb"])
        #expect(try box.update().0.status == 0)
        // Only "moving" changes; the steady feed's detection must not look lost.
        try box.publish(feed: "moving", file: "moving.ndb", GeneratedSignatures.ndb("Test.Moving2", count: 1).text)
        let (result, report) = try box.update()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(report?.installed == true)
        #expect((report?.detectCorpus ?? [:]).values.allSatisfy { $0 == CorpusDelta() }, "\(String(describing: report?.detectCorpus))")
    }

    @Test func explainShowsFileFeedRiskAndLine() throws {
        let box = try Sandbox()
        try box.writeSettings("clamd = \"none\"")
        let sigs = GeneratedSignatures.ndb("Test.Explain", count: 3)
        try box.publish(feed: "f", file: "a.ndb", sigs.text)
        try box.writeFeed("f", files: ["a.ndb"])
        #expect(try box.update().0.status == 0)
        #expect(FileManager.default.fileExists(atPath: box.stateDir + "/index/a.ndb.idx"), "update indexes the live set")
        let result = try box.sigctl(["explain", "Test.Explain-2.UNOFFICIAL"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("defined in a.ndb, feed f, false-positive risk low, line 2:"))
        #expect(result.stdout.contains(sigs.lines[1]))
        #expect(result.stdout.contains("allowed: no"))
        let json = try box.sigctl(["explain", "--json", "Test.Explain-3"])
        let decoded = try JSONDecoder.output.decode(Explanation.self, from: Data(json.stdout.utf8))
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
        #expect(result.stdout.contains("defined in test.cvd (test.ndb inside it), line "))
        // The gzip-compressed container gets a name index with access points on the first
        // explain; later answers inflate only from the nearest point.
        #expect(FileManager.default.fileExists(atPath: box.stateDir + "/index/test.cvd.idx"))
        #expect(try box.sigctl(["explain", "Win.Worm.Sobig-1"]).stdout == result.stdout)
    }

    @Test(.enabled(if: Paths.haveFixtures, "../shared/fixtures is absent: CLD explain skipped"))
    func explainLooksInsideAContainerLibfreshclamBuilt() throws {
        // libfreshclam writes a .cld after applying cdiffs with "X" for the MD5 and the
        // digital signature in its header, so a signature check always fails on it.
        let box = try Sandbox()
        try box.writeSettings("clamd = \"none\"")
        var data = try Data(contentsOf: URL(fileURLWithPath: Paths.fixtures + "/clamav-cvd/test-6.cvd"))
        let fields = String(decoding: data.prefix(512), as: UTF8.self).trimmingCharacters(in: .whitespaces.union(.controlCharacters))
            .split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        var header = (fields[0...4] + ["X", "X"] + fields[7...]).joined(separator: ":")
        header += String(repeating: " ", count: 512 - header.utf8.count)
        data.replaceSubrange(0..<512, with: Data(header.utf8))
        try data.write(to: URL(fileURLWithPath: box.dbDir + "/daily.cld"))
        let result = try box.sigctl(["explain", "Win.Worm.Sobig-1"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("defined in daily.cld (test.ndb inside it)"))

        // libfreshclam writes .cld files as plain tar: those get a name index (built on
        // the first explain), and later answers read the one line they need.
        let gunzip = Process()
        gunzip.executableURL = URL(fileURLWithPath: "/bin/gzip")
        gunzip.arguments = ["-dc"]
        let input = Pipe(), output = Pipe()
        gunzip.standardInput = input
        gunzip.standardOutput = output
        try gunzip.run()
        input.fileHandleForWriting.write(data.dropFirst(512))
        try input.fileHandleForWriting.close()
        let tar = output.fileHandleForReading.readDataToEndOfFile()
        gunzip.waitUntilExit()
        try (data.prefix(512) + tar).write(to: URL(fileURLWithPath: box.dbDir + "/daily.cld"))
        let indexed = try box.sigctl(["explain", "Win.Worm.Sobig-1"])
        #expect(indexed.status == 0, "\(indexed.stderr)")
        #expect(indexed.stdout.contains("defined in daily.cld (test.ndb inside it), line "))
        #expect(FileManager.default.fileExists(atPath: box.stateDir + "/index/daily.cld.idx"))
        #expect(try box.sigctl(["explain", "Win.Worm.Sobig-1"]).stdout == indexed.stdout)
    }
}
