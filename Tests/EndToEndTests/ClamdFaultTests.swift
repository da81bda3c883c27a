import Foundation
import SigctlCore
import Testing

/// clamd misbehaving: refusing sets, down, silent, or loading a set that stops mail
/// scanning. Each case leaves the live set loadable, says what happened, and the next
/// run works.
@Suite(.serialized) struct ClamdFaultTests {
    @Test func setsClamdRefusedNeverPushGoodSetsOutAndRollbackReachesTheLastConfirmed() throws {
        let box = try Sandbox()
        try box.clamd.start()
        let v1 = GeneratedSignatures.ndb("Test.Good", count: 1)
        try box.publish(feed: "f", file: "a.ndb", v1.text)
        try box.writeFeed("f", files: ["a.ndb"])
        #expect(try box.update().0.status == 0)

        let fake = try FakeClamd(box)
        try box.writeSettings("clamd = \"unix:\(fake.socket)\"", reloadTimeout: "2s")
        for round in 1...3 {
            try box.publish(feed: "f", file: "a.ndb", v1.text + GeneratedSignatures.ndb("Test.Refused\(round)", count: 1).text)
            let (result, report) = try box.update()
            #expect(result.status == 3, "\(result.stderr)")
            #expect(report?.installed == false, "a refused set is not reported as installed")
            #expect(report?.file("f", "a.ndb")?.status == .rejected)
            #expect(!result.stdout.contains("\"updated\""), "\(result.stdout)")
            #expect(try box.state().live?.generation == 1)
        }
        try box.writeSettings()
        let status = try JSONDecoder.output.decode(StatusReport.self, from: Data(try box.sigctl(["status", "--json"]).stdout.utf8))
        #expect(status.generations == [1], "only the set clamd confirmed is kept")

        // A good set again, then back to the last one clamd confirmed.
        let v2 = GeneratedSignatures.ndb("Test.Next", count: 1)
        try box.publish(feed: "f", file: "a.ndb", v1.text + v2.text)
        let (good, _) = try box.update()
        #expect(good.status == 0, "\(good.stderr)")
        let rollback = try box.sigctl(["rollback"])
        #expect(rollback.status == 0, "\(rollback.stderr)")
        #expect(rollback.stdout.contains("set 1 live"), "\(rollback.stdout)")
        #expect(try box.clamd.scan(v2.samples["Test.Next-1"]!) == nil)
        #expect(try box.clamd.scan(v1.samples["Test.Good-1"]!) == "Test.Good-1.UNOFFICIAL")
    }

    @Test func aRunKilledWhileClamdWasRefusingTheSetIsRolledBackByTheNextRun() throws {
        let box = try Sandbox()
        let v1 = try box.installOneFile("Test.Before")
        let before = try box.liveSnapshot().filter { $0.key != canaryFileName }

        let fake = try FakeClamd(box)
        try box.writeSettings("clamd = \"unix:\(fake.socket)\"", reloadTimeout: "2s")
        try box.publish(feed: "f", file: "a.ndb", v1.text + GeneratedSignatures.ndb("Test.Refused", count: 1).text)
        let killed = try box.update(failpoints: "reload.sent=kill")
        #expect(killed.status == SIGKILL)
        let (next, report) = try box.update()
        #expect(next.status == 3, "\(next.stderr)")
        #expect(report?.reload.result == .rolled_back, "\(next.stderr)")
        #expect(try box.liveSnapshot().filter { $0.key != canaryFileName } == before, "the refused set does not stay live")
        #expect(try box.state().live?.generation == 1)
        #expect(!FileManager.default.fileExists(atPath: box.stateDir + "/generations/2"), "a set clamd refused is not kept")
    }

    @Test func whenAPendingSetIsLiveARefusedSetGoesBackToTheLastConfirmedOne() throws {
        let box = try Sandbox()
        let v1 = try box.installOneFile("Test.Confirmed")
        let confirmed = try box.liveSnapshot().filter { $0.key != canaryFileName }

        // Set 2 goes in while nothing answers on clamd's socket: installed, pending.
        let stale = try box.staleSocket()
        try box.writeSettings("clamd = \"unix:\(stale)\"", reloadTimeout: "2s")
        try box.publish(feed: "f", file: "a.ndb", v1.text + GeneratedSignatures.ndb("Test.Pending", count: 1).text)
        #expect(try box.update().0.status == 3)
        #expect(try box.state().live?.generation == 2)

        // Then a clamd that loads nothing refuses set 3: back to set 1, the one clamd confirmed.
        let fake = try FakeClamd(box)
        try box.writeSettings("clamd = \"unix:\(fake.socket)\"", reloadTimeout: "2s")
        try box.publish(feed: "f", file: "a.ndb", v1.text + GeneratedSignatures.ndb("Test.Third", count: 1).text)
        let (result, report) = try box.update()
        #expect(result.status == 3, "\(result.stderr)")
        #expect(report?.reload.message?.contains("the previous set 1 is restored") == true, "\(report?.reload.message ?? "")")
        #expect(try box.state().live?.generation == 1)
        #expect(try box.liveSnapshot().filter { $0.key != canaryFileName } == confirmed)
        #expect(try box.state().feeds["f"]?.files["a.ndb"]?.sha256 == (try ClamAV.hash("sha256", Data(v1.text.utf8))))

        // A run killed inside the restore's own staging leaves a state the next run completes.
        try box.publish(feed: "f", file: "a.ndb", v1.text + GeneratedSignatures.ndb("Test.Fourth", count: 1).text)
        let killed = try box.update(failpoints: "install.staged#2=kill")
        #expect(killed.status == SIGKILL)
        try box.liveSetLoads()
        box.clamd.stop()
        try box.writeSettings()
        try box.clamd.start()
        let (next, _) = try box.update()
        #expect(next.status == 0, "\(next.stderr)")
        #expect(try box.state().live?.confirmed == true)
        box.noStagingDebris()
    }

