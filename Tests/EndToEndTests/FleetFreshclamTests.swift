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
        let note = try pub.sigctl(["publish", "--force"])
        #expect(note.status == 0 && note.stdout.contains("note: test.cld was patched here from cdiffs and carries no signature"),
                "\(note.stdout)")
        let json = try pub.sigctl(["publish", "--force", "--json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(object?["unsigned_for_freshclam"] as? [String] == ["test.cld"], "\(json.stdout)")

        // The default on a publisher: version 6 comes whole although its cdiff is there.
        try pub.writeOfficialTestFeed()
        let feeds = try pub.sigctl(["feeds"])
        #expect(feeds.stdout.contains("whole CVDs (published for freshclam gateways)"), "\(feeds.stdout)")
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
        #expect(quiet.status == 0 && !quiet.stdout.contains("note:"), "\(quiet.stdout)")
    }
}

/// Debian's freshclam pointed at the publish tree with PrivateMirror, as on a gateway
/// that keeps freshclam. With a private mirror freshclam skips DNS and cdiffs, and asks
/// for each database's CLD before its CVD.
final class FreshclamGateway {
    let root: String
    /// What the last run printed, for failure messages.
    private(set) var output = ""

    init(root: String, port: Int) throws {
        self.root = root
        try FileManager.default.createDirectory(atPath: root + "/db", withIntermediateDirectories: true)
        try """
        DatabaseDirectory \(root)/db
        PrivateMirror http://127.0.0.1:\(port)
        DNSDatabaseInfo no
        DatabaseOwner root
        Foreground yes
        UpdateLogFile \(root)/freshclam.log
        PidFile \(root)/freshclam.pid

        """.write(toFile: root + "/freshclam.conf", atomically: true, encoding: .utf8)
    }

    /// Runs freshclam once; returns the gateway's files of the test database afterwards.
    func update() throws -> [String: Data] {
        let result = try runProgram("/usr/bin/freshclam", ["--config-file=\(root)/freshclam.conf", "--update-db=test"])
        output = "freshclam exit \(result.status): \(result.stdout) \(result.stderr)"
        var files: [String: Data] = [:]
        for name in ["test.cvd", "test.cld"] { files[name] = FileManager.default.contents(atPath: root + "/db/" + name) }
        return files
    }
}
