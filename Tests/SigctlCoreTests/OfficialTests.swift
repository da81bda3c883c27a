import Foundation
import Testing
@testable import SigctlCore

@Suite struct OfficialUnitTests {
    @Test func officialFeedParses() throws {
        let dir = TempDir()
        dir.write("clamd.conf", "LocalSocket /run/clamd.ctl\n")
        dir.write("sigctl.toml", "clamd_conf = \"\(dir.path)/clamd.conf\"\n")
        dir.write("feeds.d/clamav.toml", """
            kind = "official"
            databases = ["main", "daily"]
            mirrors = ["http://127.0.0.1:1/clamav"]
            private_mirror = true
            dns = "none"
            """)
        let feed = try #require(try ConfigLoader.load(directory: dir.path).feed(named: "clamav"))
        let official = try #require(feed.official)
        #expect(official.databases == ["main", "daily"])
        #expect(official.privateMirror)
        #expect(official.dns == nil)
        #expect(official.database(of: "daily.cld") == "daily")
        #expect(official.database(of: "bytecode.cvd") == nil)
        #expect(feed.files.isEmpty)
    }

    /// cdiffs everywhere, except on a host that publishes the official feed: freshclam
    /// gateways need whole signed CVDs. An explicit scripted_updates wins.
    @Test func aPublisherDownloadsWholeCVDsUnlessToldOtherwise() throws {
        func scripted(settings: String, feed: String = "") throws -> (Bool, Bool) {
            let dir = TempDir()
            dir.write("clamd.conf", "LocalSocket /run/clamd.ctl\n")
            dir.write("sigctl.toml", "clamd_conf = \"\(dir.path)/clamd.conf\"\n" + settings)
            dir.write("feeds.d/clamav.toml", "kind = \"official\"\n" + feed)
            let official = try #require(try ConfigLoader.load(directory: dir.path).feed(named: "clamav")?.official)
            return (official.scriptedUpdates, official.scriptedUpdatesChosen)
        }
        let publishing = "publish_dir = \"/srv/sigctl\"\npublish_key = \"\(String(repeating: "A", count: 40))\"\n"
        #expect(try scripted(settings: "") == (true, false))
        #expect(try scripted(settings: publishing) == (false, false))
        #expect(try scripted(settings: publishing + "publish_feeds = [\"sanesecurity\"]\n") == (true, false))
        #expect(try scripted(settings: publishing + "publish_feeds = [\"clamav\"]\n") == (false, false))
        #expect(try scripted(settings: publishing, feed: "scripted_updates = true\n") == (true, true))
        #expect(try scripted(settings: "", feed: "scripted_updates = false\n") == (false, true))
    }

    @Test func freshclamOnTheSameDirectoryIsAConflict() {
        let dir = TempDir()
        let conf = dir.write("freshclam.conf", "# comment\nDatabaseDirectory \(dir.path)/db\n")
        let unit = dir.write("clamav-freshclam.service", "")
        #expect(FreshclamDetector.conflict(databaseDir: dir.path + "/db", freshclamConf: conf, enabledUnits: [unit]) != nil)
        #expect(FreshclamDetector.conflict(databaseDir: dir.path + "/other", freshclamConf: conf, enabledUnits: [unit]) == nil,
                "freshclam updates another directory")
        #expect(FreshclamDetector.conflict(databaseDir: dir.path + "/db", freshclamConf: conf, enabledUnits: [dir.path + "/none"]) == nil,
                "freshclam is installed but its service is not enabled")
    }

    @Test func coolDownIsReadFromFreshclamDat() {
        let dir = TempDir()
        var data = Data("FreshClamData".utf8)
        data += Data([1, 0, 0, 0])
        data += Data(repeating: 0x61, count: 36) + Data([0])
        data += Data(repeating: 0, count: 61 - data.count)
        var until = Int64(2_000_000_000).littleEndian
        data += Data(bytes: &until, count: 8)
        FileManager.default.createFile(atPath: dir.path + "/freshclam.dat", contents: data)
        #expect(OfficialFetcher.coolDown(dir.path + "/freshclam.dat") == Date(timeIntervalSince1970: 2_000_000_000))
        FileManager.default.createFile(atPath: dir.path + "/bad.dat", contents: Data("nonsense".utf8))
        #expect(OfficialFetcher.coolDown(dir.path + "/bad.dat") == nil)
    }

    @Test func cvdHeaderIsRead() {
        let dir = TempDir()
        let path = dir.write("daily.cld", "ClamAV-VDB:22 Jun 2021 21-34 -0400:6:14:81:X:X:micasnyd:1624412045" + String(repeating: " ", count: 450))
        let header = CVDHeader.read(path)
        #expect(header?.version == 6)
        #expect(header?.signatures == 14)
        #expect(header?.built == Date(timeIntervalSince1970: 1_624_412_045))
    }

    /// freshclam asks a private mirror for the CLD before the CVD: the top of the tree
    /// holds one file per database, the newer, and the signed CVD on a tie.
    @Test func theTopOfThePublishTreeHoldsTheNewerFilePerDatabase() {
        func file(_ name: String, _ version: String?) -> PublishManifest.File {
            PublishManifest.File(name: name, sha256: name, size: 1, signatures: 1, feed: "clamav", version: version,
                                 path: "files/\(name)/\(name)")
        }
        let entries = [file("daily.cld", "27800"), file("daily.cvd", "27790"), file("main.cld", "62"), file("main.cvd", "62"),
                       file("bytecode.cvd", "335"), file("sanesecurity.ndb", nil), file("odd.cld", nil), file("odd.cvd", "3")]
        #expect(FreshclamTop.select(entries).map(\.name) == ["bytecode.cvd", "daily.cld", "main.cvd", "odd.cvd"])
        #expect(FreshclamTop.isMirrored("daily.cld") && FreshclamTop.isMirrored("main.cvd") && !FreshclamTop.isMirrored("x.cud"))
    }
}
