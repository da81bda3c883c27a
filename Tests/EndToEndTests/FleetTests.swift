import Foundation
import SigctlCore
import Testing

/// One publisher, nginx serving its publish tree, and three gateways with their own
/// state, database directory and real clamd.
@Suite(.serialized) struct FleetTests {
    /// Every gateway: update exits 0 and its own clamd detects `sample` as `name`.
    func expectAllDetect(_ fleet: Fleet, _ sample: Data, as name: String?, sourceLocation: SourceLocation = #_sourceLocation) throws {
        for (index, gateway) in fleet.gateways.enumerated() {
            #expect(try gateway.clamd.scan(sample) == name, "gateway \(index + 1)", sourceLocation: sourceLocation)
        }
    }

    func updateAll(_ fleet: Fleet) throws -> [(RunResult, UpdateReport?)] { try fleet.gateways.map { try $0.update() } }

    @Test func oneVerifiedSetReachesEveryGatewayAndNothingElseDoes() throws {
        let fleet = try Fleet(gateways: 3)
        let pub = fleet.publisher
        let v1 = GeneratedSignatures.ndb("Test.Fleet", count: 5)
        try pub.publish(feed: "up", file: "a.ndb", v1.text)
        try pub.writeFeed("up", files: ["a.ndb"])

        // The publisher fetches, verifies, installs and publishes set 1.
        let (first, report) = try pub.update()
        #expect(first.status == 0, "\(first.stderr)")
        #expect(report?.published == 1)
        let manifest = try fleet.manifest()
        #expect(manifest.generation == 1 && manifest.files.map(\.name) == ["a.ndb"] && manifest.files[0].feed == "up")
        #expect(manifest.files[0].signatures == 5 && manifest.verified.libclamav == ClamAV.version)
        #expect(FileManager.default.fileExists(atPath: fleet.publishDir + "/manifests/\(manifest.id).json.sig"))
        #expect(!(try FileManager.default.contentsOfDirectory(atPath: fleet.publishDir + "/files/" + manifest.files[0].sha256)).contains(canaryFileName))

        // Each gateway installs it, proves it with its own canary, and detects the sample.
        for (result, report) in try updateAll(fleet) {
            #expect(result.status == 0, "\(result.stderr)")
            #expect(report?.file("fleet", "a.ndb")?.status == .updated)
            #expect(report?.reload.result == .confirmed, "\(String(describing: report?.reload))")
        }
        try expectAllDetect(fleet, v1.samples["Test.Fleet-3"]!, as: "Test.Fleet-3.UNOFFICIAL")
        let status = try fleet.gateways[0].sigctl(["status"])
        #expect(status.stdout.contains("publisher:   set 1 of"), "\(status.stdout)")

        // No change: one request per gateway, answered 304.
        let before = fleet.nginx.requests().count
        for (result, report) in try updateAll(fleet) {
            #expect(result.status == 0, "\(result.stderr)")
            #expect(report?.file("fleet", "a.ndb")?.status == .unchanged)
        }
        let quiet = fleet.nginx.requests().dropFirst(before)
        #expect(quiet.count == 3 && quiet.allSatisfy { $0.request.hasPrefix("GET /manifest.json ") && $0.status == 304 },
                "\(quiet.map { "\($0.request) \($0.status)" })")

        // A change upstream: a new version of a.ndb and a new file b.ndb reach every clamd.
        let v2 = GeneratedSignatures.ndb("Test.FleetTwo", count: 3)
        let extra = GeneratedSignatures.ndb("Test.FleetB", count: 2)
        try pub.publish(feed: "up", file: "a.ndb", v1.text + v2.text)
        try pub.publish(feed: "up", file: "b.ndb", extra.text)
        try pub.writeFeed("up", files: ["a.ndb", "b.ndb"])
        let (second, republished) = try pub.update()
        #expect(second.status == 0 && republished?.published == 2, "\(second.stderr)")
        for (result, report) in try updateAll(fleet) {
            #expect(result.status == 0, "\(result.stderr)")
            #expect(report?.file("fleet", "b.ndb")?.status == .updated)
        }
        try expectAllDetect(fleet, v2.samples["Test.FleetTwo-2"]!, as: "Test.FleetTwo-2.UNOFFICIAL")
        try expectAllDetect(fleet, extra.samples["Test.FleetB-1"]!, as: "Test.FleetB-1.UNOFFICIAL")

