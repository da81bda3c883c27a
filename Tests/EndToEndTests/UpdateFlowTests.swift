import Foundation
import SigctlCore
import Testing

/// The everyday paths of `sigctl update` against a real mirror process, real gpg and a real clamd.
@Suite(.serialized) struct UpdateFlowTests {
    @Test func firstInstallIsVerifiedInstalledAndConfirmedByClamd() throws {
        let box = try Sandbox()
        try box.clamd.start()
        let key = try TestKey(directory: box.root + "/gnupg")
        let phish = GeneratedSignatures.ndb("Test.Phish", count: 3)
        let scam = GeneratedSignatures.ndb("Test.Scam", count: 2)
        try box.publish(feed: "signed", file: "phish.ndb", phish.text, key: key)
        try box.publish(feed: "summed", file: "scam.ndb", scam.text)
        try box.writeFeed("signed", files: ["phish.ndb"], integrity: "gpg", key: key)
        try box.writeFeed("summed", files: ["scam.ndb"], integrity: "sha256")
        let localBefore = try Data(contentsOf: URL(fileURLWithPath: box.dbDir + "/local.ndb"))

        let (result, report) = try box.update()
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let json = try #require(report)
        #expect(json.installed)
        #expect(json.reload.result == .confirmed)
        #expect(json.file("signed", "phish.ndb")?.status == .updated)
        #expect(json.file("summed", "scam.ndb")?.status == .updated)
        #expect(json.file("signed", "phish.ndb")?.signatures == 3)

        // clamd really uses the new signatures, and the admin's file is untouched.
        #expect(try box.clamd.scan(phish.samples["Test.Phish-2"]!) == "Test.Phish-2.UNOFFICIAL")
        #expect(try box.clamd.scan(scam.samples["Test.Scam-1"]!) == "Test.Scam-1.UNOFFICIAL")
        #expect(try Data(contentsOf: URL(fileURLWithPath: box.dbDir + "/local.ndb")) == localBefore)
        let state = try box.state()
        #expect(state.live?.confirmed == true)
        #expect(Set(state.live?.owned ?? []) == ["phish.ndb", "scam.ndb", canaryFileName])

        // Installed files are readable by clamd's user and owned like the directory.
        var st = stat(), dirStat = stat()
        stat(box.dbDir + "/phish.ndb", &st)
        stat(box.dbDir, &dirStat)
        #expect(st.st_mode & 0o777 == 0o644)
        #expect(st.st_uid == dirStat.st_uid && st.st_gid == dirStat.st_gid)

        let status = try box.sigctl(["status"])
        #expect(status.status == 0)
        #expect(status.stdout.contains("confirmed by clamd"))
        #expect(status.stdout.contains("phish.ndb"))
    }

    @Test func unchangedFeedsDownloadNothingAndDoNotReload() throws {
        let box = try Sandbox()
        try box.clamd.start()
        let sigs = GeneratedSignatures.ndb("Test.Same", count: 2)
        try box.publish(feed: "summed", file: "same.ndb", sigs.text)
        try box.writeFeed("summed", files: ["same.ndb"])
        #expect(try box.update().0.status == 0)
        let before = try box.state()
        let requestsBefore = box.mirror.requests().count

        let plain = try box.sigctl(["update"])
        #expect(plain.status == 0)
        #expect(plain.stdout.isEmpty, "cron must get no output when nothing changed: \(plain.stdout)")
        #expect(plain.stderr.isEmpty, "no noise on stderr either: \(plain.stderr)")

        let newRequests = box.mirror.requests().dropFirst(requestsBefore)
        let dbRequests = newRequests.filter { ($0["path"] as? String) == "/summed/same.ndb" }
        #expect(dbRequests.count == 1)
        #expect(dbRequests.allSatisfy { ($0["status"] as? Int) == 304 && ($0["bytes"] as? Int) == 0 })
        #expect(dbRequests.allSatisfy { $0["if_none_match"] is String })
        #expect(!newRequests.contains { ($0["path"] as? String)?.hasSuffix(".sha256") == true }, "no sidecar fetched for a 304")
        let after = try box.state()
        #expect(after.live?.generation == before.live?.generation, "no new set was built")
        #expect(after.live?.canaryName == before.live?.canaryName, "no reload happened")
        #expect(after.nextGeneration == before.nextGeneration, "no candidate was verified")
    }

