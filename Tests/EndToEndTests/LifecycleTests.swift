import Foundation
import SigctlCore
import Testing

/// Interrupted runs, concurrent runs, clamd going away, rollback, reload, bad configuration.
@Suite(.serialized) struct LifecycleTests {
    @Test func killedMidUpdateThenACleanNextRun() throws {
        let box = try Sandbox()
        try box.clamd.start()
        let sigs = GeneratedSignatures.ndb("Test.Kill", count: 2)
        try box.publish(feed: "f", file: "a.ndb", sigs.text)
        try box.writeFeed("f", files: ["a.ndb"])
        try box.mirror.setFaults(["/f/a.ndb": ["stall_after": 10, "stall": 20]])
        let before = try box.liveSnapshot()
        // The first bytes are in the staging file and the mirror stalls: kill -9 now.
        let run = try BackgroundRun(box, ["update"], failpoints: "fetch.receiving=pause")
        #expect(try run.waitForPause("fetch.receiving") == run.process.processIdentifier)
        let partial = try FileManager.default.attributesOfItem(atPath: box.stateDir + "/staging/downloads/f/a.ndb")[.size] as? Int
        #expect((1...10).contains(partial ?? 0), "some of the 10 bytes the mirror sent before it stalls: \(partial ?? 0)")
        kill(run.process.processIdentifier, SIGKILL)
        run.wait()
        #expect(run.process.terminationReason == .uncaughtSignal)
        #expect(try box.liveSnapshot() == before, "a killed run must not change the live set")

        try box.mirror.clearFaults()
        let (result, report) = try box.update()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(report?.reload.result == .confirmed)
        #expect(try box.clamd.scan(sigs.samples["Test.Kill-1"]!) == "Test.Kill-1.UNOFFICIAL")
        #expect(!FileManager.default.fileExists(atPath: box.dbDir + "/.sigctl-install"))
    }

    @Test func aSecondRunExitsFourWhileTheFirstHoldsTheLock() throws {
        let box = try Sandbox()
        try box.writeSettings("clamd = \"none\"")
        try box.publish(feed: "f", file: "a.ndb", GeneratedSignatures.ndb("Test.Lock", count: 1).text)
        try box.writeFeed("f", files: ["a.ndb"])
        let first = try BackgroundRun(box, ["update"], failpoints: "update.locked=pause")
        _ = try first.waitForPause("update.locked")
        // Unattended (cron: stdin is not a terminal), a run that finds the lock held by
        // another, perhaps sleeping, run exits 4 and mails nothing; -v says why.
        let second = try box.sigctl(["update"])
        #expect(second.status == 4)
        #expect(second.stderr.isEmpty && second.stdout.isEmpty, "\(second.stderr)")
        let verbose = try box.sigctl(["update", "-v"])
        #expect(verbose.status == 4)
        #expect(verbose.stderr.contains("another sigctl run holds the lock"))
        #expect(verbose.stderr.split(separator: "\n").count == 1, "one line: \(verbose.stderr)")
        first.resume("update.locked")
        #expect(first.wait().status == 0)
    }

    @Test func clamdDownKeepsTheSetAndTheNextRunConfirmsIt() throws {
        let box = try Sandbox()
        let sigs = GeneratedSignatures.ndb("Test.Down", count: 2)
        try box.publish(feed: "f", file: "a.ndb", sigs.text)
        try box.writeFeed("f", files: ["a.ndb"], interval: "1h")

        let (down, report) = try box.update()
        #expect(down.status == 3)
        #expect(report?.reload.result == .unreachable)
        #expect(FileManager.default.fileExists(atPath: box.dbDir + "/a.ndb"), "the verified set stays installed")
        #expect(try box.state().live?.confirmed == false)
        #expect(try box.sigctl(["status"]).stdout.contains("NOT confirmed"))

        try box.clamd.start()
        let (up, second) = try box.update()
        #expect(up.status == 0, "\(up.stderr)")
        #expect(second?.reload.result == .confirmed)
        #expect(try box.state().live?.confirmed == true)
        #expect(try box.clamd.scan(sigs.samples["Test.Down-2"]!) == "Test.Down-2.UNOFFICIAL")
    }

