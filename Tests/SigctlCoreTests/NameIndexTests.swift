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
        #expect(SignatureLookup.lineText(path, hit: two) == "Sig.Two:0:*:74776f")
        #expect(NameIndex.lookup("Sig.Three", index: index, path: path)?.isEmpty == true)
        // A changed file makes the index stale.
        dir.write("a.ndb", "Sig.Two:0:*:74776f\n")
        #expect(NameIndex.lookup("Sig.Two", index: index, path: path) == nil)
    }

    @Test func anUncompressedContainerIsIndexedPerMember() throws {
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
        #expect(SignatureLookup.lineText(cld, hit: hit) == "Cld.Body-2:0:*:626f647932")
        #expect(NameIndex.lookup("Cld.Hash-1", index: dir.path + "/x.idx", path: cld)?.first?.member == "x.hdb")
    }

    @Test func aGzipContainerIsIndexedWithAccessPointsAndReadWithoutUnpacking() throws {
        let dir = TempDir()
        let members = dir.path + "/members"
        try FileManager.default.createDirectory(atPath: members, withIntermediateDirectories: true)
        // About 9 MiB of lines whose patterns do not compress much: several access points.
        var seed: UInt64 = 42
        var lines: [String] = []
        for i in 1...160_000 {
            var hex = ""
            for _ in 0..<4 {
                seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                hex += String(seed >> 32, radix: 16)
            }
            lines.append("Gz.Sig-\(i):0:*:\(hex)")
        }
        try "Gz.Sig:1\n".write(toFile: members + "/gz.info", atomically: true, encoding: .utf8)
        try (lines.joined(separator: "\n") + "\n").write(toFile: members + "/gz.ndb", atomically: true, encoding: .utf8)
        let tar = dir.path + "/gz.tar"
        for (tool, arguments) in [("/bin/tar", ["-cf", tar, "-C", members, "gz.info", "gz.ndb"]), ("/bin/gzip", ["-6", tar])] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: tool)
            process.arguments = arguments
            try process.run()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
        }
        let header = "ClamAV-VDB:23 Nov 2026 10-00 +0000:7:3:90:X:X:sigctl:0".padding(toLength: 512, withPad: " ", startingAt: 0)
        let cvd = dir.path + "/main.cvd"
        try (Data(header.utf8) + (try Data(contentsOf: URL(fileURLWithPath: tar + ".gz")))).write(to: URL(fileURLWithPath: cvd))
        let index = dir.path + "/main.cvd.idx"
        #expect(try NameIndex.build(cvd, into: index))
        var points = Set<UInt64>()
        for i in [1, 2, 20_000, 79_999, 80_000, 123_456, 159_999, 160_000] {
            let hit = try #require(NameIndex.lookup("Gz.Sig-\(i)", index: index, path: cvd)?.first)
            #expect(hit.member == "gz.ndb" && hit.line == i)
            let point = try #require(hit.point)
            #expect(hit.offset - point.output <= GzipAccess.span + 65536)
            points.insert(point.output)
            #expect(SignatureLookup.lineText(cvd, hit: hit) == lines[i - 1])
        }
        #expect(points.count >= 4, "lines far apart are read from different access points")
        #expect(NameIndex.lookup("Gz.Sig-160001", index: index, path: cvd)?.isEmpty == true)

        // Data that is not deflate is an error, not an index of nothing.
        let bad = dir.path + "/bad.cvd"
        try (Data(header.utf8) + Data([0x1f, 0x8b, 8, 0]) + Data(count: 600)).write(to: URL(fileURLWithPath: bad))
        #expect(throws: SystemError.self) { try NameIndex.build(bad, into: dir.path + "/bad.idx") }
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/bad.idx"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).allSatisfy { !$0.contains("inflating") })
    }
}

@Suite struct SignatureLineTests {
    func nameHash(_ line: String, _ ext: String) -> UInt64? {
        var line = line
        return line.withUTF8 { SignatureLine.nameHash($0, fileExtension: ext) }
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