    @Test func changedFeedIsDetectedByClamdAfterUpdate() throws {
        let box = try Sandbox()
        try box.clamd.start()
        let first = GeneratedSignatures.ndb("Test.Old", count: 2)
        try box.publish(feed: "f", file: "sigs.ndb", first.text)
        try box.writeFeed("f", files: ["sigs.ndb"])
        #expect(try box.update().0.status == 0)
        let newer = GeneratedSignatures.ndb("Test.New", count: 3)
        try box.publish(feed: "f", file: "sigs.ndb", first.text + newer.text)
        #expect(try box.clamd.scan(newer.samples["Test.New-3"]!) == nil)

        try box.writeSettings("report = \"changes\"")
        let result = try box.sigctl(["update"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stdout.contains("f: updated sigs.ndb (5 sigs)"), "report = \"changes\" prints each change unattended")
        #expect(try box.clamd.scan(newer.samples["Test.New-3"]!) == "Test.New-3.UNOFFICIAL")
        #expect(try box.clamd.scan(first.samples["Test.Old-1"]!) == "Test.Old-1.UNOFFICIAL")
        #expect(try box.state().live?.generation == 2)
    }

    @Test func failoverToTheNextMirrorWhenTheFirstIsUnreachableOrHangs() throws {
        let box = try Sandbox()
        try box.clamd.start()
        let sigs = GeneratedSignatures.ndb("Test.Failover", count: 1)
        try box.publish(feed: "f", file: "a.ndb", sigs.text)
        // Nothing listens on the first port; the second mirror hangs; the third works.
        let deadPort = try freePort()
        let hanging = try Mirror(root: box.root + "/mirror", workDir: box.root + "/tmp")
        try hanging.setFaults(["*": ["delay": 30]])
        try box.writeFeed("f", files: ["a.ndb"], mirrors: [
            "http://127.0.0.1:\(deadPort)/f/", hanging.url("f/"), box.mirror.url("f/"),
        ])
        let started = Date()
        let (result, report) = try box.update()
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(report?.file("f", "a.ndb")?.mirror == box.mirror.url("f/"))
        #expect(Date().timeIntervalSince(started) < 25, "the stall timeout (3 s) must cut the hanging mirror off")
        #expect(try box.clamd.scan(sigs.samples["Test.Failover-1"]!) == "Test.Failover-1.UNOFFICIAL")
        hanging.stop()
    }

    @Test func signaturesLibclamavSkipsAreReportedAgainstTheFileCount() throws {
        let box = try Sandbox()
        try box.writeSettings("clamd = \"none\"")
        // Three of four signatures need functionality level 999, which no libclamav has.
        let text = "T.A:0:*:41424344454647:999\nT.B:0:*:41424344454648:999\nT.C:0:*:41424344454649:999\nT.D:0:*:4142434445464a\n"
        try box.publish(feed: "f", file: "future.ndb", text)
        try box.writeFeed("f", files: ["future.ndb"])
        let (result, report) = try box.update()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(report?.file("f", "future.ndb")?.signatures == 4)
        #expect(report?.file("f", "future.ndb")?.loadedSignatures == 1)
        #expect(result.stderr.contains("f/future.ndb: libclamav"), "\(result.stderr)")
        #expect(result.stderr.contains("loads only 1 of its 4 signatures"))
    }

    @Test func theRandomSleepAppliesOnlyToUnattendedRuns() throws {
        let box = try Sandbox()
        try box.writeSettings("clamd = \"none\"")
        try box.publish(feed: "f", file: "a.ndb", GeneratedSignatures.ndb("Test.Sleep", count: 1).text)
        try box.writeFeed("f", files: ["a.ndb"])
        // writeSettings says sleep = "0"; put a one-second range in its place.
        let path = box.configDir + "/sigctl.toml"
        let text = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(of: "sleep = \"0\"", with: "sleep = \"1s-1s\"")
        try text.write(toFile: path, atomically: true, encoding: .utf8)

        let unattended = try box.sigctl(["update", "-v"])
        #expect(unattended.stderr.contains("waiting 1s before contacting mirrors"), "\(unattended.stderr)")
        #expect(!(try box.sigctl(["update", "-v", "--no-sleep"]).stderr.contains("waiting")))
        #expect(!(try box.sigctl(["update", "-v", "--feed", "f"]).stderr.contains("waiting")))
    }

    @Test func progressIsShownOnlyOnATerminal() throws {
        let box = try Sandbox()
        try box.writeSettings("clamd = \"none\"")
        try box.publish(feed: "f", file: "big.ndb", GeneratedSignatures.ndb("Test.Big", count: 3000).text)
        try box.writeFeed("f", files: ["big.ndb"])
        // script(1) gives sigctl a pseudo-terminal for stdin, stdout and stderr.
        let command = "SIGCTL_CONFIG=\(box.configDir) \(Paths.sigctl) update"
        let tty = try runProgram("/usr/bin/script", ["-qfec", command, "/dev/null"])
        #expect(tty.status == 0, "\(tty.stdout)")
        #expect(tty.stdout.contains("f/big.ndb: "), "progress on a terminal: \(tty.stdout)")
        #expect(tty.stdout.contains("KiB"))

        try box.publish(feed: "f", file: "big.ndb", GeneratedSignatures.ndb("Test.Big2", count: 3000).text)
        let piped = try box.sigctl(["update"])
        #expect(piped.status == 0)
        #expect(!piped.stderr.contains("KiB"), "no progress when stderr is not a terminal")
    }

    @Test func riskyClamdSettingsAreCalledOut() throws {
        let box = try Sandbox(clamdExtra: "ConcurrentDatabaseReload no")
        try box.clamd.start()
        let sigs = GeneratedSignatures.ndb("Test.Conc", count: 1)
        try box.publish(feed: "f", file: "a.ndb", sigs.text)
        try box.writeFeed("f", files: ["a.ndb"])
        let result = try box.sigctl(["update"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("ConcurrentDatabaseReload no"))
        #expect(try box.clamd.scan(sigs.samples["Test.Conc-1"]!) == "Test.Conc-1.UNOFFICIAL", "a blocking reload is still proven")

        try (try String(contentsOfFile: box.clamdConf, encoding: .utf8) + "\nOfficialDatabaseOnly yes\n").write(toFile: box.clamdConf, atomically: true, encoding: .utf8)
        let refused = try box.sigctl(["update"])
        #expect(refused.status == 78)
        #expect(refused.stderr.contains("OfficialDatabaseOnly yes"))
    }

    @Test func anInterruptedDownloadIsResumedWithRange() throws {
        let box = try Sandbox()
        try box.writeSettings("clamd = \"none\"")
        let text = GeneratedSignatures.ndb("Test.Resume", count: 200).text
        try box.publish(feed: "f", file: "big.ndb", text)
        try box.writeFeed("f", files: ["big.ndb"], interval: "1h")
        try box.mirror.setFaults(["/f/big.ndb": ["truncate": 4000, "times": 1]])
        let broken = try box.sigctl(["update"])
        #expect(broken.status == 2)
        #expect(broken.stderr.contains("f/big.ndb: failed"))

        // A failed download is retried on the next run, from where it broke off.
        let resumed = try box.sigctl(["update", "-v"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("resumed an interrupted download at byte 4000"))
        let last = try #require(box.mirror.requests(path: "/f/big.ndb").last)
        #expect(last["range"] as? String == "bytes=4000-")
        #expect(last["status"] as? Int == 206)
        #expect(last["bytes"] as? Int == text.utf8.count - 4000)
        #expect(try String(contentsOfFile: box.dbDir + "/big.ndb", encoding: .utf8) == text)
    }

    @Test func aMirrorThatIgnoresIfRangeNeverGetsTwoVersionsSpliced() throws {
        let box = try Sandbox()
        try box.writeSettings("clamd = \"none\"")
        let v1 = GeneratedSignatures.ndb("Test.SpliceA", count: 200).text
        try box.publish(feed: "f", file: "big.ndb", v1)
        try box.writeFeed("f", files: ["big.ndb"], integrity: "none", interval: "1h")
        try box.mirror.setFaults(["/f/big.ndb": ["truncate": 4000, "times": 1]])
        #expect(try box.sigctl(["update"]).status == 2)
        // Upstream publishes another version; the mirror answers the resume with its tail anyway.
        let v2 = GeneratedSignatures.ndb("Test.SpliceB", count: 200).text
        try box.publish(feed: "f", file: "big.ndb", v2)
        try box.mirror.setFaults(["/f/big.ndb": ["ignore_if_range": true]])
        let spliced = try box.sigctl(["update"])
        #expect(spliced.status == 2, "\(spliced.stderr)")
        #expect(spliced.stderr.contains("the mirror sent the rest of another version"), "\(spliced.stderr)")
        #expect(!FileManager.default.fileExists(atPath: box.dbDir + "/big.ndb"))
        // The kept part was dropped: the next run downloads the new version whole.
        try box.mirror.clearFaults()
        let whole = try box.sigctl(["update"])
        #expect(whole.status == 0, "\(whole.stderr)")
        #expect(try String(contentsOfFile: box.dbDir + "/big.ndb", encoding: .utf8) == v2)
    }

    @Test func aPartialDownloadOfAnOlderVersionIsNotMixedWithANewOne() throws {
        let box = try Sandbox()
        try box.writeSettings("clamd = \"none\"")
        try box.publish(feed: "f", file: "big.ndb", GeneratedSignatures.ndb("Test.OldPart", count: 200).text)
        try box.writeFeed("f", files: ["big.ndb"])
        try box.mirror.setFaults(["/f/big.ndb": ["truncate": 4000, "times": 1]])
        #expect(try box.sigctl(["update"]).status == 2)
        let newer = GeneratedSignatures.ndb("Test.NewWhole", count: 150).text
        try box.publish(feed: "f", file: "big.ndb", newer)
        let result = try box.sigctl(["update"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(box.mirror.requests(path: "/f/big.ndb").last?["status"] as? Int == 200, "If-Range did not match: the whole new file")
        #expect(try String(contentsOfFile: box.dbDir + "/big.ndb", encoding: .utf8) == newer)
    }

    @Test func lowMemoryScopeVerifiesOnlyTheChangedFiles() throws {
        let box = try Sandbox()
        let sigs = GeneratedSignatures.ndb("Test.Scope", count: 3)
        try box.publish(feed: "f", file: "a.ndb", sigs.text)
        try box.writeFeed("f", files: ["a.ndb"])
        try box.writeSettings("clamd = \"none\"")
        let (whole, full) = try box.update()
        #expect(whole.status == 0, "\(whole.stderr)")
        #expect(full?.signatures == 5, "the live local.ndb, the new file and the canary")

        try box.writeSettings("clamd = \"none\"\nverify_scope = \"changed\"")
        try box.publish(feed: "f", file: "a.ndb", sigs.text + GeneratedSignatures.ndb("Test.Scope2", count: 1).text)
        let (changed, small) = try box.update()
        #expect(changed.status == 0, "\(changed.stderr)")
        #expect(small?.signatures == 5, "only the new file (4) and the canary")
        #expect(FileManager.default.fileExists(atPath: box.dbDir + "/local.ndb"))
    }

    @Test func userAgentNamesSigctlAndItsVersion() throws {
        let box = try Sandbox()
        try box.writeSettings("clamd = \"none\"")
        try box.publish(feed: "f", file: "a.ndb", GeneratedSignatures.ndb("Test.UA", count: 1).text)
        try box.writeFeed("f", files: ["a.ndb"])
        #expect(try box.update().0.status == 0)
        let agents = box.mirror.requests().compactMap { $0["user_agent"] as? String }
        #expect(!agents.isEmpty)
        #expect(agents.allSatisfy { $0.hasPrefix("sigctl/\(sigctlVersion)") })
    }
}

/// A TCP port on 127.0.0.1 where nothing listens.
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: addr.sin_port))
}
