import Foundation
import SigctlCore
import Testing

/// Mirrors misbehaving: redirects, bombs, stalls, failover, rollbacks racing feeds,
/// and files in the way. Each case leaves the live set loadable, says what happened,
/// and the next run works.
@Suite(.serialized) struct MirrorFaultTests {
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