    @Test func clamdThatNeverShowsTheCanaryGetsThePreviousSetBack() throws {
        let box = try Sandbox()
        try box.clamd.start()
        let v1 = GeneratedSignatures.ndb("Test.Keep", count: 2)
        try box.publish(feed: "f", file: "a.ndb", v1.text)
        try box.writeFeed("f", files: ["a.ndb"])
        #expect(try box.update().0.status == 0)
        let before = try box.liveSnapshot().filter { $0.key != canaryFileName }

        // A clamd impostor accepts RELOAD but never loads anything.
        let fake = try FakeClamd(box)
        try box.writeSettings("clamd = \"unix:\(fake.socket)\"", reloadTimeout: "3s")
        try box.publish(feed: "f", file: "a.ndb", v1.text + GeneratedSignatures.ndb("Test.Never", count: 1).text)

        let (result, report) = try box.update()
        #expect(result.status == 3)
        #expect(report?.reload.result == .rolled_back)
        #expect(result.stderr.contains("clamd did not load set 2"), "\(result.stderr)")
        #expect(result.stderr.contains("clamd reported the canary clean"), "\(result.stderr)")
        #expect(try box.liveSnapshot().filter { $0.key != canaryFileName } == before, "the previous files are back")
        #expect(try box.state().live?.generation == 1)
    }

