import Foundation
import Testing
import SigctlCore

/// The corpus comparison by delta (small engines of the changed signatures, whole sets
/// only for the messages they flag) must give exactly what comparing the whole sets on
/// every message gives. Each test runs both with the real binary and compares: the
/// corpus child (`sigctl __scan-corpora`) and `sigctl test --db` on each whole set.
@Suite(.serialized) struct CorpusDeltaTests {
    /// A scratch directory, removed at the end.
    final class TempDir {
        let path = NSTemporaryDirectory() + "sigctl-delta-\(UUID().uuidString)"
        init() { try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: path) }
        func write(_ name: String, _ text: String) {
            let full = path + "/" + name
            try? FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: full, contents: Data(text.utf8))
        }
    }

    func ndb(_ pairs: [(String, String)]) -> String {
        pairs.map { "\($0.0):0:*:\(hex($0.1))\n" }.joined()
    }

    func mail(_ body: String) -> String {
        "From: a@example.invalid\nTo: b@example.invalid\nSubject: test\n\n\(body)\n"
    }

    /// Every message's hits in one whole set, from `sigctl test --db DIR --json`.
    func scanWhole(_ directory: String, _ corpus: String) throws -> CorpusHits {
        let result = try runProgram(Paths.sigctl, ["test", "--db", directory, "--json", corpus])
        #expect(result.status == 0 || result.status == 1, "\(result.stderr)")
        var hits: CorpusHits = [:]
        for line in result.stdout.split(separator: "\n") {
            guard let message = try? JSONDecoder().decode(MessageResult.self, from: Data(line.utf8)) else { continue }
            hits[message.label] = Dictionary(message.matches.map { ($0.signature, $0.file ?? "") }, uniquingKeysWith: { a, _ in a })
        }
        return hits
    }

    /// Every message's hits in the whole live set and the whole candidate.
    func whole(_ request: CorpusScanRequest, _ spec: CorpusSpec) throws -> (live: CorpusHits, candidate: CorpusHits) {
        (try scanWhole(request.live, spec.path), try scanWhole(request.candidate, spec.path))
    }

    /// The corpus child, as `update` runs it.
    func child(_ request: CorpusScanRequest, scratch: String) throws -> CorpusScanReport {
        let path = scratch + "/request.json"
        try JSONEncoder().encode(request).write(to: URL(fileURLWithPath: path))
        let result = try runProgram(Paths.sigctl, ["__scan-corpora", "--request", path])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try JSONDecoder().decode(CorpusScanReport.self, from: Data(result.stdout.utf8))
        #expect(report.ok, "\(report.error ?? "")")
        return report
    }

    func newHits(_ live: CorpusHits, _ candidate: CorpusHits) -> Set<String> {
        Set(CorpusComparison.newHits(live: live, candidate: candidate).flatMap { message, hits in hits.map { "\(message) \($0.0) \($0.1)" } })
    }

    /// Messages that become detected or stop being detected.
    func transitions(_ live: CorpusHits, _ candidate: CorpusHits) -> Set<String> {
        var result: Set<String> = []
        for message in Set(live.keys).union(candidate.keys) {
            let before = live[message]?.isEmpty ?? true, after = candidate[message]?.isEmpty ?? true
            if before && !after { result.insert("new \(message)") }
            if !before && after { result.insert("lost \(message)") }
        }
        return result
    }

    /// Runs the delta comparison and the whole one and holds them to each other.
    @discardableResult
    func compareBothWays(live: String, candidate: String, corpora: [CorpusSpec], scratch: String) throws -> CorpusScanReport {
        let request = CorpusScanRequest(live: live, candidate: candidate, corpora: corpora, options: LoadOptions(),
                                        scratch: scratch + "/work", cache: scratch + "/cache", maxDeltaLines: 1_000_000)
        try FileManager.default.createDirectory(atPath: scratch + "/cache", withIntermediateDirectories: true)
        let report = try child(request, scratch: scratch)
        for spec in corpora {
            let delta = try #require(report.corpora.first { $0.path == spec.path && $0.kind == spec.kind })
            let full = try whole(request, spec)
            #expect(newHits(delta.live, delta.candidate) == newHits(full.live, full.candidate), "\(spec.kind) \(spec.path)")
            // Stronger, for every message the small engines did not flag: for ham, the candidate
            // adds no hit; for detect mail, both whole sets give the same hits.
            for message in Set(full.live.keys).union(full.candidate.keys) where delta.live[message] == nil && delta.candidate[message] == nil {
                let before = Set(full.live[message]?.keys.map { $0 } ?? []), after = Set(full.candidate[message]?.keys.map { $0 } ?? [])
                if spec.kind == .ham {
                    #expect(after.isSubset(of: before), "\(message) gained a hit but was not flagged")
                } else {
                    #expect(before == after, "\(message) changed but was not flagged")
                }
            }
            // The ham gate needs only the new hits; the detect corpus needs each message's verdict.
            if spec.kind == .detect {
                #expect(transitions(delta.live, delta.candidate) == transitions(full.live, full.candidate), "\(spec.path)")
            }
        }
        return report
    }

    /// A changed file: a line added, one removed, one rewritten, and a name that an unchanged file defines too.
    func generatedSets() -> (TempDir, String, String, String) {
        let dir = TempDir()
        dir.write("live/a.ndb", ndb([("Gen.A-1", "alpha-one"), ("Gen.A-2", "alpha-two"), ("Gen.A-3", "alpha-three"), ("Gen.Dup-1", "dup-old")]))
        dir.write("live/u.ndb", ndb([("Gen.U-1", "unchanged-one"), ("Gen.Dup-1", "dup-shared")]))
        dir.write("live/x.ign2", "Gen.Nothing\n")
        dir.write("cand/a.ndb", ndb([("Gen.A-1", "alpha-one"), ("Gen.A-3", "alpha-three-new"), ("Gen.Dup-1", "dup-new"), ("Gen.A-4", "alpha-four")]))
        dir.write("cand/u.ndb", ndb([("Gen.U-1", "unchanged-one"), ("Gen.Dup-1", "dup-shared")]))
        dir.write("cand/x.ign2", "Gen.Nothing\n")
        dir.write("cand/b.ldb", "Gen.L-1;Engine:51-255,Target:0;0&1;\(hex("logic-left"));\(hex("logic-right"))\n")
        let bodies = ["alpha-one", "alpha-two", "alpha-three", "alpha-three-new", "alpha-four", "dup-shared and dup-new",
                      "dup-new", "dup-old", "unchanged-one", "logic-left then logic-right", "nothing at all"]
        for (number, body) in bodies.enumerated() { dir.write("corpus/m\(number).eml", mail(body)) }
        return (dir, dir.path + "/live", dir.path + "/cand", dir.path + "/corpus")
    }

    @Test func aChangedFileIsComparedByDeltaAndMatchesTheWholeSets() throws {
        let (dir, live, candidate, corpus) = generatedSets()
        let report = try compareBothWays(live: live, candidate: candidate,
                                         corpora: [CorpusSpec(path: corpus, kind: .ham), CorpusSpec(path: corpus, kind: .detect)],
                                         scratch: dir.path + "/scratch")
        let ham = try #require(report.corpora.first { $0.kind == .ham })
        #expect(ham.mode == "delta")
        #expect(ham.messages == 11)
        #expect(ham.flagged < ham.messages, "the unchanged messages are left out")
        #expect(report.wholeLoads == 2, "flagged messages go to the whole sets, one engine at a time")
        let found = newHits(ham.live, ham.candidate)
        #expect(found.contains { $0.hasSuffix("m4.eml Gen.A-4.UNOFFICIAL a.ndb") })
        #expect(found.contains { $0.hasSuffix("m6.eml Gen.Dup-1.UNOFFICIAL a.ndb") })
        #expect(!found.contains { $0.contains("m5.eml") }, "dup-shared fires in the live set too, from the unchanged file")
        #expect(!found.contains { $0.contains("m3.eml") }, "the old pattern already matched alpha-three-new")
    }

    @Test func nothingChangedMeansNoWholeLoad() throws {
        let (dir, live, _, corpus) = generatedSets()
        let copy = dir.path + "/same"
        try FileManager.default.copyItem(atPath: live, toPath: copy)
        let report = try compareBothWays(live: live, candidate: copy, corpora: [CorpusSpec(path: corpus, kind: .ham)],
                                         scratch: dir.path + "/scratch")
        #expect(report.corpora.first?.flagged == 0)
        #expect(report.wholeLoads == 0)
    }

    @Test func aMessageTheChildCannotReadFailsTheComparisonInsteadOfPassing() throws {
        let (dir, live, candidate, corpus) = generatedSets()
        dir.write("corpus/private.eml", mail("alpha-four"))
        chmod(corpus + "/private.eml", 0o600)
        let scratch = dir.path + "/scratch"
        try FileManager.default.createDirectory(atPath: scratch + "/cache", withIntermediateDirectories: true)
        for path in [scratch, scratch + "/cache"] { chmod(path, 0o777) }
        let request = CorpusScanRequest(live: live, candidate: candidate, corpora: [CorpusSpec(path: corpus, kind: .ham)],
                                        options: LoadOptions(), scratch: scratch + "/work", cache: scratch + "/cache", maxDeltaLines: 1_000_000)
        try JSONEncoder().encode(request).write(to: URL(fileURLWithPath: scratch + "/request.json"))
        // As update runs it when it is root: as the owner of the database directory (here: nobody).
        let result = try runProgram(Paths.sigctl, ["__scan-corpora", "--request", scratch + "/request.json", "--run-as", "65534:65534"])
        #expect(result.status == 1)
        let report = try JSONDecoder().decode(CorpusScanReport.self, from: Data(result.stdout.utf8))
        #expect(!report.ok)
        #expect(report.error?.contains("cannot read \(corpus)/private.eml as uid 65534") == true, "\(report.error ?? "")")
    }

    @Test func contextAndAllowListChangesFallBackToTheWholeSetsWhereTheyMust() throws {
        let (dir, live, candidate, corpus) = generatedSets()
        // A new allow-list entry only takes hits away: the ham gate stays a delta, the detect corpus cannot.
        dir.write("cand/x.ign2", "Gen.Nothing\nGen.U-1\n")
        var report = try compareBothWays(live: live, candidate: candidate,
                                         corpora: [CorpusSpec(path: corpus, kind: .ham), CorpusSpec(path: corpus, kind: .detect)],
                                         scratch: dir.path + "/scratch1")
        #expect(report.corpora.first { $0.kind == .ham }?.mode == "delta")
        let detect = try #require(report.corpora.first { $0.kind == .detect })
        #expect(detect.mode == "whole")
        #expect(detect.reason?.contains("x.ign2 changed") == true)
        #expect(transitions(detect.live, detect.candidate).contains { $0.hasPrefix("lost") && $0.hasSuffix("m8.eml") })
        // Dropping an entry can bring back anything: both compare whole.
        dir.write("live/x.ign2", "Gen.Nothing\nGen.Old\n")
        report = try compareBothWays(live: live, candidate: candidate, corpora: [CorpusSpec(path: corpus, kind: .ham)],
                                     scratch: dir.path + "/scratch2")
        #expect(report.corpora.first?.mode == "whole")
        #expect(report.corpora.first?.reason?.contains("drops allow-list entries") == true)
        // A phishing domain list decides how every URL matches.
        dir.write("live/p.pdb", "H:paypal.com\n")
        dir.write("cand/p.pdb", "H:paypal.com\nH:ebay.com\n")
        dir.write("live/x.ign2", "Gen.Nothing\n")
        report = try compareBothWays(live: live, candidate: candidate, corpora: [CorpusSpec(path: corpus, kind: .ham)],
                                     scratch: dir.path + "/scratch3")
        #expect(report.corpora.first?.mode == "whole")
        #expect(report.corpora.first?.reason?.contains("p.pdb changed") == true)
    }

    @Test(.enabled(if: Paths.haveFixtures, "../shared/fixtures is absent: the comparison on real feeds, CVDs and mail is skipped"))
    func realFeedsAndOfficialContainersGiveTheSameResultAsTheWholeSets() throws {
        let fixtures = Paths.fixtures
                let dir = TempDir()
        let live = dir.path + "/live", candidate = dir.path + "/cand"
        for side in [live, candidate] { try FileManager.default.createDirectory(atPath: side, withIntermediateDirectories: true) }
        func put(_ from: String, _ to: String, _ sides: [String]) throws {
            for side in sides { try FileManager.default.copyItem(atPath: fixtures + "/" + from, toPath: side + "/" + to) }
        }
        try put("clamav-cvd/bytecode.cvd", "bytecode.cvd", [live, candidate])
        try put("mail/clamav-testfiles/clamav.hdb", "clamav.hdb", [live, candidate])
        for file in ["sanesecurity/jurlbla.ndb", "sanesecurity/spam.ldb", "sanesecurity/winnow_phish_complete.ndb",
                     "securiteinfo/securiteinfo.ign2", "rfxn/rfxn.ndb"] {
            try put("thirdparty/" + file, (file as NSString).lastPathComponent, [live, candidate])
        }
        // The official daily moves from version 5 to 6 (one body signature added inside the container).
        try put("clamav-cvd/test-5.cvd", "daily.cvd", [live])
        try put("clamav-cvd/test-6.cvd", "daily.cvd", [candidate])
        // URLhaus moves from its older snapshot to the newer one: thousands of lines in and out.
        try put("thirdparty/urlhaus/urlhaus-2024-07-27.ndb", "urlhaus.ndb", [live])
        try put("thirdparty/urlhaus/urlhaus.ndb", "urlhaus.ndb", [candidate])
        // Lottery spam loses its first 500 lines and gains a copy of a winnow signature under a new name.
        let lott = try String(contentsOfFile: fixtures + "/thirdparty/sanesecurity/lott.ndb", encoding: .utf8)
        try lott.write(toFile: live + "/lott.ndb", atomically: true, encoding: .utf8)
        let winnow = try String(contentsOfFile: fixtures + "/thirdparty/sanesecurity/winnow_phish_complete.ndb", encoding: .utf8)
        let copied: String = winnow.split(separator: "\n").prefix(20).map { "Copied." + String($0) }.joined(separator: "\n")
        let kept: String = lott.split(separator: "\n", omittingEmptySubsequences: false).dropFirst(500).map(String.init).joined(separator: "\n")
        try (copied + "\n" + kept).write(toFile: candidate + "/lott.ndb", atomically: true, encoding: .utf8)

        // SecuriteInfo's marketing-spam file (the one that fires on this mail) loses some lines and gains others.
        let marketing = try String(contentsOfFile: fixtures + "/thirdparty/securiteinfo/spam_marketing.ndb", encoding: .utf8)
            .split(separator: "\n").map(String.init)
        func every(but drop: (Int) -> Bool) -> String { marketing.indices.filter { !drop($0) }.map { marketing[$0] + "\n" }.joined() }
        try every { $0 % 11 == 5 }.write(toFile: live + "/spam_marketing.ndb", atomically: true, encoding: .utf8)
        try every { $0 % 7 == 3 }.write(toFile: candidate + "/spam_marketing.ndb", atomically: true, encoding: .utf8)

        let corpora: [CorpusSpec] = [CorpusSpec(path: fixtures + "/mail/ham", kind: .ham),
                       CorpusSpec(path: fixtures + "/mail/phishing", kind: .ham),
                       CorpusSpec(path: fixtures + "/mail/phishing", kind: .detect),
                       CorpusSpec(path: fixtures + "/mail/clamav-testfiles", kind: .detect)]
        let report = try compareBothWays(live: live, candidate: candidate, corpora: corpora, scratch: dir.path + "/scratch")
        for comparison in report.corpora {
            #expect(comparison.mode == "delta", "\(comparison.path): \(comparison.reason ?? "")")
        }
        let phishing = try #require(report.corpora.first { $0.kind == .ham && $0.path.hasSuffix("phishing") })
        #expect(phishing.flagged > 0 && phishing.flagged < phishing.messages / 2, "\(phishing.flagged) of \(phishing.messages)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path + "/scratch/cache").count == 1, "the unchanged bytecode.cvd's files are cached")
    }
}
