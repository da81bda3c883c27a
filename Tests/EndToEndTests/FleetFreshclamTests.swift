import Foundation
import SigctlCore
import Testing

/// The publish tree as a freshclam PrivateMirror: a gateway that keeps plain freshclam
/// gets the official databases the publisher verified, from nginx.
@Suite(.serialized, .enabled(if: Paths.haveFixtures, "../shared/fixtures is absent: the signed test CVDs are needed"))
struct FleetFreshclamTests {
    @Test func freshclamTakesThePublishedOfficialDatabasesFromTheTree() throws {
        let fleet = try Fleet(gateways: 0)
        let pub = fleet.publisher
        let cvd = try Data(contentsOf: URL(fileURLWithPath: Paths.fixtures + "/clamav-cvd/test-6.cvd"))
        try pub.mirror.put("clamav/test.cvd", cvd)
        try pub.writeOfficialTestFeed()
        let (result, report) = try pub.update()
        #expect(result.status == 0 && report?.published == 1, "\(result.stderr)")
        let published = try #require(try fleet.manifest().files.first { $0.name == "test.cvd" })
        #expect(published.version == "6" && published.feed == "clamav")
        #expect(try Data(contentsOf: URL(fileURLWithPath: fleet.publishDir + "/test.cvd")) == cvd)

        // Debian's freshclam, pointed at the tree with PrivateMirror, as on a gateway.
        let gateway = try FreshclamGateway(root: pub.root + "/freshclam-gateway", port: fleet.nginx.port)
        #expect(try gateway.update() == ["test.cvd": cvd], "\(gateway.output)")
        #expect(fleet.nginx.requests().contains { $0.request.hasPrefix("GET /test.cvd ") && $0.status == 200 })
    }

    /// A publisher downloads each new official version whole, so the tree has a CVD that
    /// freshclam checks against ClamAV's signature. With scripted_updates = true it
    /// patches a CLD from cdiffs instead; freshclam asks for the CLD first and takes it
    /// unsigned, and publish says so. Switching back, the stale CLD leaves the top.
    @Test func aPublisherKeepsSignedCVDsAndFreshclamGatewaysFollowEachVersion() throws {
        let fleet = try Fleet(gateways: 0)
        let pub = fleet.publisher
        func fixture(_ name: String) throws -> Data {
            try Data(contentsOf: URL(fileURLWithPath: Paths.fixtures + "/clamav-cvd/" + name))
        }
        func live(_ name: String) -> Data? { FileManager.default.contents(atPath: pub.dbDir + "/" + name) }
        func top(_ name: String) -> Data? { FileManager.default.contents(atPath: fleet.publishDir + "/" + name) }
        let gateway = try FreshclamGateway(root: pub.root + "/freshclam-gateway", port: fleet.nginx.port)

        // Version 4: the first sync is whole whatever the setting; cdiffs are chosen here.
        try pub.mirror.put("clamav/test.cvd", try fixture("test-4.cvd"))
        try pub.writeOfficialTestFeed("scripted_updates = true")
        var (result, report) = try pub.update()
        #expect(result.status == 0 && report?.published != nil, "\(result.stderr)")
        #expect(try gateway.update() == ["test.cvd": try fixture("test-4.cvd")], "\(gateway.output)")

        // Version 5 from its cdiff: the publisher holds a CLD and serves it at the top, the
        // CVD leaves, and freshclam takes the CLD.
        try pub.mirror.put("clamav/test.cvd", try fixture("test-5.cvd"))
        try pub.mirror.put("clamav/test-5.cdiff", try fixture("test-5.cdiff"))
        (result, report) = try pub.update()
        #expect(result.status == 0 && report?.published != nil, "\(result.stderr)")
        let cld = try #require(live("test.cld"))
        #expect(top("test.cld") == cld && top("test.cvd") == nil)
        #expect(try fleet.manifest().files.contains { $0.name == "test.cld" && $0.version == "5" })
        #expect(try gateway.update() == ["test.cld": cld], "\(gateway.output)")
        let note = try pub.sigctl(["publish"])
        #expect(note.status == 0 && note.stderr.contains("test.cld was patched from cdiffs and carries no signature"),
                "\(note.stderr)")
        let json = try pub.sigctl(["publish", "--force", "--json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(object?["unsigned_for_freshclam"] as? [String] == ["test.cld"], "\(json.stdout)")

        // The default on a publisher: whole CVDs. The patched CLD is not offered to
        // libfreshclam, so the signed CVD of the same version comes at once; a mirror
        // still behind that version is not taken.
        try pub.writeOfficialTestFeed()
        let feeds = try pub.sigctl(["feeds"])
        #expect(feeds.stdout.contains("whole CVDs (published for freshclam gateways)"), "\(feeds.stdout)")
        try pub.mirror.put("clamav/test.cvd", try fixture("test-4.cvd"))
        (result, report) = try pub.update(["-v"])
        #expect(result.status == 0 && live("test.cld") == cld && live("test.cvd") == nil, "\(result.stderr)")
        #expect((result.stdout + result.stderr).contains("older than the installed test.cld (5); the CLD stays"),
                "\(result.stdout) \(result.stderr)")
        try pub.mirror.put("clamav/test.cvd", try fixture("test-5.cvd"))
        (result, report) = try pub.update()
        #expect(result.status == 0 && report?.published != nil, "\(result.stderr)")
        #expect(live("test.cvd") == (try fixture("test-5.cvd")) && live("test.cld") == nil)
        #expect(top("test.cvd") == (try fixture("test-5.cvd")) && top("test.cld") == nil)
        #expect(try gateway.update() == ["test.cld": cld], "freshclam keeps its CLD of the same version: \(gateway.output)")

        // Version 6 comes whole although its cdiff is there.
        try pub.mirror.put("clamav/test.cvd", try fixture("test-6.cvd"))
        try pub.mirror.put("clamav/test-6.cdiff", try fixture("test-6.cdiff"))
        (result, report) = try pub.update()
        #expect(result.status == 0 && report?.published != nil, "\(result.stderr)")
        #expect(pub.mirror.requests(path: "/clamav/test-6.cdiff").isEmpty)
        #expect(live("test.cvd") == (try fixture("test-6.cvd")) && live("test.cld") == nil)
        #expect(top("test.cvd") == (try fixture("test-6.cvd")) && top("test.cld") == nil)
        #expect(try !fleet.manifest().files.contains { $0.name == "test.cld" })
        #expect(try gateway.update() == ["test.cvd": try fixture("test-6.cvd")], "\(gateway.output)")
        let quiet = try pub.sigctl(["publish", "--force"])
        #expect(quiet.status == 0 && !quiet.stderr.contains("carries no signature"), "\(quiet.stderr)")
    }
}
