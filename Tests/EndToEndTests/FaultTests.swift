import Foundation
import SigctlCore
import Testing

/// Every fault leaves a loadable live set, a truthful report and a working next run.
/// Faults are injected with failpoints and real processes, never with sleeps.
@Suite(.serialized) struct FaultTests {
    /// Stages where `update` is killed with SIGKILL, in pipeline order.
    static let stages = [
        "update.locked", "update.fetched", "update.verified", "update.generation", "install.staged", "install.journal",
        "install.rename#1", "install.renamed", "update.installed", "reload.sent", "update.recorded",
    ]

    @Test func killedAtEveryStageTheLiveSetLoadsAndTheNextRunRecovers() throws {
        let box = try Sandbox()
        try box.clamd.start()
        try box.writeFeed("f", files: ["a.ndb"])
        var all = GeneratedSignatures.ndb("Test.Base", count: 1)
        try box.publish(feed: "f", file: "a.ndb", all.text)
        #expect(try box.update().0.status == 0)

        for (index, stage) in Self.stages.enumerated() {
            let added = GeneratedSignatures.ndb("Test.Stage\(index)", count: 1)
            let previous = all
            all.lines += added.lines
            try box.publish(feed: "f", file: "a.ndb", all.text)
            let killed = try box.update(failpoints: "\(stage)=kill")
            #expect(killed.status == SIGKILL, "\(stage): \(killed.stderr)")
            try box.liveSetLoads()
            #expect(try box.clamd.scan(previous.samples["Test.Base-1"]!) == "Test.Base-1.UNOFFICIAL", "\(stage): clamd keeps scanning")

            let (next, report) = try box.update()
            #expect(next.status == 0, "\(stage): \(next.stderr)")
            #expect(try box.clamd.scan(added.samples["Test.Stage\(index)-1"]!) == "Test.Stage\(index)-1.UNOFFICIAL", "\(stage)")
            #expect(try box.state().live?.confirmed == true, "\(stage)")
            #expect(report?.reload.result == .confirmed || report?.reload.result == .not_needed, "\(stage)")
            box.noStagingDebris()
            #expect(!FileManager.default.fileExists(atPath: box.stateDir + "/install-journal.json"), "\(stage)")
            let kept = try box.sigctl(["status", "--json"])
            let status = try JSONDecoder.output.decode(StatusReport.self, from: Data(kept.stdout.utf8))
            #expect(status.generations.contains(status.live?.generation ?? -1), "\(stage): the live set is kept")
        }
        // After eleven crashes the history holds only sets clamd confirmed, and rollback works.
        let rollback = try box.sigctl(["rollback"])
        #expect(rollback.status == 0, "\(rollback.stderr)")
        try box.liveSetLoads()
    }

    @Test func theVerificationChildKilledAloneIsAFailedVerificationAndDiesWithItsParent() throws {
        let box = try Sandbox()
        try box.clamd.start()
        let v1 = GeneratedSignatures.ndb("Test.V1", count: 1)
        try box.publish(feed: "f", file: "a.ndb", v1.text)
        try box.writeFeed("f", files: ["a.ndb"])
        #expect(try box.update().0.status == 0)
        let before = try box.liveSnapshot()

        let v2 = GeneratedSignatures.ndb("Test.V2", count: 1)
        try box.publish(feed: "f", file: "a.ndb", v1.text + v2.text)
        let run = try BackgroundRun(box, ["update"], failpoints: "verify-child.compiled=pause")
        let child = try run.waitForPause("verify-child.compiled")
        #expect(child != run.process.processIdentifier)
        kill(child, SIGKILL)
        run.resume("verify-child.compiled") // later children (the blame step's) go on
        let result = run.wait()
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("f/a.ndb: rejected: verification failed: the verification child was killed by signal 9"), "\(result.stderr)")
        #expect(try box.liveSnapshot() == before)
        #expect(try box.clamd.scan(v1.samples["Test.V1-1"]!) == "Test.V1-1.UNOFFICIAL")

        // sigctl killed while its child loads: the child goes too.
        let second = try BackgroundRun(box, ["update"], failpoints: "verify-child.compiled=pause")
        let orphan = try second.waitForPause("verify-child.compiled")
        kill(second.process.processIdentifier, SIGKILL)
        second.wait()
        defer { second.resume("verify-child.compiled") }
        #expect(waitUntilGone(orphan), "the verification child must die with sigctl")

