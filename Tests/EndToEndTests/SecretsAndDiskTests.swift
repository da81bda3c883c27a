import Foundation
import SigctlCore
import Testing

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
