import Foundation
import SigctlCore
import Testing

/// Feeds over rsync: a real `rsync --daemon` on loopback serving the same tree as the
/// HTTP mirror, with faults injected into it (daemon down, truncated file, missing
/// module, max connections). Every case ends with the live set loadable and clamd
/// scanning with it.
@Suite(.serialized) struct RsyncTests {
    /// A GPG feed with an rsync mirror first and the HTTP mirror as fallback.
    final class Setup {
        let box: Sandbox
        let rsyncd: RsyncDaemon
        let key: TestKey
        var v1 = GeneratedSignatures.ndb("Test.Rsync", count: 6)
        let other = GeneratedSignatures.ndb("Test.RsyncOther", count: 2)

        init(module: String = "feeds", http: Bool = true, clamd: Bool = true) throws {
            box = try Sandbox()
            if clamd { try box.clamd.start() } else { try box.writeSettings("clamd = \"none\"") }
            rsyncd = try RsyncDaemon(root: box.mirror.root, workDir: box.root)
            key = try TestKey(directory: box.root + "/gnupg")
            try box.publish(feed: "rs", file: "a.ndb", v1.text, key: key)
            try box.publish(feed: "rs", file: "b.ndb", other.text, key: key)
            try writeFeed(module: module, http: http)
        }

        func writeFeed(module: String = "feeds", http: Bool = true, extra: String = "") throws {
            var mirrors = [rsyncd.url("rs/", module: module)]
            if http { mirrors.append(box.mirror.url("rs/")) }
            try box.writeFeed("rs", files: ["a.ndb", "b.ndb"], integrity: "gpg", mirrors: mirrors, key: key, extra: extra)
        }

        /// HTTP requests for the feed's database files (not the signing key).
        var httpFileRequests: Int { box.mirror.requests().filter { ($0["path"] as? String)?.hasSuffix(".ndb") == true }.count }

        func expectLiveV1(sourceLocation: SourceLocation = #_sourceLocation) throws {
            try box.liveSetLoads(sourceLocation: sourceLocation)
            #expect(try box.clamd.scan(v1.samples["Test.Rsync-1"]!) == "Test.Rsync-1.UNOFFICIAL", sourceLocation: sourceLocation)
        }
    }

    @Test func aFeedOverRsyncIsInstalledProvenAndThenCostsOneConnectionPerRun() throws {
        let env = try Setup()
        let (first, report) = try env.box.update()
        #expect(first.status == 0, "\(first.stderr)")
        #expect(report?.file("rs", "a.ndb")?.status == .updated)
        #expect(report?.file("rs", "a.ndb")?.mirror?.hasPrefix("rsync://") == true, "\(String(describing: report?.file("rs", "a.ndb")))")
        #expect(env.rsyncd.connections == 1, "one rsync connection for both files and their signatures")
        #expect(env.httpFileRequests == 0, "the HTTP fallback is not used while rsync works")
        try env.expectLiveV1()
        #expect(try env.box.clamd.scan(env.other.samples["Test.RsyncOther-2"]!) == "Test.RsyncOther-2.UNOFFICIAL")

        // Nothing changed upstream: one connection, nothing installed.
        let (second, again) = try env.box.update()
        #expect(second.status == 0, "\(second.stderr)")
        #expect(again?.file("rs", "a.ndb")?.status == .unchanged)
        #expect(env.rsyncd.connections == 2)
        #expect(try env.box.state().live?.generation == 1)

        // A new version upstream reaches clamd.
        let v2 = GeneratedSignatures.ndb("Test.RsyncNew", count: 3)
        try env.box.publish(feed: "rs", file: "a.ndb", env.v1.text + v2.text, key: env.key)
        let (third, changed) = try env.box.update()
        #expect(third.status == 0, "\(third.stderr)")
        #expect(changed?.file("rs", "a.ndb")?.status == .updated)
        #expect(changed?.file("rs", "b.ndb")?.status == .unchanged)
        #expect(try env.box.clamd.scan(v2.samples["Test.RsyncNew-3"]!) == "Test.RsyncNew-3.UNOFFICIAL")
        #expect(env.httpFileRequests == 0)
        // rsync wrote only into its own copy in the state directory, never the live one.
        #expect(FileManager.default.fileExists(atPath: env.box.stateDir + "/rsync/rs/a.ndb.sig"))
        #expect(!FileManager.default.fileExists(atPath: env.box.dbDir + "/a.ndb.sig"))
    }

