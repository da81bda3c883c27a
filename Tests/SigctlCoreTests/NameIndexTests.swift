import Foundation
import Testing
@testable import SigctlCore

@Suite struct NameIndexTests {
    @Test func aPlainFileIsFoundByNameWithLineAndOffset() throws {
        let dir = TempDir()
        let path = dir.write("a.ndb", "# comment\nSig.One:0:*:6f6e65\nSig.Two:0:*:74776f\r\nSig.One:1:*:6f6e6532\n")
        let index = dir.path + "/a.ndb.idx"
        #expect(try NameIndex.build(path, into: index))
        let hits = try #require(NameIndex.lookup("Sig.One.UNOFFICIAL", index: index, path: path))
        #expect(hits.map(\.line).sorted() == [2, 4])
        let two = try #require(NameIndex.lookup("Sig.Two", index: index, path: path)?.first)
        #expect(two.line == 3 && two.member == nil)
        #expect(SignatureLookup.lineText(path, at: two.offset) == "Sig.Two:0:*:74776f")
        #expect(NameIndex.lookup("Sig.Three", index: index, path: path)?.isEmpty == true)
        // A changed file makes the index stale.
        dir.write("a.ndb", "Sig.Two:0:*:74776f\n")
        #expect(NameIndex.lookup("Sig.Two", index: index, path: path) == nil)
    }

    @Test func anUncompressedContainerIsIndexedPerMemberAndACompressedOneIsNot() throws {
        let dir = TempDir()
        let members = dir.path + "/members"
        try FileManager.default.createDirectory(atPath: members, withIntermediateDirectories: true)
        try "Cld.Hash:1\n".write(toFile: members + "/x.info", atomically: true, encoding: .utf8)
        try "d41d8cd98f00b204e9800998ecf8427e:0:Cld.Hash-1\n".write(toFile: members + "/x.hdb", atomically: true, encoding: .utf8)
        try "Cld.Body-1:0:*:626f6479\nCld.Body-2:0:*:626f647932\n".write(toFile: members + "/x.ndb", atomically: true, encoding: .utf8)
        let tar = dir.path + "/body.tar"
        let made = Process()
        made.executableURL = URL(fileURLWithPath: "/bin/tar")
        made.arguments = ["-cf", tar, "-C", members, "x.info", "x.hdb", "x.ndb"]
        try made.run()
        made.waitUntilExit()
        let header = "ClamAV-VDB:23 Nov 2026 10-00 +0000:7:3:90:X:X:sigctl:0".padding(toLength: 512, withPad: " ", startingAt: 0)
        let cld = dir.path + "/x.cld"
        try (Data(header.utf8) + (try Data(contentsOf: URL(fileURLWithPath: tar)))).write(to: URL(fileURLWithPath: cld))
        #expect(try NameIndex.build(cld, into: dir.path + "/x.idx"))
        let hit = try #require(NameIndex.lookup("Cld.Body-2", index: dir.path + "/x.idx", path: cld)?.first)
        #expect(hit.member == "x.ndb" && hit.line == 2)
        #expect(SignatureLookup.lineText(cld, at: hit.offset) == "Cld.Body-2:0:*:626f647932")
        #expect(NameIndex.lookup("Cld.Hash-1", index: dir.path + "/x.idx", path: cld)?.first?.member == "x.hdb")
        let gz = dir.path + "/x.cvd"
        try (Data(header.utf8) + Data([0x1f, 0x8b, 8, 0]) + Data(count: 600)).write(to: URL(fileURLWithPath: gz))
        #expect(try !NameIndex.build(gz, into: dir.path + "/gz.idx"))
    }
}

@Suite struct SignatureLineTests {
    func nameHash(_ line: String, _ ext: String) -> UInt64? {
        var line = line
        return line.withUTF8 { SetDelta.nameHash($0, fileExtension: ext) }
    }

    @Test func namesComeFromTheFieldLibclamavReads() {
        #expect(nameHash("d41d8cd98f00b204e9800998ecf8427e:0:Hash.Name", "hdb") == SignatureFileIndex.hash("Hash.Name"))
        #expect(nameHash("345:4ab1c7e0a3b1e3c2d1f0e9d8c7b6a5f4:Imp.Name", "imp") == SignatureFileIndex.hash("Imp.Name"))
        #expect(nameHash("Body.Name:0:*:616263", "ndb") == SignatureFileIndex.hash("Body.Name"))
        #expect(nameHash("Logic.Name;Engine:51-255,Target:0;0;616263", "ldb") == SignatureFileIndex.hash("Logic.Name"))
        #expect(nameHash("main.ndb:12:Ignored.Name", "ign") == SignatureFileIndex.hash("Ignored.Name"))
        #expect(nameHash("Ignored.Name", "ign2") == SignatureFileIndex.hash("Ignored.Name"))
        #expect(nameHash("# a comment", "ndb") == nil)
    }

    @Test func macroSignaturesAreRecognised() {
        func macro(_ line: String) -> Bool {
            var line = line
            return line.withUTF8 { SetDelta.usesMacro($0) }
        }
        #expect(macro("Grouped.Member:0:$12:616263"))
        #expect(macro("Uses.Macro;Engine:51-255,Target:0;0;616263${6-7}12$"))
        #expect(!macro("Plain.Body:0:*:616263"))
    }
}
