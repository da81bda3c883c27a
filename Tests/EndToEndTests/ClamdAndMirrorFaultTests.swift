import Foundation
import SigctlCore
import Testing

/// clamd and mirrors misbehaving: each case leaves the live set loadable, says what
/// happened, and the next run works.
@Suite(.serialized) struct ClamdAndMirrorFaultTests {
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

    @Test func redirectsSizeCapsBombsOlderVersionsAndBogus304sAreRefusedWithTheLiveSetIntact() throws {
        let box = try Sandbox()
        try box.clamd.start()
        let v1 = GeneratedSignatures.ndb("Test.Http", count: 2)
        try box.publish(feed: "f", file: "a.ndb", v1.text)
        try box.writeFeed("f", files: ["a.ndb"], mirrors: [box.mirror.url("f/")])
        #expect(try box.update().0.status == 0)
        let before = try box.liveSnapshot()
        let changed = v1.text + GeneratedSignatures.ndb("Test.Http2", count: 1).text
        try box.publish(feed: "f", file: "a.ndb", changed)

        func expectRefused(_ faults: [String: [String: Any]], _ needle: String, settings: String = "",
                           sourceLocation: SourceLocation = #_sourceLocation) throws {
            try box.mirror.setFaults(faults)
            try box.writeSettings(settings)
            let (result, report) = try box.update()
            #expect(result.status == 2, "\(result.stderr)", sourceLocation: sourceLocation)
            let message = report?.file("f", "a.ndb")?.message ?? ""
            #expect(message.contains(needle), "\(message)", sourceLocation: sourceLocation)
            #expect(try box.liveSnapshot() == before, sourceLocation: sourceLocation)
            box.noStagingDebris(sourceLocation: sourceLocation)
        }
        try expectRefused(["/f/a.ndb": ["status": 302, "headers": ["Location": "/f/a.ndb"]]], "more than 5 redirects")
        try expectRefused(["/f/a.ndb": ["status": 302, "headers": ["Location": "http://127.0.0.2:\(box.mirror.port)/f/a.ndb"]]],
                          "redirects to another host (http://127.0.0.2:\(box.mirror.port)/f/a.ndb)")
        try expectRefused([:], "larger than the 100-byte limit", settings: "max_file_size = 100")
        try box.mirror.clearFaults()
        try box.writeSettings()

        // A gzip bomb on a compressed feed: refused while decompressing.
        let bomb = box.root + "/mirror/z/b.ndb"
        try Files.makeDirectory(box.root + "/mirror/z")
        #expect(try runProgram("/bin/sh", ["-c", "head -c 8388608 /dev/zero | gzip -c > \(bomb)"]).status == 0)
        try box.writeFeed("z", "name = \"z\"\nmirrors = [\"\(box.mirror.url("z/"))\"]\ninterval = \"0s\"\n[[files]]\nname = \"b.ndb\"\ncompressed = \"gzip\"\n")
        try box.writeSettings("max_file_size = \"1M\"")
        let (bombed, report) = try box.update()
        #expect(bombed.status == 1, "\(bombed.stderr)")
        #expect(report?.file("z", "b.ndb")?.message?.contains("decompresses to more than the 1048576-byte limit") == true)
        #expect(!FileManager.default.fileExists(atPath: box.dbDir + "/b.ndb"))
        try FileManager.default.removeItem(atPath: box.configDir + "/feeds.d/z.toml")
        try box.writeSettings()
        #expect(try box.update().0.status == 0)
    }