        let (next, report) = try box.update()
        #expect(next.status == 0, "\(next.stderr)")
        #expect(report?.file("f", "a.ndb")?.status == .updated)
        #expect(try box.clamd.scan(v2.samples["Test.V2-1"]!) == "Test.V2-1.UNOFFICIAL")
    }

    @Test func aDamagedStateFileIsRebuiltFromTheKeptSets() throws {
        let box = try Sandbox()
        try box.clamd.start()
        let sigs = GeneratedSignatures.ndb("Test.State", count: 2)
        try box.publish(feed: "f", file: "a.ndb", sigs.text)
        try box.publish(feed: "f", file: "b.ndb", GeneratedSignatures.ndb("Test.StateB", count: 1).text)
        try box.writeFeed("f", files: ["a.ndb", "b.ndb"])
        #expect(try box.update().0.status == 0)
        let good = try String(contentsOfFile: box.stateDir + "/state.json", encoding: .utf8)

        for damage in ["", String(good.prefix(good.count / 2)), "this is not json\n"] {
            try damage.write(toFile: box.stateDir + "/state.json", atomically: true, encoding: .utf8)
            let status = try box.sigctl(["status"])
            #expect(status.status == 2)
            #expect(status.stderr.contains("the next `sigctl update` moves it aside and rebuilds it"), "\(status.stderr)")
            let (result, report) = try box.update()
            #expect(result.status == 0, "\(result.stderr)")
            #expect(report?.notes.contains { $0.contains("was damaged") && $0.contains("adopted by their recorded sha256") } == true,
                    "\(report?.notes ?? [])")
            let state = try box.state()
            #expect(Set(state.live?.owned ?? []) == ["a.ndb", "b.ndb", canaryFileName])
            #expect(state.live?.confirmed == true, "the recovered set is proven with its canary")
            #expect(try box.clamd.scan(sigs.samples["Test.State-1"]!) == "Test.State-1.UNOFFICIAL")
        }
        #expect(Files.list(box.stateDir).filter { $0.hasPrefix("state.json.damaged-") }.count >= 1)
        // Nothing was adopted that sigctl does not own.
        #expect(!(try box.state().live?.owned.contains("local.ndb") ?? true))
    }

    @Test func liveFilesEditedOrDeletedByHandAreRepairedAndKeptSetsStayIntact() throws {
        let box = try Sandbox()
        try box.clamd.start()
        let a = GeneratedSignatures.ndb("Test.HandA", count: 1)
        let b = GeneratedSignatures.ndb("Test.HandB", count: 1)
        try box.publish(feed: "f", file: "a.ndb", a.text)
        try box.publish(feed: "f", file: "b.ndb", b.text)
        try box.writeFeed("f", files: ["a.ndb", "b.ndb"], interval: "1h")
        #expect(try box.update().0.status == 0)
        let generation = try #require(try box.state().live?.generation)
        let keptA = box.stateDir + "/generations/\(generation)/a.ndb"
        var live = stat(), kept = stat()
        stat(box.dbDir + "/a.ndb", &live)
        stat(keptA, &kept)
        #expect(live.st_ino != kept.st_ino, "a kept set never shares an inode with a live file")

        // Edited by hand (appending to the live file must not reach the kept copy) and deleted by hand.
        let handle = try #require(FileHandle(forWritingAtPath: box.dbDir + "/a.ndb"))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("Hand.Edit:0:*:4142434445464748\n".utf8))
        try handle.close()
        unlink(box.dbDir + "/b.ndb")
        #expect(try String(contentsOfFile: keptA, encoding: .utf8) == a.text)

        let (result, report) = try box.update()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("f/a.ndb was changed in \(box.dbDir) by hand; restoring it from set \(generation)"), "\(result.stderr)")
        #expect(report?.file("f", "b.ndb")?.message?.contains("restored from set \(generation)") == true)
        #expect(try String(contentsOfFile: box.dbDir + "/a.ndb", encoding: .utf8) == a.text)
        #expect(try box.clamd.scan(b.samples["Test.HandB-1"]!) == "Test.HandB-1.UNOFFICIAL")
        #expect(box.mirror.requests(path: "/f/a.ndb").count == 1, "the repair came from the kept set, not the mirror")

        // The kept copy deleted too: the file is fetched again, whatever the interval.
        let now = try #require(try box.state().live?.generation)
        unlink(box.dbDir + "/a.ndb")
        unlink(box.stateDir + "/generations/\(now)/a.ndb")
        let (again, second) = try box.update()
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("the kept set has no good copy; fetching it again"), "\(again.stderr)")
        #expect(second?.file("f", "a.ndb")?.status == .updated)
        #expect(try box.clamd.scan(a.samples["Test.HandA-1"]!) == "Test.HandA-1.UNOFFICIAL")
    }

    @Test func aKeptSetDeletedByHandNeverDropsAFileFromTheLiveSet() throws {
        let box = try Sandbox()
        try box.clamd.start()
        let a = GeneratedSignatures.ndb("Test.KeepA", count: 1)
        let b = GeneratedSignatures.ndb("Test.KeepB", count: 1)
        try box.publish(feed: "f", file: "a.ndb", a.text)
        try box.publish(feed: "f", file: "b.ndb", b.text)
        try box.writeFeed("f", files: ["a.ndb", "b.ndb"])
        #expect(try box.update().0.status == 0)
        Files.remove(box.stateDir + "/generations/1")
        let a2 = GeneratedSignatures.ndb("Test.KeepA2", count: 1)
        try box.publish(feed: "f", file: "a.ndb", a.text + a2.text)
        let (result, _) = try box.update()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try box.clamd.scan(b.samples["Test.KeepB-1"]!) == "Test.KeepB-1.UNOFFICIAL", "b.ndb stays live")
        let manifest = try #require(Generations(stateDir: box.stateDir).manifest(2))
        #expect(Set(manifest.files.keys) == ["a.ndb", "b.ndb"], "the new kept set holds exactly the verified set")
        #expect(FileManager.default.fileExists(atPath: box.stateDir + "/generations/2/b.ndb"))
    }

    @Test func staleStagingAndPlantedSymlinksAreCleanedWithoutFollowingThem() throws {
        let box = try Sandbox()
        try box.clamd.start()
        try box.publish(feed: "f", file: "a.ndb", GeneratedSignatures.ndb("Test.Stale", count: 1).text)
        try box.writeFeed("f", files: ["a.ndb"])
        let outside = box.root + "/outside"
        try Files.makeDirectory(outside)
        try "precious\n".write(toFile: outside + "/keep.txt", atomically: true, encoding: .utf8)
        symlink(outside, box.dbDir + "/.sigctl-install")
        try Files.makeDirectory(box.stateDir + "/staging/candidate-old")
        let (result, report) = try box.update()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(report?.installed == true)
        box.noStagingDebris()
        #expect(Files.list(outside) == ["keep.txt"], "nothing was written or removed through the planted symlink")
        #expect(!FileManager.default.fileExists(atPath: box.stateDir + "/staging/candidate-old"))
    }
}