    @Test func theDaemonDownFailsOverToTheHTTPMirrorAndRsyncAloneKeepsTheLiveSet() throws {
        let env = try Setup()
        #expect(try env.box.update().0.status == 0)
        env.rsyncd.stop()
        let v2 = GeneratedSignatures.ndb("Test.RsyncDown", count: 2)
        try env.box.publish(feed: "rs", file: "a.ndb", env.v1.text + v2.text, key: env.key)
        let (result, report) = try env.box.update(["-v"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(report?.file("rs", "a.ndb")?.status == .updated)
        #expect(report?.file("rs", "a.ndb")?.mirror?.hasPrefix("http://") == true)
        #expect(result.stderr.contains("Connection refused"), "\(result.stderr)")
        #expect(try env.box.clamd.scan(v2.samples["Test.RsyncDown-1"]!) == "Test.RsyncDown-1.UNOFFICIAL")

        // transport = "rsync", daemon down: the HTTP mirror is left alone, the failure
        // names the rsync mirror, and nothing live changes.
        try env.writeFeed(extra: "transport = \"rsync\"")
        let httpBefore = env.httpFileRequests
        try env.box.publish(feed: "rs", file: "a.ndb", env.v1.text, key: env.key)
        let before = try env.box.liveSnapshot()
        let failed = try env.box.sigctl(["update"])
        #expect(failed.status == 1 || failed.status == 2, "\(failed.stderr)")
        let line = failed.stderr.split(separator: "\n").first { $0.contains("rs:") && $0.contains("a.ndb") }
        #expect(line?.contains("failed") == true && line?.contains("rsync://127.0.0.1:\(env.rsyncd.port)/feeds/rs/") == true,
                "\(failed.stderr)")
        #expect(line?.contains("Connection refused") == true, "\(failed.stderr)")
        #expect(try env.box.liveSnapshot() == before)
        #expect(env.httpFileRequests == httpBefore)
        #expect(try env.box.clamd.scan(v2.samples["Test.RsyncDown-2"]!) == "Test.RsyncDown-2.UNOFFICIAL")
    }

    @Test func aTruncatedFileOnTheRsyncMirrorIsRejectedAndTheHTTPMirrorServesTheGoodOne() throws {
        let env = try Setup()
        #expect(try env.box.update().0.status == 0)
        // A new, signed version; then the rsync side of the tree holds a truncated copy
        // (a second module path, as a mirror that broke mid-sync would).
        let v2 = GeneratedSignatures.ndb("Test.RsyncCut", count: 4)
        let full = env.v1.text + v2.text
        try env.box.publish(feed: "rs", file: "a.ndb", full, key: env.key)
        let root = env.box.mirror.root
        try FileManager.default.createDirectory(atPath: root + "/cut", withIntermediateDirectories: true)
        for name in ["a.ndb.sig", "b.ndb", "b.ndb.sig"] { try FileManager.default.copyItem(atPath: root + "/rs/" + name, toPath: root + "/cut/" + name) }
        try Data(full.utf8.prefix(full.utf8.count / 2)).write(to: URL(fileURLWithPath: root + "/cut/a.ndb"))
        try env.box.writeFeed("rs", files: ["a.ndb", "b.ndb"], integrity: "gpg",
                              mirrors: [env.rsyncd.url("cut/"), env.box.mirror.url("rs/")], key: env.key)
        let (result, report) = try env.box.update(["-v"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(report?.file("rs", "a.ndb")?.status == .updated)
        #expect(report?.file("rs", "a.ndb")?.mirror?.hasPrefix("http://") == true)
        #expect(result.stderr.contains("GPG check failed"), "\(result.stderr)")
        #expect(try env.box.clamd.scan(v2.samples["Test.RsyncCut-4"]!) == "Test.RsyncCut-4.UNOFFICIAL")

        // With only the broken rsync mirror: rejected, one message, the live set stays.
        try env.box.writeFeed("rs", files: ["a.ndb", "b.ndb"], integrity: "gpg", mirrors: [env.rsyncd.url("cut/")], key: env.key)
        try env.box.publish(feed: "rs", file: "a.ndb", full + GeneratedSignatures.ndb("Test.RsyncCut2", count: 1).text, key: env.key)
        let before = try env.box.liveSnapshot()
        let rejected = try env.box.sigctl(["update"])
        #expect(rejected.status == 1 || rejected.status == 2, "\(rejected.stderr)")
        let lines = rejected.stderr.split(separator: "\n").filter { $0.contains("rs/a.ndb") }
        #expect(lines.count == 1 && lines[0].contains("rejected") && lines[0].contains("GPG check failed"), "\(rejected.stderr)")
        #expect(try env.box.liveSnapshot() == before)
        #expect(try env.box.clamd.scan(v2.samples["Test.RsyncCut-1"]!) == "Test.RsyncCut-1.UNOFFICIAL")
    }

    @Test func aMissingModuleIsNamedAndTheHTTPMirrorTakesOver() throws {
        let env = try Setup(module: "nosuchmodule", clamd: false)
        let (result, report) = try env.box.update(["-v"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(report?.file("rs", "a.ndb")?.mirror?.hasPrefix("http://") == true)
        #expect(result.stderr.contains("Unknown module 'nosuchmodule'"), "\(result.stderr)")

        try env.writeFeed(module: "nosuchmodule", http: false)
        let v2 = GeneratedSignatures.ndb("Test.RsyncMod", count: 1)
        try env.box.publish(feed: "rs", file: "a.ndb", env.v1.text + v2.text, key: env.key)
        let failed = try env.box.sigctl(["update"])
        #expect(failed.status == 1 || failed.status == 2)
        #expect(failed.stderr.contains("Unknown module 'nosuchmodule'"), "\(failed.stderr)")
    }

    @Test func maxConnectionsBacksOffLikeA429AndStatusSaysSo() throws {
        let env = try Setup(module: "busy", clamd: false)
        try env.rsyncd.holdBusy()
        let (result, report) = try env.box.update()
        #expect(result.status == 0, "the HTTP mirror delivers: \(result.stderr)")
        #expect(report?.file("rs", "a.ndb")?.mirror?.hasPrefix("http://") == true)
        let host = "127.0.0.1:\(env.rsyncd.port)"
        let backoff = try #require(try env.box.state().hosts[host])
        #expect(backoff.reason?.contains("max connections (1) reached") == true, "\(String(describing: backoff.reason))")
        #expect(abs(backoff.until.timeIntervalSinceNow - 3600) < 120)
        let connections = env.rsyncd.connections
        let status = try env.box.sigctl(["status"])
        #expect(status.stdout.contains("backing off: \(host)") && status.stdout.contains("rsync: max connections"), "\(status.stdout)")

        // While backing off, sigctl sends the busy mirror nothing, even when the slot is free.
        env.rsyncd.releaseBusy()
        let (again, _) = try env.box.update(["--force"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(env.rsyncd.connections == connections)
    }

    @Test func rsyncMirrorsAreCheckedWhenTheConfigIsRead() throws {
        let box = try Sandbox()
        try box.writeFeed("bad", files: ["a.ndb"], mirrors: ["rsync://"])
        let noHost = try box.sigctl(["feeds"])
        #expect(noHost.status == 78, "\(noHost.stderr)")
        #expect(noHost.stderr.contains("needs a host and a module"), "\(noHost.stderr)")
        try box.writeFeed("bad", files: ["a.ndb"], mirrors: ["rsync://mirror.example/m/"], extra: "transport = \"http\"")
        let none = try box.sigctl(["feeds"])
        #expect(none.stderr.contains("leaves none of the feed's mirrors"), "\(none.stderr)")
        try box.writeFeed("bad", files: ["a*.ndb"], mirrors: ["rsync://mirror.example/m/"])
        let pattern = try box.sigctl(["feeds"])
        #expect(pattern.stderr.contains("cannot be fetched over rsync"), "\(pattern.stderr)")
    }
}