    @Test func aBodyThatStallsHalfWayIsCutOffAndResumedNextRun() throws {
        let box = try Sandbox()
        try box.clamd.start()
        let v1 = GeneratedSignatures.ndb("Test.Stall", count: 1)
        try box.publish(feed: "f", file: "a.ndb", v1.text)
        try box.writeFeed("f", files: ["a.ndb"])
        #expect(try box.update().0.status == 0)
        let before = try box.liveSnapshot()
        let v2 = v1.text + GeneratedSignatures.ndb("Test.Stall2", count: 300).text
        try box.publish(feed: "f", file: "a.ndb", v2)
        // Headers and 4000 bytes, then silence far longer than stall_timeout (3 s).
        try box.mirror.setFaults(["/f/a.ndb": ["stall_after": 4000, "stall": 120, "times": 1]])
        let (stalled, report) = try box.update()
        #expect(stalled.status == 2, "\(stalled.stderr)")
        #expect(report?.file("f", "a.ndb")?.status == .failed)
        #expect(try box.liveSnapshot() == before)
        #expect(try box.clamd.scan(v1.samples["Test.Stall-1"]!) == "Test.Stall-1.UNOFFICIAL")
        let (next, second) = try box.update()
        #expect(next.status == 0, "\(next.stderr)")
        #expect(second?.file("f", "a.ndb")?.status == .updated)
        #expect(box.mirror.requests(path: "/f/a.ndb").last?["range"] as? String == "bytes=4000-", "the rest only")
    }

    @Test func failoverKeepsValidatorsPerMirrorAndNeverGoesBackwards() throws {
        let box = try Sandbox()
        try box.clamd.start()
        let v1 = GeneratedSignatures.ndb("Test.Mirror", count: 1)
        let v2 = GeneratedSignatures.ndb("Test.Mirror2", count: 1)
        for file in ["a.ndb", "b.ndb"] {
            try box.publish(feed: "a/f", file: file, v1.text + v2.text)
            try box.publish(feed: "b/f", file: file, v1.text + v2.text)
        }
        try box.writeFeed("f", files: ["a.ndb", "b.ndb"], mirrors: [box.mirror.url("a/f/"), box.mirror.url("b/f/")])
        #expect(try box.update().0.status == 0)

        // Mirror A goes down: B's sidecars name the installed files, so nothing is downloaded.
        try box.mirror.setFaults(["/a/f/a.ndb": ["status": 503], "/a/f/b.ndb": ["status": 503]])
        let count = box.mirror.requests().count
        let (failover, report) = try box.update()
        #expect(failover.status == 0, "\(failover.stderr)")
        #expect(report?.file("f", "a.ndb")?.status == .unchanged)
        let paths = box.mirror.requests().dropFirst(count).compactMap { $0["path"] as? String }
        #expect(paths.contains("/b/f/a.ndb.sha256"))
        #expect(!paths.contains("/b/f/a.ndb"), "an unchanged file is not downloaded again from the other mirror: \(paths)")

        // Back on A: its own validators still work (304).
        try box.mirror.clearFaults()
        let back = box.mirror.requests().count
        #expect(try box.update().0.status == 0)
        let again = box.mirror.requests().dropFirst(back)
        #expect(again.filter { ($0["path"] as? String)?.hasPrefix("/a/f/") == true }.allSatisfy { ($0["status"] as? Int) == 304 })

        // B lags behind with an older version while A is down: refused, nothing goes backwards.
        try box.publish(feed: "b/f", file: "a.ndb", v1.text)
        let old = Date().addingTimeInterval(-86_400)
        try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: box.root + "/mirror/b/f/a.ndb")
        try box.mirror.setFaults(["/a/f/a.ndb": ["status": 503]])
        let before = try box.liveSnapshot()
        let (lagging, lag) = try box.update()
        #expect(lagging.status == 1, "\(lagging.stderr)")
        #expect(lag?.file("f", "a.ndb")?.message?.contains("serves an older version") == true, "\(lag?.file("f", "a.ndb")?.message ?? "")")
        #expect(try box.liveSnapshot() == before)
        #expect(try box.clamd.scan(v2.samples["Test.Mirror2-1"]!) == "Test.Mirror2-1.UNOFFICIAL")