    @Test func aReloadWhileClamdIsDownNeverDemotesTheConfirmedSet() throws {
        let box = try Sandbox()
        try box.clamd.start()
        try box.publish(feed: "f", file: "a.ndb", GeneratedSignatures.ndb("Test.Reload", count: 1).text)
        try box.writeFeed("f", files: ["a.ndb"])
        #expect(try box.update().0.status == 0)
        box.clamd.stop()
        try box.writeSettings(reloadTimeout: "2s")
        let reload = try box.sigctl(["reload"])
        #expect(reload.status == 3, "\(reload.stderr)")
        #expect(Generations(stateDir: box.stateDir).manifest(1)?.status == .confirmed)
        let status = try JSONDecoder.output.decode(StatusReport.self, from: Data(try box.sigctl(["status", "--json"]).stdout.utf8))
        #expect(status.generations == [1])
        try box.clamd.start()
        let (up, _) = try box.update()
        #expect(up.status == 0, "\(up.stderr)")
        #expect(try box.state().live?.confirmed == true)
    }

    @Test func aDirectoryPlantedWhereALiveFileWasIsReplacedWithoutFollowingIt() throws {
        let box = try Sandbox()
        try box.clamd.start()
        let sigs = GeneratedSignatures.ndb("Test.Planted", count: 1)
        try box.publish(feed: "f", file: "a.ndb", sigs.text)
        try box.writeFeed("f", files: ["a.ndb"], interval: "1h")
        #expect(try box.update().0.status == 0)
        unlink(box.dbDir + "/a.ndb")
        try Files.makeDirectory(box.dbDir + "/a.ndb")
        symlink("/etc", box.dbDir + "/a.ndb/etc")
        let (result, _) = try box.update()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!Files.isDirectory(box.dbDir + "/a.ndb"))
        #expect(FileManager.default.fileExists(atPath: "/etc/passwd"), "nothing was followed")
        #expect(try box.clamd.scan(sigs.samples["Test.Planted-1"]!) == "Test.Planted-1.UNOFFICIAL")
        box.noStagingDebris()
    }

    @Test func aSocketNobodyListensOnAndAClamdThatNeverAnswersKeepTheSetUnconfirmed() throws {
        let box = try Sandbox()
        let sigs = GeneratedSignatures.ndb("Test.Silent", count: 1)
        try box.publish(feed: "f", file: "a.ndb", sigs.text)
        try box.writeFeed("f", files: ["a.ndb"], interval: "1h")
        // A stale socket: the file exists, nobody listens.
        let stale = try box.staleSocket()
        try box.writeSettings("clamd = \"unix:\(stale)\"", reloadTimeout: "5s")
        let (refused, report) = try box.update()
        #expect(refused.status == 3, "\(refused.stderr)")
        #expect(report?.reload.result == .unreachable)
        #expect(report?.installed == true)
        #expect(refused.stderr.contains("Connection refused"), "\(refused.stderr)")
        try box.liveSetLoads()

        let silent = try FakeClamd(box, silent: true)
        try box.writeSettings("clamd = \"unix:\(silent.socket)\"", reloadTimeout: "3s")
        let (hung, second) = try box.update()
        #expect(hung.status == 3, "\(hung.stderr)")
        #expect(second?.reload.result == .unreachable)
        #expect(hung.stderr.contains("did not answer in time"), "\(hung.stderr)")
        #expect(try box.state().live?.confirmed == false)

        try box.writeSettings()
        try box.clamd.start()
        let (up, third) = try box.update()
        #expect(up.status == 0, "\(up.stderr)")
        #expect(third?.reload.result == .confirmed)
        #expect(try box.clamd.scan(sigs.samples["Test.Silent-1"]!) == "Test.Silent-1.UNOFFICIAL")
    }

    @Test func aSetThatLoadsButStopsMailScanningFailsTheMailCanary() throws {
        let box = try Sandbox()
        try box.clamd.start()
        let sigs = GeneratedSignatures.ndb("Test.Mail", count: 1)
        try box.publish(feed: "f", file: "a.ndb", sigs.text)
        try box.writeFeed("f", files: ["a.ndb"])
        #expect(try box.update().0.status == 0)
        let before = try box.liveSnapshot()
        // Engine configuration that switches libclamav's mail parser off, from a feed the admin trusts with .cfg.
        try box.publish(feed: "cfg", file: "engine.cfg", "MAIL:0x0\n")
        try box.writeFeed("cfg", files: ["engine.cfg"], extra: "may_configure = true")
        let (result, report) = try box.update()
        #expect(result.status == 1, "\(result.stderr)")
        let message = report?.file("cfg", "engine.cfg")?.message ?? ""
        #expect(message.contains("does not find sigctl's canary in the attachment of a test mail"), "\(message)")
        #expect(try box.liveSnapshot() == before)
        #expect(try box.clamd.scan(sigs.samples["Test.Mail-1"]!) == "Test.Mail-1.UNOFFICIAL")

        // Without may_configure the file never reaches libclamav.
        try box.writeFeed("cfg", files: ["engine.cfg"])
        let (refused, second) = try box.update()
        #expect(refused.status == 1)
        #expect(second?.file("cfg", "engine.cfg")?.message?.contains("set may_configure = true in") == true)
    }
}
