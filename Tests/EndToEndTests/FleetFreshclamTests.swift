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
        let gateway = pub.root + "/freshclam-gateway"
        try FileManager.default.createDirectory(atPath: gateway + "/db", withIntermediateDirectories: true)
        try """
        DatabaseDirectory \(gateway)/db
        PrivateMirror http://127.0.0.1:\(fleet.nginx.port)
        DNSDatabaseInfo no
        ScriptedUpdates no
        DatabaseOwner root
        Foreground yes
        UpdateLogFile \(gateway)/freshclam.log
        PidFile \(gateway)/freshclam.pid

        """.write(toFile: gateway + "/freshclam.conf", atomically: true, encoding: .utf8)
        let freshclam = try runProgram("/usr/bin/freshclam", ["--config-file=\(gateway)/freshclam.conf", "--update-db=test"])
        #expect(freshclam.status == 0, "\(freshclam.stdout) \(freshclam.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: gateway + "/db/test.cvd")) == cvd, "\(freshclam.stdout)")
        #expect(fleet.nginx.requests().contains { $0.request.hasPrefix("GET /test.cvd ") && $0.status == 200 })
    }
}