        // A 304 to a request without validators is a broken mirror, not "unchanged".
        try box.publish(feed: "a/f", file: "c.ndb", v1.text)
        try box.writeFeed("f", files: ["a.ndb", "b.ndb", "c.ndb"], mirrors: [box.mirror.url("a/f/")])
        try box.mirror.setFaults(["/a/f/c.ndb": ["status": 304]])
        let (bogus, third) = try box.update()
        #expect(bogus.status == 1)
        #expect(third?.file("f", "c.ndb")?.message?.contains("304 Not Modified to a request that carried no validators") == true)
    }

    @Test func aVersionThatOnlyRemovesSignaturesIsInstalledAndSaidSo() throws {
        let box = try Sandbox()
        try box.clamd.start()
        let keep = GeneratedSignatures.ndb("Test.Stay", count: 2)
        let withdrawn = GeneratedSignatures.ndb("Test.Withdrawn", count: 1)
        try box.publish(feed: "f", file: "a.ndb", keep.text + withdrawn.text)
        try box.writeFeed("f", files: ["a.ndb"])
        #expect(try box.update().0.status == 0)
        try box.publish(feed: "f", file: "a.ndb", keep.text)
        let (result, report) = try box.update()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(report?.file("f", "a.ndb")?.status == .updated)
        #expect(report?.warnings.contains { $0.contains("f/a.ndb: the new version only removes 1 signature(s) and adds none") } == true,
                "\(report?.warnings ?? [])")
        #expect(try box.clamd.scan(withdrawn.samples["Test.Withdrawn-1"]!) == nil)
    }

    @Test func failoverRightAfterARollbackKeepsTheRolledBackFile() throws {
        let box = try Sandbox()
        try box.clamd.start()
        let v1 = GeneratedSignatures.ndb("Test.Good", count: 1)
        let fp = GeneratedSignatures.ndb("Test.FalsePositive", count: 1)
        for mirror in ["a/f", "b/f"] { try box.publish(feed: mirror, file: "a.ndb", v1.text) }
        try box.writeFeed("f", files: ["a.ndb"], mirrors: [box.mirror.url("a/f/"), box.mirror.url("b/f/")])
        #expect(try box.update().0.status == 0)
        for mirror in ["a/f", "b/f"] { try box.publish(feed: mirror, file: "a.ndb", v1.text + fp.text) }
        #expect(try box.update().0.status == 0)
        #expect(try box.clamd.scan(fp.samples["Test.FalsePositive-1"]!) != nil)

        // The false positive eats mail: roll back. Then mirror A goes down.
        #expect(try box.sigctl(["rollback"]).status == 0)
        try box.mirror.setFaults(["/a/f/a.ndb": ["status": 503]])
        let (result, report) = try box.update()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(report?.file("f", "a.ndb")?.status == .unchanged, "mirror B's sidecar names upstream's version, which was rolled away from")
        #expect(try box.clamd.scan(fp.samples["Test.FalsePositive-1"]!) == nil, "the rolled-back version stays")
        #expect(!box.mirror.requests().contains { ($0["path"] as? String) == "/b/f/a.ndb" })
    }

    @Test func oneCauseForManyFilesIsOneLineOfCronMail() throws {
        let box = try Sandbox()
        try box.writeSettings("clamd = \"none\"")
        let names = (1...6).map { "f\($0).ndb" }
        try box.writeFeed("down", files: names, mirrors: ["http://127.0.0.1:1/down/"])
        let (result, report) = try box.update()
        #expect(result.status == 2)
        let lines = result.stderr.split(separator: "\n").filter { $0.contains("down") }
        #expect(lines.count == 1, "\(result.stderr)")
        #expect(lines.first?.contains("6 files failed") == true)
        #expect(report?.feeds.first { $0.name == "down" }?.problems.count == 1)
        let status = try box.sigctl(["status"]).stdout
        let lastError = status.split(separator: "\n").first { $0.contains("last error") } ?? ""
        #expect(lastError.count < 300, "\(lastError)")
    }

    @Test func theRandomSleepHoldsNoLockSoAllowAndRollbackNeverWaitForIt() throws {
        let box = try Sandbox()
        try box.clamd.start()
        try box.publish(feed: "f", file: "a.ndb", GeneratedSignatures.ndb("Test.Sleep", count: 1).text)
        try box.writeFeed("f", files: ["a.ndb"])
        #expect(try box.update().0.status == 0)
        let settings = try String(contentsOfFile: box.configDir + "/sigctl.toml", encoding: .utf8)
        try settings.replacingOccurrences(of: "sleep = \"0\"", with: "sleep = \"600s\"")
            .write(toFile: box.configDir + "/sigctl.toml", atomically: true, encoding: .utf8)
        let sleeper = try BackgroundRun(box, ["update"], failpoints: "update.sleeping=pause")
        _ = try sleeper.waitForPause("update.sleeping")
        let allow = try box.sigctl(["allow", "Test.Sleep-1", "--reason", "false positive on our newsletter"])
        #expect(allow.status == 0, "\(allow.stderr)")
        kill(sleeper.process.processIdentifier, SIGKILL)
        sleeper.wait()
    }

    @Test func aFileThatClashedWithAForeignFileIsFetchedOnceTheForeignFileIsGone() throws {
        let box = try Sandbox()
        try box.clamd.start()
        let sigs = GeneratedSignatures.ndb("Test.Clash", count: 1)
        try box.publish(feed: "f", file: "a.ndb", sigs.text)
        try box.writeFeed("f", files: ["a.ndb"], interval: "1d")
        try "Old.Copy:0:*:4142434445464748\n".write(toFile: box.dbDir + "/a.ndb", atomically: true, encoding: .utf8)
        let (clash, report) = try box.update()
        #expect(clash.status == 2)
        #expect(report?.file("f", "a.ndb")?.message?.contains("was not installed by sigctl") == true)
        unlink(box.dbDir + "/a.ndb")
        let (result, second) = try box.update()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(second?.file("f", "a.ndb")?.status == .updated, "removing the old copy, as the message says, is enough")
        #expect(try box.clamd.scan(sigs.samples["Test.Clash-1"]!) == "Test.Clash-1.UNOFFICIAL")
    }

    @Test func aReEnabledFeedIsDueAtOnce() throws {
        let box = try Sandbox()
        try box.clamd.start()
        let sigs = GeneratedSignatures.ndb("Test.Again", count: 1)
        try box.publish(feed: "f", file: "a.ndb", sigs.text)
        try box.writeFeed("f", files: ["a.ndb"], interval: "1d")
        #expect(try box.update().0.status == 0)
        try box.writeFeed("f", files: [], interval: "1d")
        try box.writeFeed("f", "name = \"f\"\nenabled = false\nmirrors = [\"\(box.mirror.url("f/"))\"]\ninterval = \"1d\"\nintegrity = \"sha256\"\n[[files]]\nname = \"a.ndb\"\n")
        #expect(try box.update().0.status == 0)
        #expect(try box.clamd.scan(sigs.samples["Test.Again-1"]!) == nil)
        try box.writeFeed("f", files: ["a.ndb"], interval: "1d")
        let (result, report) = try box.update()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(report?.file("f", "a.ndb")?.status == .updated)
        #expect(try box.clamd.scan(sigs.samples["Test.Again-1"]!) == "Test.Again-1.UNOFFICIAL")
    }

    @Test func asRootTheVerificationChildParsesDownloadsAsTheDatabaseDirectorysOwner() throws {
        guard geteuid() == 0, let clamav = getpwnam("clamav") else { return }
        let box = try Sandbox()
        chmod(box.root, 0o755)
        chown(box.dbDir, clamav.pointee.pw_uid, clamav.pointee.pw_gid)
        try box.clamd.start()
        try box.publish(feed: "f", file: "a.ndb", GeneratedSignatures.ndb("Test.Drop", count: 1).text)
        try box.writeFeed("f", files: ["a.ndb"])
        let result = try box.sigctl(["update", "-vv"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("uid=\(clamav.pointee.pw_uid)"), "\(result.stderr)")
        var st = stat()
        stat(box.dbDir + "/a.ndb", &st)
        #expect(st.st_uid == clamav.pointee.pw_uid, "installed files belong to the database directory's owner")

        // The dropped child still dies with sigctl (changing credentials clears the parent-death signal).
        try box.publish(feed: "f", file: "a.ndb", GeneratedSignatures.ndb("Test.Drop2", count: 1).text)
        let run = try BackgroundRun(box, ["update"], failpoints: "verify-child.compiled=pause")
        let child = try run.waitForPause("verify-child.compiled")
        defer { run.resume("verify-child.compiled") }
        kill(run.process.processIdentifier, SIGKILL)
        run.wait()
        #expect(waitUntilGone(child), "the unprivileged verification child must die with sigctl")
    }
}