    @Test func rollbackRestoresThePreviousSetAndClamdProvesIt() throws {
        let box = try Sandbox()
        try box.clamd.start()
        let v1 = GeneratedSignatures.ndb("Test.R1", count: 2)
        let v2 = GeneratedSignatures.ndb("Test.R2", count: 2)
        try box.publish(feed: "f", file: "a.ndb", v1.text)
        try box.writeFeed("f", files: ["a.ndb"])
        #expect(try box.update().0.status == 0)
        try box.publish(feed: "f", file: "a.ndb", v1.text + v2.text)
        #expect(try box.update().0.status == 0)
        #expect(try box.clamd.scan(v2.samples["Test.R2-1"]!) == "Test.R2-1.UNOFFICIAL")

        let result = try box.sigctl(["rollback"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("set 1 live"))
        #expect(try box.clamd.scan(v2.samples["Test.R2-1"]!) == nil)
        #expect(try box.clamd.scan(v1.samples["Test.R1-1"]!) == "Test.R1-1.UNOFFICIAL")
        #expect(try box.state().live?.generation == 1)
        #expect(try box.state().live?.confirmed == true)

        // The restored file stays while upstream still serves the same version.
        let (again, _) = try box.update()
        #expect(again.status == 0)
        #expect(try box.clamd.scan(v2.samples["Test.R2-1"]!) == nil)

        // Forward again to set 2, and a missing set is a usage error.
        #expect(try box.sigctl(["rollback", "--to", "2"]).status == 0)
        #expect(try box.clamd.scan(v2.samples["Test.R2-1"]!) == "Test.R2-1.UNOFFICIAL")
        let missing = try box.sigctl(["rollback", "--to", "99"])
        #expect(missing.status == 64)
        #expect(missing.stderr.contains("no installed set 99"))
    }

    @Test func aFileDisabledInTheConfigLeavesTheLiveSet() throws {
        let box = try Sandbox()
        try box.clamd.start()
        let keep = GeneratedSignatures.ndb("Test.Keep", count: 1)
        let drop = GeneratedSignatures.ndb("Test.Drop", count: 1)
        try box.publish(feed: "f", file: "keep.ndb", keep.text)
        try box.publish(feed: "f", file: "drop.ndb", drop.text)
        try box.writeFeed("f", files: ["keep.ndb", "drop.ndb"])
        #expect(try box.update().0.status == 0)
        #expect(try box.clamd.scan(drop.samples["Test.Drop-1"]!) == "Test.Drop-1.UNOFFICIAL")

        try box.writeFeed("f", files: ["keep.ndb"])
        let (result, report) = try box.update()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(report?.file("f", "drop.ndb")?.status == .removed)
        #expect(!FileManager.default.fileExists(atPath: box.dbDir + "/drop.ndb"))
        #expect(try box.clamd.scan(drop.samples["Test.Drop-1"]!) == nil)
        #expect(try box.clamd.scan(keep.samples["Test.Keep-1"]!) == "Test.Keep-1.UNOFFICIAL")
        #expect(FileManager.default.fileExists(atPath: box.dbDir + "/local.ndb"))
    }

    @Test func reloadVerifiesAndProvesWithAFreshCanary() throws {
        let box = try Sandbox()
        try box.clamd.start()
        try box.publish(feed: "f", file: "a.ndb", GeneratedSignatures.ndb("Test.Reload", count: 1).text)
        try box.writeFeed("f", files: ["a.ndb"])
        #expect(try box.update().0.status == 0)
        let before = try box.state().live?.canaryName
        let result = try box.sigctl(["reload"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("clamd confirmed it"))
        let after = try #require(try box.state().live)
        #expect(after.canaryName != before)
        #expect(after.confirmed)
    }

    @Test func verifyCommandReportsCountsAndExactErrors() throws {
        let box = try Sandbox()
        let good = box.root + "/good.ndb"
        try GeneratedSignatures.ndb("Test.Verify", count: 4).text.write(toFile: good, atomically: true, encoding: .utf8)
        let bad = box.root + "/bad.ndb"
        try "Test.A:0:*:41424344454647\nTest.B:0:*:not-hex-at-all\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let ok = try box.sigctl(["verify", good])
        #expect(ok.status == 0)
        #expect(ok.stdout.contains("OK, 4 signatures"))
        let failed = try box.sigctl(["verify", bad])
        #expect(failed.status == 2)
        #expect(failed.stdout.contains("line 2"))
        #expect(failed.stdout.contains("bad.ndb"))
    }

    @Test func verificationOutOfMemoryIsAFailureNotACrash() throws {
        let box = try Sandbox()
        try box.clamd.start()
        try box.publish(feed: "f", file: "a.ndb", GeneratedSignatures.ndb("Test.Mem", count: 1).text)
        try box.writeFeed("f", files: ["a.ndb"])
        try box.writeSettings("verify_memory_limit = \"24M\"")
        let before = try box.liveSnapshot()
        let result = try box.sigctl(["update"])
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("verify_memory_limit"))
        #expect(try box.liveSnapshot() == before)
        #expect(try box.clamd.client.ping())
    }

    @Test func badConfigurationNamesFileLineAndKey() throws {
        let box = try Sandbox()
        try box.writeFeed("broken", "name = \"broken\"\nmirrors = [\"http://127.0.0.1:1/\"\n[[files]]\nname = \"a.ndb\"\n")
        let syntax = try box.sigctl(["update"])
        #expect(syntax.status == 78)
        #expect(syntax.stderr.contains("broken.toml:"))
        #expect(syntax.stderr.split(separator: "\n").count == 1, "\(syntax.stderr)")

        try box.writeFeed("broken", "name = \"broken\"\nmirrors = [\"http://127.0.0.1:1/\"]\ninterval = \"soon\"\n[[files]]\nname = \"a.ndb\"\n")
        let value = try box.sigctl(["update"])
        #expect(value.status == 78)
        #expect(value.stderr.contains("broken.toml:3: key 'interval'"), "\(value.stderr)")

        try box.writeFeed("broken", "name = \"broken\"\nmirrors = [\"http://127.0.0.1:1/\"]\n[[files]]\nname = \"a.ndb\"\n[[files]]\nname = \"b.txt\"\n")
        let fileName = try box.sigctl(["feeds"])
        #expect(fileName.status == 78)
        #expect(fileName.stderr.contains("broken.toml:6: key 'name'"), "\(fileName.stderr)")

        try box.writeFeed("broken", "name = \"broken\"\nenabled = false\nmirros = [\"x\"]\nmirrors = [\"http://127.0.0.1:1/\"]\n[[files]]\nname = \"a.ndb\"\n")
        let unknown = try box.sigctl(["feeds"])
        #expect(unknown.status == 0)
        #expect(unknown.stderr.contains("broken.toml:3: unknown key 'mirros' ignored (did you mean 'mirrors'?)"), "\(unknown.stderr)")

        try box.writeSettings("clamd = \"bogus\"")
        let settings = try box.sigctl(["status"])
        #expect(settings.status == 78)
        #expect(settings.stderr.contains("sigctl.toml:"))
        #expect(settings.stderr.contains("'clamd'"))

        let usage = try box.sigctl(["update", "--no-such-flag"])
        #expect(usage.status == 64)

        try box.writeSettings()
        let disabled = try box.sigctl(["update", "--feed", "broken"])
        #expect(disabled.status == 64)
        #expect(disabled.stderr.contains("feed 'broken' is disabled"))

        try "DatabaseDirectory \(box.dbDir)\n".write(toFile: box.clamdConf, atomically: true, encoding: .utf8)
        let noSocket = try box.sigctl(["status"])
        #expect(noSocket.status == 78)
        #expect(noSocket.stderr.contains("no LocalSocket"))
    }
}
