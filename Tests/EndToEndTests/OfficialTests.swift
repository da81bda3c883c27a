import Foundation
import SigctlCore
import Testing

/// ClamAV's signed `test` database through libfreshclam, from a loopback private mirror.
@Suite(.serialized, .enabled(if: Paths.haveFixtures, "../shared/fixtures is absent: official-database tests skipped"))
struct OfficialTests {
    static let cvds = Paths.fixtures + "/clamav-cvd"
    /// The EICAR test string: test-3 and later detect it.
    static let eicar = Data("X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*".utf8)
    /// Bytes only test-6's Win.Worm.Sobig-1 matches.
    static let sobig: Data = {
        let hex = "6fec40cb4ad432859b126508015369262a47554a451edfaae437057ac6d6683e4a187189b7daf883e3768a107b1f263cbf2dfaeef372e9258f2ded8943fe63fd5dbd6a317ce6f8953634874247aab83228a5caf585c1d3823cc123678823552d71af200b"
        var bytes = [UInt8]("padding before ".utf8)
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return Data(bytes + Array(" and after".utf8))
    }()

    /// A sandbox whose database directory holds test.cvd version 3 (as freshclam left it),
    /// a mirror offering version 6, and a clamav feed for the `test` database.
    func setUp(mirrorVersion: Int = 6, cdiffs: Bool = true, startClamd: Bool = true) throws -> Sandbox {
        let box = try Sandbox()
        try FileManager.default.copyItem(atPath: Self.cvds + "/test-3.cvd", toPath: box.dbDir + "/test.cvd")
        chmod(box.dbDir + "/test.cvd", 0o644)
        try box.mirror.put("clamav/test.cvd", try Data(contentsOf: URL(fileURLWithPath: Self.cvds + "/test-\(mirrorVersion).cvd")))
        for version in 4...6 where cdiffs {
            try box.mirror.put("clamav/test-\(version).cdiff", try Data(contentsOf: URL(fileURLWithPath: Self.cvds + "/test-\(version).cdiff")))
        }
        try box.writeOfficialTestFeed()
        if startClamd { try box.clamd.start() }
        return box
    }

    /// The live file of the `test` database: test.cvd, or test.cld once cdiffs were applied.
    func liveTest(_ box: Sandbox) throws -> String {
        for name in ["test.cld", "test.cvd"] where FileManager.default.fileExists(atPath: box.dbDir + "/" + name) {
            return box.dbDir + "/" + name
        }
        throw HarnessError("no test database in \(box.dbDir)")
    }