/// Secrets in URLs and who may read the state.
@Suite(.serialized) struct SecretsTests {
    @Test func aPersonalIdInTheMirrorURLNeverReachesStateLogsJSONOrStatus() throws {
        let box = try Sandbox()
        try box.clamd.start()
        let id = String(repeating: "5ecre7", count: 20)
        let mirror = box.mirror.url("get/\(id)/")
        try box.publish(feed: "get/\(id)", file: "good.hdb", "\(try ClamAV.hash("md5", Data("secret test sample".utf8))):18:Test.Secret\n")
        try box.writeFeed("si", files: ["good.hdb", "missing.hdb", "busy.hdb"], mirrors: [mirror])
        try box.mirror.setFaults(["/get/\(id)/busy.hdb": ["status": 429, "retry_after": 3600]])
        let (result, report) = try box.update()
        #expect(result.status == 1, "\(result.stderr)")
        #expect(report?.file("si", "missing.hdb")?.message?.contains("get/REDACTED/missing.hdb") == true,
                "\(report?.file("si", "missing.hdb")?.message ?? "")")
        let verbose = try box.sigctl(["update", "-vv", "--force"])
        let status = try box.sigctl(["status", "--json"])
        let feeds = try box.sigctl(["feeds"])
        var everything = result.stdout + result.stderr + verbose.stdout + verbose.stderr + status.stdout + feeds.stdout
        for file in try FileManager.default.subpathsOfDirectory(atPath: box.stateDir) {
            if let data = FileManager.default.contents(atPath: box.stateDir + "/" + file) { everything += String(decoding: data, as: UTF8.self) }
        }
        #expect(!everything.contains(id), "the id leaked")
        #expect(feeds.stdout.contains("get/REDACTED/"))
    }

    @Test func stateIsReadableOnlyByItsOwnerAndStatusSaysWhatToDo() throws {
        guard geteuid() == 0, getpwnam("clamav") != nil else { return }
        let box = try Sandbox()
        try box.writeSettings("clamd = \"none\"")
        try box.publish(feed: "f", file: "a.ndb", GeneratedSignatures.ndb("Test.Perm", count: 1).text)
        try box.writeFeed("f", files: ["a.ndb"])
        #expect(try box.update().0.status == 0)
        chmod(box.root, 0o755)
        for path in [box.configDir, box.configDir + "/feeds.d", box.stateDir] { chmod(path, 0o755) }
        var st = stat()
        stat(box.stateDir + "/state.json", &st)
        #expect(st.st_mode & 0o777 == 0o600)
        let asClamav = try runProgram("/usr/bin/setpriv", ["--reuid=clamav", "--regid=clamav", "--init-groups", Paths.sigctl,
                                                           "status", "--config", box.configDir])
        #expect(asClamav.status == 2, "\(asClamav.stderr)")
        #expect(asClamav.stderr.contains("state.json: Permission denied"), "\(asClamav.stderr)")
        #expect(asClamav.stderr.contains("run this command as that user or as root"))
    }
}

