import Foundation
import Testing
@testable import SigctlCore

/// The verification child loads a directory one file at a time in libclamav's order, to
/// count each file during the one load. These tests hold it to `cl_load(directory)`.
@Suite struct DirectoryLoadTests {
    /// A directory whose result depends on the load order: `zz.ign2` (loaded first by
    /// libclamav despite its name) drops a signature of `aa.ndb`; a `.txt` file is not a database.
    func orderSensitiveSet() -> TempDir {
        let dir = TempDir()
        dir.write("aa.ndb", "Sigctl.Test.Dropped-1:0:*:6f726465722d746573742d64726f70\nSigctl.Test.Kept-1:0:*:6f726465722d746573742d6b656570\n")
        dir.write("zz.ign2", "Sigctl.Test.Dropped-1\n")
        dir.write("mm.hdb", "44d88612fea8a8f36de82e1278abb02f:68:Sigctl.Test.Hash-1\n")
        dir.write("notes.txt", "not a database\n")
        return dir
    }

    @Test func ordersLikeLibclamav() throws {
        let dir = orderSensitiveSet()
        dir.write("bb.crb", "")
        let order = try DirectoryLoad.order(of: dir.path, officialOnly: false, liveDirectory: "/var/lib/clamav")
        #expect(order.first == "zz.ign2")
        #expect(order.dropFirst().first == "bb.crb")
        #expect(Set(order) == ["zz.ign2", "bb.crb", "aa.ndb", "mm.hdb"])
        let official = try DirectoryLoad.order(of: dir.path, officialOnly: true, liveDirectory: "/var/lib/clamav")
        #expect(official == ["zz.ign2"], "OfficialDatabaseOnly keeps only .ign/.ign2 and containers")
    }

    @Test func perFileLoadEqualsTheDirectoryLoad() throws {
        let dir = orderSensitiveSet()
        let whole = try ClamEngine()
        try whole.load(dir.path, options: LoadOptions())
        let split = try ClamEngine()
        let counts = try #require(try split.loadDirectory(dir.path, options: LoadOptions(), liveDirectory: dir.path))
        #expect(split.signatures == whole.signatures)
        #expect(counts["aa.ndb"] == 1, "the ignore list was loaded first and dropped one of the two")
        #expect(counts["mm.hdb"] == 1)
        #expect(counts.values.reduce(0, +) == Int(whole.signatures))
        try whole.compile()
        try split.compile()
        let probe = dir.write("probe.bin", "xx order-test-drop order-test-keep xx")
        #expect(try whole.scanFile(probe) == "Sigctl.Test.Kept-1.UNOFFICIAL")
        #expect(try split.scanFile(probe) == "Sigctl.Test.Kept-1.UNOFFICIAL")
    }

    @Test func realOfficialContainersLoadTheSameWay() throws {
        let fixtures = packageRoot + "/../shared/fixtures/clamav-cvd"
        guard FileManager.default.fileExists(atPath: fixtures) else {
            print("skipped: \(fixtures) is absent (the signed official test CVDs)")
            return
        }
        // daily.cld (version 6) wins over daily.cvd (version 5), as in libclamav.
        let dir = TempDir()
        for (from, to) in [("test-5.cvd", "daily.cvd"), ("test-6.cvd", "daily.cld"), ("bytecode.cvd", "bytecode.cvd")] {
            try FileManager.default.copyItem(atPath: fixtures + "/" + from, toPath: dir.path + "/" + to)
        }
        let order = try DirectoryLoad.order(of: dir.path, officialOnly: false, liveDirectory: dir.path)
        #expect(order == ["daily.cld", "bytecode.cvd"])
        let whole = try ClamEngine()
        try whole.load(dir.path, options: LoadOptions())
        let split = try ClamEngine()
        let counts = try #require(try split.loadDirectory(dir.path, options: LoadOptions(), liveDirectory: dir.path))
        #expect(split.signatures == whole.signatures)
        #expect(counts.values.reduce(0, +) == Int(whole.signatures))
    }

    @Test func theCompactIndexNamesTheDefiningFile() throws {
        let dir = orderSensitiveSet()
        dir.write("other.ldb", "Sigctl.Test.Logical-1;Engine:51-255,Target:0;0;6c6f676963616c2d6f6e65\n")
        let engine = try ClamEngine()
        let index = try engine.loadDirectoryIndexed(dir.path, options: LoadOptions())
        #expect(index.count == 3, "the ignored signature is not indexed")
        #expect(index.file(of: "Sigctl.Test.Kept-1.UNOFFICIAL") == "aa.ndb")
        #expect(index.file(of: "Sigctl.Test.Hash-1") == "mm.hdb")
        #expect(index.file(of: "Sigctl.Test.Logical-1.UNOFFICIAL") == "other.ldb")
        #expect(index.file(of: "Sigctl.Test.Dropped-1") == nil)
        #expect(index.file(of: "Never.Defined") == nil)
    }

    @Test func unknownLibclamavVersionsLoadWhole() {
        #expect(DirectoryLoad.ruleKnown(for: "1.4.6"))
        #expect(DirectoryLoad.ruleKnown(for: "1.0.9"))
        #expect(DirectoryLoad.ruleKnown(for: "0.103.12"))
        #expect(!DirectoryLoad.ruleKnown(for: "1.5.0"))
        #expect(!DirectoryLoad.ruleKnown(for: "0.102.4"))
    }
}