        // A broken upstream file stops at the publisher: nothing new is published.
        try pub.mirror.put("up/a.ndb", v1.text + "Broken.Sig:0:*:zz-not-hex\n")
        try pub.mirror.put("up/a.ndb.sha256", try ClamAV.hash("sha256", Data((v1.text + "Broken.Sig:0:*:zz-not-hex\n").utf8)) + "\n")
        let (broken, held) = try pub.update()
        #expect(broken.status != 0 && held?.published == nil, "\(broken.stdout)")
        #expect(try fleet.manifest().generation == 2)
        for (result, report) in try updateAll(fleet) {
            #expect(result.status == 0, "\(result.stderr)")
            #expect(report?.file("fleet", "a.ndb")?.status == .unchanged)
        }
        try expectAllDetect(fleet, v2.samples["Test.FleetTwo-1"]!, as: "Test.FleetTwo-1.UNOFFICIAL")

        // A file dropped upstream leaves every gateway with the next set.
        try pub.publish(feed: "up", file: "a.ndb", v1.text + v2.text)
        try pub.writeFeed("up", files: ["a.ndb"])
        let (third, dropped) = try pub.update()
        #expect((dropped?.published ?? 0) > 2, "\(third.stdout) \(third.stderr)")
        for (result, report) in try updateAll(fleet) {
            #expect(result.status == 0, "\(result.stderr)")
            #expect(report?.file("fleet", "b.ndb")?.status == .removed, "\(result.stdout)")
        }
        try expectAllDetect(fleet, extra.samples["Test.FleetB-1"]!, as: nil)
        try expectAllDetect(fleet, v2.samples["Test.FleetTwo-3"]!, as: "Test.FleetTwo-3.UNOFFICIAL")
    }

    @Test func aTamperedTreeOrAReplayIsRefusedByEveryGatewayAndNginxDownKeepsTheSets() throws {
        let fleet = try Fleet(gateways: 3)
        let pub = fleet.publisher
        let v1 = GeneratedSignatures.ndb("Test.Tamper", count: 4)
        try pub.publish(feed: "up", file: "a.ndb", v1.text)
        try pub.writeFeed("up", files: ["a.ndb"])
        #expect(try pub.update().1?.published == 1)
        for (result, _) in try updateAll(fleet) { #expect(result.status == 0, "\(result.stderr)") }

        // Set 2 on the publisher; keep set 1's manifest for the replay below.
        let oldManifest = try Data(contentsOf: URL(fileURLWithPath: fleet.publishDir + "/manifest.json"))
        let oldSignature = try Data(contentsOf: URL(fileURLWithPath: fleet.publishDir + "/manifest.json.sig"))
        let v2 = GeneratedSignatures.ndb("Test.TamperTwo", count: 2)
        try pub.publish(feed: "up", file: "a.ndb", v1.text + v2.text)
        #expect(try pub.update().1?.published == 2)
        let manifestPath = fleet.publishDir + "/manifest.json"
        let good = try Data(contentsOf: URL(fileURLWithPath: manifestPath))
        let entry = try fleet.manifest().files[0]

        // 1. The manifest edited on the web server (a file's digest swapped).
        let edited = String(decoding: good, as: UTF8.self).replacingOccurrences(of: "\"signatures\": 6", with: "\"signatures\": 7")
        #expect(edited.utf8.count == good.count && Data(edited.utf8) != good)
        try Data(edited.utf8).write(to: URL(fileURLWithPath: manifestPath))
        for gateway in fleet.gateways { try expectRefused(gateway, cause: "not signed by the site key", keeps: v1) }

        // 2. The manifest is good but a file was replaced on the server.
        try good.write(to: URL(fileURLWithPath: manifestPath))
        let filePath = fleet.publishDir + "/" + entry.path
        let genuine = try Data(contentsOf: URL(fileURLWithPath: filePath))
        try Data((v1.text + "Evil.Planted:0:*:\(hex("planted by an attacker"))\n").utf8).write(to: URL(fileURLWithPath: filePath))
        for gateway in fleet.gateways { try expectRefused(gateway, cause: "does not match the signed manifest", keeps: v1) }

        // 3. With the tree whole again, set 2 arrives; then an old, validly signed manifest is a replay.
        try genuine.write(to: URL(fileURLWithPath: filePath))
        for (result, _) in try updateAll(fleet) { #expect(result.status == 0, "\(result.stderr)") }
        try expectAllDetect(fleet, v2.samples["Test.TamperTwo-1"]!, as: "Test.TamperTwo-1.UNOFFICIAL")
        try oldManifest.write(to: URL(fileURLWithPath: manifestPath))
        try oldSignature.write(to: URL(fileURLWithPath: manifestPath + ".sig"))
        for gateway in fleet.gateways { try expectRefused(gateway, cause: "refused as a replay", keeps: v1, alsoNew: v2) }
        // --force drops the conditional GET, never the replay check (the error was printed
        // a moment ago, so this unattended run keeps quiet about it: read the report).
        let snapshot = try fleet.gateways[0].liveSnapshot()
        let (forced, forcedReport) = try fleet.gateways[0].update(["--force"])
        #expect(forced.status == 1 || forced.status == 2, "\(forced.stdout)")
        #expect(forcedReport?.feeds.first { $0.name == "fleet" }?.problems.first?.message.contains("refused as a replay") == true,
                "\(forced.stdout)")
        #expect(try fleet.gateways[0].liveSnapshot() == snapshot)
        try good.write(to: URL(fileURLWithPath: manifestPath))

        // 4. nginx down: every gateway keeps its set and clamd keeps scanning with it.
        fleet.nginx.stop()
        for gateway in fleet.gateways {
            let before = try gateway.liveSnapshot()
            let result = try gateway.sigctl(["update"])
            #expect(result.status == 1 || result.status == 2, "\(result.stderr)")
            #expect(result.stderr.contains("fleet") && result.stderr.contains("Couldn't connect"), "\(result.stderr)")
            #expect(try gateway.liveSnapshot() == before)
            #expect(try gateway.clamd.scan(v2.samples["Test.TamperTwo-2"]!) == "Test.TamperTwo-2.UNOFFICIAL")
        }
        // Back up: the manifest (rewritten above, so answered 200) and its signature, no file, nothing installed.
        try fleet.nginx.start()
        let requests = fleet.nginx.requests().count
        for (result, report) in try updateAll(fleet) {
            #expect(result.status == 0, "\(result.stderr)")
            #expect(report?.installed == false)
        }
        let seen = fleet.nginx.requests().dropFirst(requests)
        #expect(seen.count <= 6 && !seen.contains { $0.request.hasPrefix("GET /files/") }, "\(seen.map(\.request))")
    }

    @Test func aNewManifestNeverLooksUnchangedToTheWebServer() throws {
        // nginx's ETag is the mtime in seconds and the size: two manifests written within
        // one second with the same size would answer a gateway's conditional GET with 304.
        let fleet = try Fleet(gateways: 1)
        let pub = fleet.publisher
        try pub.publish(feed: "up", file: "a.ndb", GeneratedSignatures.ndb("Test.Stamp", count: 2).text)
        try pub.writeFeed("up", files: ["a.ndb"])
        #expect(try pub.update().1?.published == 1)
        #expect(try fleet.gateways[0].update().0.status == 0)
        let manifest = fleet.publishDir + "/manifest.json"
        let first = try #require(Files.modificationTime(manifest))
        // Two more publications straight away (well within two seconds of each other).
        for _ in 0..<2 {
            let again = try pub.sigctl(["publish", "--force"])
            #expect(again.status == 0, "\(again.stderr)")
        }
        let third = try #require(Files.modificationTime(manifest))
        #expect(third.timeIntervalSince(first) >= 2, "each publication moves the mtime on by a second at least")
        #expect(Files.list(fleet.publishDir + "/manifests").filter { $0.hasSuffix(".json.sig") }.count == 3,
                "each publication keeps a signature of its own")
        // The gateway sees the new manifest (200), not a 304 for the old one.
        let requests = fleet.nginx.requests().count
        #expect(try fleet.gateways[0].update().0.status == 0)
        let seen = fleet.nginx.requests().dropFirst(requests)
        #expect(seen.contains { $0.request.hasPrefix("GET /manifest.json ") && $0.status == 200 }, "\(seen.map { "\($0.request) \($0.status)" })")
    }

    @Test func aGatewaysOwnHamGateHoldsTheWholePublicationBackRemovalsIncluded() throws {
        let fleet = try Fleet(gateways: 2)
        let pub = fleet.publisher
        let v1 = GeneratedSignatures.ndb("Test.Whole", count: 3)
        let b = GeneratedSignatures.ndb("Test.WholeB", count: 2)
        try pub.publish(feed: "up", file: "a.ndb", v1.text)
        try pub.publish(feed: "up", file: "b.ndb", b.text)
        try pub.writeFeed("up", files: ["a.ndb", "b.ndb"])
        #expect(try pub.update().1?.published == 1)
        // Gateway 1 has legitimate mail of its own that the next set would start detecting.
        let ham = fleet.gateways[0].root + "/ham"
        try FileManager.default.createDirectory(atPath: ham, withIntermediateDirectories: true)
        try "From: news@example.invalid\nTo: b@example.invalid\nSubject: weekly\n\nour own weekly newsletter text\n"
            .write(toFile: ham + "/1.eml", atomically: true, encoding: .utf8)
        let feedFile = fleet.gateways[0].configDir + "/feeds.d/fleet.toml"
        try (try String(contentsOfFile: feedFile, encoding: .utf8) + "ham_corpus = \"\(ham)\"\n")
            .write(toFile: feedFile, atomically: true, encoding: .utf8)
        for (result, _) in try updateAll(fleet) { #expect(result.status == 0, "\(result.stderr)") }

        // Set 2 changes a.ndb (with a signature that hits gateway 1's ham) and drops b.ndb.
        try pub.publish(feed: "up", file: "a.ndb", v1.text + "Test.Newsletter:0:*:\(hex("our own weekly newsletter"))\n")
        try pub.writeFeed("up", files: ["a.ndb"])
        #expect((try pub.update().1?.published ?? 0) > 1)
        let before = try fleet.gateways[0].liveSnapshot()
        let (held, report) = try fleet.gateways[0].update()
        #expect(held.status == 1 || held.status == 2, "\(held.stderr)")
        #expect(report?.file("fleet", "a.ndb")?.status == .rejected, "\(held.stdout)")
        #expect(report?.file("fleet", "b.ndb")?.status != .removed, "\(held.stdout)")
        #expect(try fleet.gateways[0].liveSnapshot() == before, "nothing of set 2 went in, not even its removal")
        #expect(try fleet.gateways[0].clamd.scan(b.samples["Test.WholeB-1"]!) == "Test.WholeB-1.UNOFFICIAL")
        #expect(try fleet.gateways[0].sigctl(["status"]).stdout.contains("publisher:   set 1 of"))
        // Gateway 2 has no such mail: it takes set 2 whole.
        let (taken, whole) = try fleet.gateways[1].update()
        #expect(taken.status == 0, "\(taken.stderr)")
        #expect(whole?.file("fleet", "b.ndb")?.status == .removed)
        #expect(try fleet.gateways[1].clamd.scan(b.samples["Test.WholeB-1"]!) == nil)
    }

    /// An update that must refuse the publication: one error naming the feed and the
    /// cause, nothing live changes, clamd still detects the set it had.
    func expectRefused(_ gateway: Sandbox, cause: String, keeps: GeneratedSignatures, alsoNew: GeneratedSignatures? = nil,
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        let before = try gateway.liveSnapshot()
        let result = try gateway.sigctl(["update"])
        #expect(result.status == 1 || result.status == 2, "\(result.stderr)", sourceLocation: sourceLocation)
        let lines = result.stderr.split(separator: "\n").filter { $0.contains("fleet") }
        #expect(lines.count == 1 && lines[0].contains("rejected") && lines[0].contains(cause), "\(result.stderr)", sourceLocation: sourceLocation)
        #expect(try gateway.liveSnapshot() == before, sourceLocation: sourceLocation)
        #expect(try gateway.clamd.scan(keeps.samples[keeps.samples.keys.sorted()[0]]!) != nil, sourceLocation: sourceLocation)
        if let alsoNew { #expect(try gateway.clamd.scan(alsoNew.samples[alsoNew.samples.keys.sorted()[0]]!) != nil, sourceLocation: sourceLocation) }
    }
}