/// A full disk, with a real tmpfs of a few hundred KiB (root only; skipped elsewhere).
@Suite(.serialized, .enabled(if: TmpfsDisk.available, "needs root to mount a small tmpfs: full-disk tests skipped"))
struct FullDiskTests {
    @Test func aFullStateDirectoryFailsTheDownloadAndLosesNothing() throws {
        let box = try Sandbox()
        try Files.makeDirectory(box.stateDir)
        let disk = try TmpfsDisk(box.stateDir, size: "400k")
        try box.clamd.start()
        let small = GeneratedSignatures.ndb("Test.Small", count: 1)
        try box.publish(feed: "f", file: "a.ndb", small.text)
        try box.writeFeed("f", files: ["a.ndb"])
        #expect(try box.update().0.status == 0)
        let before = try box.liveSnapshot()
        try box.publish(feed: "f", file: "a.ndb", small.text + GeneratedSignatures.ndb("Test.Big", count: 6000).text)
        let (full, report) = try box.update()
        #expect(full.status == 2, "\(full.stderr)")
        #expect(report?.file("f", "a.ndb")?.message?.contains("No space left on device") == true, "\(report?.file("f", "a.ndb")?.message ?? "")")
        #expect(try box.liveSnapshot() == before)
        #expect(try box.clamd.scan(small.samples["Test.Small-1"]!) == "Test.Small-1.UNOFFICIAL")
        box.noStagingDebris()
        try disk.resize("64m")
        let (next, _) = try box.update()
        #expect(next.status == 0, "\(next.stderr)")
    }