    func cvdVersion(_ path: String) throws -> Int {
        let header = String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)).prefix(512), as: UTF8.self)
        return Int(header.split(separator: ":")[2]) ?? -1
    }

    func updatedEntry(_ report: UpdateReport?) -> FileReport? {
        report?.feeds.first { $0.name == "clamav" }?.files.first { $0.status == .updated }
    }

    @Test func version3IsUpdatedTo6AndClamdDetectsWhatOnly6Knows() throws {
        let box = try setUp()
        #expect(try box.clamd.scan(Self.sobig) == nil)
        let (result, report) = try box.update()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(updatedEntry(report)?.name.hasPrefix("test.c") == true)
        #expect(updatedEntry(report)?.signatures == 14)
        #expect(report?.reload.result == .confirmed)
        #expect(try cvdVersion(try liveTest(box)) == 6)
        #expect(try box.clamd.scan(Self.sobig) == "Win.Worm.Sobig-1")
        #expect(try box.clamd.scan(Self.eicar)?.hasPrefix("Eicar-Test-Signature") == true)
        #expect(FileManager.default.fileExists(atPath: box.stateDir + "/freshclam.dat"), "libfreshclam's state is kept in state_dir")
        #expect(!FileManager.default.fileExists(atPath: box.dbDir + "/freshclam.dat"), "libfreshclam never writes the live directory")

        // Nothing new: only CVD headers are asked for, never a full CVD.
        let count = box.mirror.requests().count
        let (again, second) = try box.update()
        #expect(again.status == 0, "\(again.stderr)")
        #expect(second?.installed == false)
        let newRequests = box.mirror.requests().dropFirst(count)
        #expect(!newRequests.isEmpty)
        #expect(newRequests.allSatisfy { ($0["bytes"] as? Int ?? 0) <= 512 }, "\(Array(newRequests))")
    }

    /// Each of these must be refused with version 3 still live and clamd still detecting EICAR.
    func expectRefused(_ box: Sandbox, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let before = try Data(contentsOf: URL(fileURLWithPath: try liveTest(box)))
        let result = try box.sigctl(["update"])
        #expect(result.status == 2, "\(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.contains("clamav/"), "\(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.split(separator: "\n").filter { $0.contains("clamav/") }.count == 1, sourceLocation: sourceLocation)
        #expect(try Data(contentsOf: URL(fileURLWithPath: try liveTest(box))) == before, sourceLocation: sourceLocation)
        #expect(try cvdVersion(try liveTest(box)) == 3, sourceLocation: sourceLocation)
        #expect(try box.clamd.scan(Self.eicar)?.hasPrefix("Eicar-Test-Signature") == true, sourceLocation: sourceLocation)
    }

    @Test func aTamperedCVDIsRejected() throws {
        let box = try setUp(cdiffs: false)
        var data = try Data(contentsOf: URL(fileURLWithPath: Self.cvds + "/test-6.cvd"))
        data[data.startIndex + 2000] ^= 0xff
        try box.mirror.put("clamav/test.cvd", data)
        try expectRefused(box)
    }

    @Test func anHTMLPageServedAsTheCVDIsRejected() throws {
        let box = try setUp(cdiffs: false)
        try box.mirror.put("clamav/test.cvd", "<!DOCTYPE html><html><body>Please log in to the portal</body></html>\n")
        try expectRefused(box)
    }

    @Test func aTruncatedCVDIsRejected() throws {
        let box = try setUp(cdiffs: false)
        try box.mirror.setFaults(["/clamav/test.cvd": ["truncate": 3000]])
        try expectRefused(box)
    }

    @Test func tooManyRequestsStartsACoolDownThatSendsNothing() throws {
        let box = try setUp()
        try box.mirror.setFaults(["/clamav/test.cvd": ["status": 429, "retry_after": 4], "/clamav/test.cld": ["status": 429, "retry_after": 4]])
        _ = try box.sigctl(["update"])
        #expect(try box.state().coolDowns?["clamav"] != nil)
        try box.mirror.clearFaults()

        // Inside the cool-down: no request at all, and not a failure for cron.
        let count = box.mirror.requests().count
        let quiet = try box.sigctl(["update"])
        #expect(quiet.status == 0, "\(quiet.stderr)")
        #expect(quiet.stdout.isEmpty && quiet.stderr.isEmpty, "only -v mentions a cool-down: \(quiet.stderr)")
        #expect(box.mirror.requests().count == count)
        #expect(try box.sigctl(["status"]).stdout.contains("cool-down"))
        let verbose = try box.sigctl(["update", "-v"])
        #expect(verbose.stderr.contains("cool-down"))

        Thread.sleep(forTimeInterval: 4.5)
        let after = try box.sigctl(["update"])
        #expect(after.status == 0, "\(after.stderr)")
        #expect(try cvdVersion(try liveTest(box)) == 6)
    }

    @Test func aTamperedCdiffNeverLands() throws {
        let box = try setUp(cdiffs: true)
        var cdiff = try Data(contentsOf: URL(fileURLWithPath: Self.cvds + "/test-5.cdiff"))
        cdiff[cdiff.startIndex + cdiff.count / 2] ^= 0xff
        try box.mirror.put("clamav/test-5.cdiff", cdiff)
        try box.mirror.put("clamav/test.cvd", "<html><body>no full CVD here either</body></html>\n")
        try expectRefused(box)
    }

    @Test func theCdiffChainFrom3To6IsIdenticalToVersion6() throws {
        let box = try setUp(cdiffs: true)
        // The full CVD is not even offered: version 6 can only come from the cdiffs.
        try FileManager.default.removeItem(atPath: box.mirror.root + "/clamav/test.cvd")
        try box.mirror.put("clamav/test.cvd", Data(try Data(contentsOf: URL(fileURLWithPath: Self.cvds + "/test-6.cvd")).prefix(512)))
        let (result, _) = try box.update()
        #expect(result.status == 0, "\(result.stderr)")
        let live = try liveTest(box)
        #expect(live.hasSuffix(".cld"))
        #expect(try cvdVersion(live) == 6)
        #expect(!box.mirror.requests(path: "/clamav/test-5.cdiff").isEmpty)
        let built = box.root + "/unpacked-chain", genuine = box.root + "/unpacked-6"
        for (file, dir) in [(live, built), (Self.cvds + "/test-6.cvd", genuine)] {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let unpacked = try runProgram("/bin/sh", ["-c", "cd '\(dir)' && sigtool --unpack '\(file)'"])
            #expect(unpacked.status == 0, "\(unpacked.stderr)")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: genuine).sorted()
        #expect(try FileManager.default.contentsOfDirectory(atPath: built).sorted() == names)
        for name in names where name.hasPrefix("test.") && name != "test.info" {
            #expect(FileManager.default.contents(atPath: built + "/" + name) == FileManager.default.contents(atPath: genuine + "/" + name), "\(name)")
        }
        #expect(try box.clamd.scan(Self.sobig) == "Win.Worm.Sobig-1")
    }

    @Test func bytecodeIsNotFetchedWhenClamdHasBytecodeOff() throws {
        let box = try setUp()
        try box.mirror.put("clamav/bytecode.cvd", try Data(contentsOf: URL(fileURLWithPath: Self.cvds + "/bytecode.cvd")))
        try box.writeFeed("clamav", """
            kind = "official"
            databases = ["test", "bytecode"]
            mirrors = ["\(box.mirror.url("clamav"))"]
            private_mirror = true
            dns = "none"
            interval = "0s"
            """)
        try (try String(contentsOfFile: box.clamdConf, encoding: .utf8) + "\nBytecode no\n").write(toFile: box.clamdConf, atomically: true, encoding: .utf8)
        #expect(try box.update().0.status == 0)
        #expect(box.mirror.requests().allSatisfy { ($0["path"] as? String)?.contains("bytecode") == false })
        #expect(!FileManager.default.fileExists(atPath: box.dbDir + "/bytecode.cvd"))
    }

    @Test func statusShowsVersionsAndWarnsAboutAStaleDaily() throws {
        let box = try setUp(startClamd: false)
        // The test database stands in for daily here: its build date (2021) is long past.
        try FileManager.default.moveItem(atPath: box.dbDir + "/test.cvd", toPath: box.dbDir + "/daily.cvd")
        try box.writeSettings("clamd = \"none\"")
        try box.writeFeed("clamav", """
            kind = "official"
            databases = ["daily"]
            mirrors = ["\(box.mirror.url("clamav"))"]
            private_mirror = true
            dns = "none"
            """)
        let status = try box.sigctl(["status"])
        #expect(status.status == 2, "a daily from 2021 is critical")
        #expect(status.stdout.contains("clamav: the newest signatures are "), "\(status.stdout)")
        #expect(status.stdout.contains("daily.cvd, version 3, 11 sigs, built 2021-06-2"), "\(status.stdout)")
        #expect(status.stderr.contains("daily was built"), "\(status.stderr)")
    }

    @Test func officialAndThirdPartyFilesShareOneCandidateOneVerificationOneReload() throws {
        let box = try setUp()
        let sigs = GeneratedSignatures.ndb("Test.Together", count: 2)
        try box.publish(feed: "third", file: "t.ndb", sigs.text)
        try box.writeFeed("third", files: ["t.ndb"])
        let (result, report) = try box.update()
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(report)
        #expect(json.generation == 1, "one new set")
        #expect(updatedEntry(json)?.name.hasPrefix("test.c") == true)
        #expect(json.file("third", "t.ndb")?.status == .updated)
        #expect(json.reload.result == .confirmed)
        #expect(try box.state().nextGeneration == 2, "one candidate was built and verified")
        #expect(try box.clamd.scan(Self.sobig) == "Win.Worm.Sobig-1")
        #expect(try box.clamd.scan(sigs.samples["Test.Together-1"]!) == "Test.Together-1.UNOFFICIAL")
        let manifest = try #require(Generations(stateDir: box.stateDir).manifest(1))
        #expect(manifest.files.keys.contains("t.ndb"))
        #expect(manifest.files.keys.contains { $0.hasPrefix("test.c") })
        #expect(manifest.files.count == 2)
    }

    /// The clamav feed's definition, enabled or not.
    func writeOfficialFeed(_ box: Sandbox, enabled: Bool) throws {
        try box.writeFeed("clamav", """
            kind = "official"
            enabled = \(enabled)
            databases = ["test"]
            mirrors = ["\(box.mirror.url("clamav"))"]
            private_mirror = true
            dns = "none"
            interval = "0s"
            """)
    }

    @Test func disablingTheOfficialFeedHandsTheFilesBackToFreshclam() throws {
        let box = try setUp()
        #expect(try box.update().0.status == 0)
        let live = try liveTest(box)
        let name = (live as NSString).lastPathComponent
        #expect(try box.state().live?.owned.contains(name) == true, "sigctl took the file over")

        try writeOfficialFeed(box, enabled: false)
        let (result, report) = try box.update()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(report?.file("clamav", name)?.status == .handed_back)
        #expect(report?.file("clamav", name)?.message?.contains("left in place") == true)
        #expect(FileManager.default.fileExists(atPath: live), "the official database stays in place")
        #expect(try cvdVersion(live) == 6)
        #expect(try box.state().live?.owned.contains(name) == false, "and sigctl no longer owns it")
        #expect(try box.clamd.scan(Self.sobig) == "Win.Worm.Sobig-1")

        // Later changes of other feeds leave it alone too.
        try box.publish(feed: "third", file: "t.ndb", GeneratedSignatures.ndb("Test.After", count: 1).text)
        try box.writeFeed("third", files: ["t.ndb"])
        #expect(try box.update().0.status == 0)
        #expect(try cvdVersion(live) == 6)
    }

    @Test func removingTheOfficialFeedsDefinitionAlsoHandsTheFilesBack() throws {
        let box = try setUp()
        #expect(try box.update().0.status == 0)
        let live = try liveTest(box)
        try FileManager.default.removeItem(atPath: box.configDir + "/feeds.d/clamav.toml")
        try box.publish(feed: "third", file: "t.ndb", GeneratedSignatures.ndb("Test.NoFeed", count: 1).text)
        try box.writeFeed("third", files: ["t.ndb"])
        let (result, report) = try box.update()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(report?.file("clamav", (live as NSString).lastPathComponent)?.status == .handed_back)
        #expect(try cvdVersion(live) == 6, "never removed")
    }

    @Test func whenClamdRefusesTheFirstSetTheOfficialDatabaseItTookOverStays() throws {
        let box = try setUp(startClamd: false)
        let fake = try FakeClamd(box)
        try box.writeSettings("clamd = \"unix:\(fake.socket)\"", reloadTimeout: "2s")
        let (result, report) = try box.update()
        #expect(result.status == 3, "\(result.stderr)")
        #expect(report?.reload.result == .rolled_back)
        let live = try liveTest(box)
        #expect(try cvdVersion(live) == 6, "the verified official database is not deleted with sigctl's own files")
        #expect(!FileManager.default.fileExists(atPath: box.dbDir + "/" + canaryFileName))
        try box.liveSetLoads()
    }

    @Test func aRollbackAcrossTheMigrationKeepsTheCurrentOfficialDatabases() throws {
        let box = try setUp()
        // Set 1: third-party only, while freshclam still owned the official files.
        try writeOfficialFeed(box, enabled: false)
        let sigs = GeneratedSignatures.ndb("Test.Before", count: 1)
        try box.publish(feed: "third", file: "t.ndb", sigs.text)
        try box.writeFeed("third", files: ["t.ndb"])
        #expect(try box.update().0.status == 0)
        // Set 2: sigctl takes the official database over (3 → 6).
        try writeOfficialFeed(box, enabled: true)
        #expect(try box.update().0.status == 0)
        #expect(try cvdVersion(try liveTest(box)) == 6)

        let rollback = try box.sigctl(["rollback"])
        #expect(rollback.status == 0, "\(rollback.stderr)")
        #expect(rollback.stdout.contains("set 1 live"), "\(rollback.stdout)")
        #expect(rollback.stdout.contains("official databases left as they are: test.c"), "\(rollback.stdout)")
        #expect(try cvdVersion(try liveTest(box)) == 6, "the official database is not taken away or back")
        #expect(try box.clamd.scan(Self.sobig) == "Win.Worm.Sobig-1")
        #expect(try box.clamd.scan(sigs.samples["Test.Before-1"]!) == "Test.Before-1.UNOFFICIAL")
    }

    @Test func freshclamsClientIdAndCoolDownAreCarriedOver() throws {
        // A freshclam.dat as libfreshclam writes it, left by "freshclam" in the database directory.
        let donor = try setUp(startClamd: false)
        try donor.writeSettings("clamd = \"none\"")
        #expect(try donor.update().0.status == 0)
        let dat = try Data(contentsOf: URL(fileURLWithPath: donor.stateDir + "/freshclam.dat"))

        let box = try setUp()
        try dat.write(to: URL(fileURLWithPath: box.dbDir + "/freshclam.dat"))
        let (result, _) = try box.update()
        #expect(result.status == 0, "\(result.stderr)")
        let carried = try Data(contentsOf: URL(fileURLWithPath: box.stateDir + "/freshclam.dat"))
        #expect(carried.subdata(in: 17..<53) == dat.subdata(in: 17..<53), "the client UUID survives the migration")
    }

    @Test func theLibfreshclamChildKilledAloneIsAFailureAndTheLiveSetStays() throws {
        let box = try setUp()
        let run = try BackgroundRun(box, ["update"], failpoints: "freshclam-child.started=pause")
        let child = try run.waitForPause("freshclam-child.started")
        #expect(child != run.process.processIdentifier)
        kill(child, SIGKILL)
        let result = run.wait()
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("libfreshclam child was killed by signal 9"), "\(result.stderr)")
        #expect(try cvdVersion(try liveTest(box)) == 3)
        #expect(try box.clamd.scan(Self.eicar)?.hasPrefix("Eicar-Test-Signature") == true)
        let (next, _) = try box.update()
        #expect(next.status == 0, "\(next.stderr)")
        #expect(try cvdVersion(try liveTest(box)) == 6)
    }
}