    @Test func aFullDatabaseDirectoryFailsTheInstallWithoutDebris() throws {
        let box = try Sandbox()
        let disk = try TmpfsDisk(box.dbDir, size: "256k")
        try "Local.Admin.Own-1:0:*:\(hex("local admin marker for sigctl tests"))\n".write(toFile: box.dbDir + "/local.ndb", atomically: true, encoding: .utf8)
        try box.clamd.start()
        let small = GeneratedSignatures.ndb("Test.DbSmall", count: 1)
        try box.publish(feed: "f", file: "a.ndb", small.text)
        try box.writeFeed("f", files: ["a.ndb"])
        #expect(try box.update().0.status == 0)
        let before = try box.liveSnapshot()
        try box.publish(feed: "f", file: "a.ndb", small.text + GeneratedSignatures.ndb("Test.DbBig", count: 4000).text)
        let (full, report) = try box.update()
        #expect(full.status == 2, "\(full.stderr)")
        #expect(full.stderr.contains("No space left on device"), "\(full.stderr)")
        #expect(full.stderr.contains("the live set is unchanged"))
        #expect(report?.installed == false)
        #expect(try box.liveSnapshot() == before)
        box.noStagingDebris()
        #expect(try box.clamd.scan(small.samples["Test.DbSmall-1"]!) == "Test.DbSmall-1.UNOFFICIAL")
        try disk.resize("64m")
        let (next, second) = try box.update()
        #expect(next.status == 0, "\(next.stderr)")
        #expect(second?.installed == true)
    }
}

/// A tmpfs mounted over a directory for one test.
final class TmpfsDisk {
    let path: String

    static let available: Bool = {
        guard geteuid() == 0 else { return false }
        let probe = NSTemporaryDirectory() + "/sigctl-tmpfs-probe-\(getpid())"
        try? FileManager.default.createDirectory(atPath: probe, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: probe) }
        guard (try? runProgram("/bin/mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", probe]))?.status == 0 else { return false }
        _ = try? runProgram("/bin/umount", [probe])
        return true
    }()

    init(_ path: String, size: String) throws {
        self.path = path
        let result = try runProgram("/bin/mount", ["-t", "tmpfs", "-o", "size=\(size),mode=0755", "tmpfs", path])
        guard result.status == 0 else { throw HarnessError("mount: \(result.stderr)") }
    }

    func resize(_ size: String) throws {
        let result = try runProgram("/bin/mount", ["-o", "remount,size=\(size)", path])
        guard result.status == 0 else { throw HarnessError("remount: \(result.stderr)") }
    }

    deinit { _ = try? runProgram("/bin/umount", ["-l", path]) }
}
