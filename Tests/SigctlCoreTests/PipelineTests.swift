import Foundation
import Testing
@testable import SigctlCore

/// The pure stages of the update pipeline: no network, no clamd, no children.
@Suite struct PlannerTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func jobs(_ plan: UpdatePlan, _ feed: String) -> [FetchJob]? {
        guard case .fetch(let jobs, _)? = plan.feeds.first(where: { $0.feed.name == feed })?.decision else { return nil }
        return jobs
    }

    @Test func aFeedWithinItsIntervalIsNotDueUntilItsConfigurationChanges() {
        var feed = Feed.files("f", ["a.ndb"])
        var state = State.installed(["a.ndb": "f"])
        state.feeds["f"]?.configDigest = Planner.digest(feed)
        var facts = LiveFacts()
        facts.present = ["a.ndb"]
        let quiet = Planner.plan(config: .make(feeds: [feed]), state: state, facts: facts, options: UpdateOptions(), now: now)
        guard case .notDue? = quiet.feeds.first?.decision else { Issue.record("\(quiet.feeds)"); return }

        // So does a new permission (may_silence), as the refusal message asks for one.
        var permitted = feed
        permitted.maySilence = true
        #expect(Planner.digest(permitted) != Planner.digest(feed))

        // A newly enabled file (or mirror) makes the feed due at once.
        feed.files.append(FeedFile(name: "b.ndb"))
        let changed = Planner.plan(config: .make(feeds: [feed]), state: state, facts: facts, options: UpdateOptions(), now: now)
        #expect(jobs(changed, "f")?.map(\.file.name) == ["a.ndb", "b.ndb"])
    }

    @Test func aReEnabledFileIsDueAtOnceButARejectedOneWaitsForTheInterval() {
        let feed = Feed.files("f", ["a.ndb", "b.ndb"])
        var state = State.installed(["a.ndb": "f"])
        state.feeds["f"]?.configDigest = Planner.digest(feed)
        var facts = LiveFacts()
        facts.present = ["a.ndb"]
        let due = Planner.plan(config: .make(feeds: [feed]), state: state, facts: facts, options: UpdateOptions(), now: now)
        #expect(jobs(due, "f") != nil, "b.ndb was enabled again after it had been dropped")
        state.feeds["f"]?.files["b.ndb"] = FileState()
        state.feeds["f"]?.files["b.ndb"]?.lastError = "rejected: blank line"
        let waiting = Planner.plan(config: .make(feeds: [feed]), state: state, facts: facts, options: UpdateOptions(), now: now)
        guard case .notDue? = waiting.feeds.first?.decision else { Issue.record("a rejected file waits"); return }
    }

    @Test func validatorsAreSentOnlyForAFileThatIsThereAsInstalled() {
        let feed = Feed.files("f", ["a.ndb", "b.ndb"], interval: 0)
        let state = State.installed(["a.ndb": "f", "b.ndb": "f"])
        var facts = LiveFacts()
        facts.present = ["a.ndb"]
        facts.damaged = ["b.ndb": .missing]
        let plan = Planner.plan(config: .make(feeds: [feed]), state: state, facts: facts, options: UpdateOptions(), now: now)
        let byName = Dictionary(uniqueKeysWithValues: (jobs(plan, "f") ?? []).map { ($0.file.name, $0) })
        #expect(byName["a.ndb"]?.previous?.validators(for: "https://a.example/f/")?.etag == "\"e-a.ndb\"")
        #expect(byName["b.ndb"]?.previous?.validators(for: "https://a.example/f/") == nil)
        #expect(byName["b.ndb"]?.previous?.sha256 == nil, "so the same bytes count as a change that repairs it")
        #expect(plan.refetch["b.ndb"] == "f")
        #expect(plan.notes.contains { $0.contains("b.ndb was deleted") && $0.contains("fetching it again") })
    }

    @Test func aHandEditedFileWithAGoodKeptCopyIsRepairedFromIt() {
        let feed = Feed.files("f", ["a.ndb"])
        var state = State.installed(["a.ndb": "f"])
        state.feeds["f"]?.configDigest = Planner.digest(feed)
        var facts = LiveFacts()
        facts.present = ["a.ndb"]
        facts.damaged = ["a.ndb": .modified]
        facts.keptCopies = ["a.ndb": "/nonexistent/state/generations/4/a.ndb"]
        let plan = Planner.plan(config: .make(feeds: [feed]), state: state, facts: facts, options: UpdateOptions(), now: now)
        #expect(plan.repairs == ["a.ndb": "f"])
        #expect(plan.refetch.isEmpty)
        guard case .notDue? = plan.feeds.first?.decision else { Issue.record("a repair needs no download"); return }
        // When the feed is due anyway, the file being repaired is asked for as installed (validators sent).
        let due = Planner.plan(config: .make(feeds: [Feed.files("f", ["a.ndb"], interval: 0)]), state: state, facts: facts,
                               options: UpdateOptions(), now: now)
        #expect(jobs(due, "f")?.first?.previous?.validators(for: "https://a.example/f/") != nil)
    }

    @Test func disablingTheOfficialFeedHandsItsFilesBackInsteadOfDeletingThem() {
        let state = State.installed(["daily.cld": "clamav", "main.cvd": "clamav", "a.ndb": "f"])
        var facts = LiveFacts()
        facts.present = ["daily.cld", "main.cvd", "a.ndb"]
        let config = Configuration.make(feeds: [.official(enabled: false), Feed.files("f", ["a.ndb"], interval: 0)])
        let plan = Planner.plan(config: config, state: state, facts: facts, options: UpdateOptions(), now: now)
        #expect(plan.handbacks == ["daily.cld": "clamav", "main.cvd": "clamav"])
        #expect(plan.drops.isEmpty)

        // A third-party file that is no longer enabled is dropped.
        let other = Configuration.make(feeds: [.official(), Feed.files("f", [], interval: 0)])
        let second = Planner.plan(config: other, state: state, facts: facts, options: UpdateOptions(), now: now)
        #expect(second.drops == ["a.ndb": "f"])
        #expect(second.handbacks.isEmpty)
    }

    @Test func aFileSomeoneElseOwnsIsNotFetchedAndAFreshclamOnTheSameDirectoryBlocksTheOfficialFeed() {
        var facts = LiveFacts()
        facts.present = ["a.ndb"]
        facts.freshclamConflict = "a freshclam daemon (pid 7) is running and updates /var/lib/clamav"
        let config = Configuration.make(feeds: [.official(), Feed.files("f", ["a.ndb", "b.ndb"], interval: 0)])
        let plan = Planner.plan(config: config, state: State(), facts: facts, options: UpdateOptions(), now: now)
        guard case .fetch(let jobs, let conflicts)? = plan.feeds.first(where: { $0.feed.name == "f" })?.decision else {
            Issue.record("f is due"); return
        }
        #expect(jobs.map(\.file.name) == ["b.ndb"])
        #expect(conflicts == ["a.ndb"])
        guard case .blocked(let why)? = plan.feeds.first(where: { $0.feed.name == "clamav" })?.decision else {
            Issue.record("the official feed is blocked"); return
        }
        #expect(why.contains("systemctl disable --now clamav-freshclam"))
    }
}

@Suite struct OutcomeAndRecordTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func staged(_ name: String, feed: String = "f") -> StagedFile {
        var file = StagedFile(feed: feed, name: name, path: "/nonexistent/staging/\(name)", sha256: String(repeating: "b", count: 64),
                              size: 20, signatures: 3)
        file.mirror = "https://a.example/f/"
        file.validators = Validators(etag: "\"new\"", lastModified: nil)
        return file
    }

    func facts(state: State, feeds: [Feed], acquired: [String: [FileResult]], activation: Activation,
               candidateFiles: [StagedFile]) -> RunFacts {
        var plan = UpdatePlan()
        plan.feeds = feeds.map { FeedPlan(feed: $0, decision: .fetch([], conflicts: []), digest: Planner.digest($0)) }
        var acquisition = Acquisition()
        for (feed, files) in acquired {
            var entry = FeedAcquisition(feed: feed)
            entry.files = files
            acquisition.feeds[feed] = entry
        }
        let canary = Canary(name: "Sigctl.Canary.G5.x", payload: Data("p".utf8))
        var gates = GateResult(candidate: Candidate(generation: 5, canary: canary, files: candidateFiles, drops: [:], replaced: [:]))
        gates.verification = VerifyReport(ok: true, stage: .canary, signatures: 23, error: nil, messages: [],
                                          loadSeconds: 0, compileSeconds: 0, peakRSSKiB: 0, canaryVerdict: canary.name)
        return RunFacts(config: .make(feeds: feeds), state: state, plan: plan, acquisition: acquisition, gates: gates,
                        activation: activation, now: now)
    }

    var refusedSet: LiveSet {
        LiveSet(generation: 5, canaryName: "Sigctl.Canary.G5.x", installedAt: now, confirmed: false, confirmedAt: nil,
                signatures: 23, owned: ["a.ndb", canaryFileName])
    }

    @Test func aSetClamdRefusedIsNeitherReportedInstalledNorKeptNorRecorded() {
        let state = State.installed(["a.ndb": "f"])
        let run = facts(state: state, feeds: [Feed.files("f", ["a.ndb"])],
                        acquired: ["f": [FileResult(name: "a.ndb", outcome: .staged(staged("a.ndb")))]],
                        activation: .refused(refusedSet, lastVerdict: "clamd reported the canary clean",
                                             restoration: .restored(state.live!, proof: .confirmed(seconds: 0.2), files: [:]), stamps: [:]),
                        candidateFiles: [staged("a.ndb")])
        let report = Outcome.report(run)
        #expect(!report.installed)
        #expect(report.generation == nil)
        #expect(report.reload.result == .rolled_back)
        #expect(report.exitCode == 3)
        #expect(report.file("f", "a.ndb")?.status == .rejected)
        #expect(report.file("f", "a.ndb")?.message?.contains("clamd did not load set 5") == true)
        let (next, history) = Recorder.record(run, report: report)
        #expect(next.live?.generation == 4, "the previous set is live again")
        #expect(next.feeds["f"]?.files["a.ndb"]?.sha256 == String(repeating: "a", count: 64), "the refused file is not recorded")
        #expect(history.statuses[5] == nil, "the refused set never becomes a kept set")
        #expect(history.statuses[4] == .confirmed)
        #expect(next.nextGeneration == 6)
    }

    @Test func whenThePreviousSetCannotBeRestoredTheRefusedSetIsRecordedAsLiveAndUnconfirmed() {
        let state = State.installed(["a.ndb": "f"])
        let run = facts(state: state, feeds: [Feed.files("f", ["a.ndb"])],
                        acquired: ["f": [FileResult(name: "a.ndb", outcome: .staged(staged("a.ndb")))]],
                        activation: .refused(refusedSet, lastVerdict: "clamd reported the canary clean",
                                             restoration: .failed("set 4 is no longer kept"), stamps: [:]),
                        candidateFiles: [staged("a.ndb")])
        let report = Outcome.report(run)
        #expect(report.installed)
        #expect(report.generation == 5)
        #expect(report.reload.result == .not_confirmed)
        #expect(report.exitCode == 3)
        #expect(report.reload.message?.contains("set 4 is no longer kept") == true)
        let (next, history) = Recorder.record(run, report: report)
        #expect(next.live?.generation == 5, "what is on disk is what state says is live")
        #expect(next.live?.confirmed == false)
        #expect(next.feeds["f"]?.files["a.ndb"]?.sha256 == String(repeating: "b", count: 64), "so the next run does not take it for a hand edit")
        #expect(history.statuses.isEmpty)
    }

    @Test func aSetInstalledAndConfirmedWhileAnotherFeedFailedExitsOne() {
        let state = State.installed(["a.ndb": "f"])
        let live = LiveSet(generation: 5, canaryName: "Sigctl.Canary.G5.x", installedAt: now, confirmed: false, confirmedAt: nil,
                           signatures: 23, owned: ["a.ndb", canaryFileName])
        let run = facts(state: state, feeds: [Feed.files("f", ["a.ndb", "b.ndb"]), Feed.files("g", ["c.ndb"])],
                        acquired: ["f": [FileResult(name: "a.ndb", outcome: .staged(staged("a.ndb"))),
                                         FileResult(name: "b.ndb", outcome: .failed("https://a.example:443: HTTP 503"))],
                                   "g": [FileResult(name: "c.ndb", outcome: .failed("https://c.example:443: HTTP 503"))]],
                        activation: .installed(live, .confirmed(seconds: 0.3), stamps: [:]),
                        candidateFiles: [staged("a.ndb")])
        let report = Outcome.report(run)
        #expect(report.installed)
        #expect(report.exitCode == 1)
        let (next, history) = Recorder.record(run, report: report)
        #expect(next.live?.confirmed == true)
        #expect(history.statuses[5] == .confirmed)
        let record = next.feeds["f"]?.files["a.ndb"]
        #expect(record?.validators(for: "https://a.example/f/")?.etag == "\"new\"")
        #expect(record?.sha256 == String(repeating: "b", count: 64))
        #expect(next.feeds["f"]?.lastCheck == state.feeds["f"]?.lastCheck, "a feed with a failed file is retried next run")
        #expect(next.feeds["g"]?.lastCheck == nil)
    }

    @Test func oneCauseForElevenFilesIsOneProblem() {
        let names = (1...11).map { "file\($0).ndb" }
        let results = names.map {
            FileResult(name: $0, outcome: .failed("https://mirror.example/sanesecurity/\($0): Could not resolve host: mirror.example"))
        }
        let run = facts(state: State(), feeds: [Feed.files("sanesecurity", names)], acquired: ["sanesecurity": results],
                        activation: .nothing, candidateFiles: [])
        let report = Outcome.report(run)
        let problems = report.feeds.first { $0.name == "sanesecurity" }?.problems ?? []
        #expect(problems.count == 1)
        #expect(problems.first?.files.count == 11)
        #expect(problems.first?.message == "https://mirror.example: Could not resolve host: mirror.example")
        #expect(report.exitCode == 2)
        let (next, _) = Recorder.record(run, report: report)
        #expect((next.feeds["sanesecurity"]?.lastError?.count ?? 0) < 200, "\(next.feeds["sanesecurity"]?.lastError ?? "")")
    }

    @Test func anUnreachableClamdKeepsTheSetPendingAndUnconfirmed() {
        let live = LiveSet(generation: 5, canaryName: "Sigctl.Canary.G5.x", installedAt: now, confirmed: false, confirmedAt: nil,
                           signatures: 23, owned: ["a.ndb", canaryFileName])
        let run = facts(state: State(), feeds: [Feed.files("f", ["a.ndb"])],
                        acquired: ["f": [FileResult(name: "a.ndb", outcome: .staged(staged("a.ndb")))]],
                        activation: .installed(live, .unreachable("cannot connect to clamd"), stamps: [:]),
                        candidateFiles: [staged("a.ndb")])
        let report = Outcome.report(run)
        #expect(report.installed)
        #expect(report.reload.result == .unreachable)
        #expect(report.exitCode == 3)
        let (next, history) = Recorder.record(run, report: report)
        #expect(next.live?.generation == 5)
        #expect(next.live?.confirmed == false)
        #expect(history.statuses[5] == nil, "it stays pending until clamd shows its canary")
    }

    /// curl's timings differ from one file to the next of one failure; they are not the cause.
    @Test func oneFailureWithDifferentTimingsIsOneProblem() {
        func failed(_ name: String, _ detail: String) -> FileReport {
            FileReport(name: name, status: .failed, message: "http://127.0.0.1:1/down/\(name): \(detail)")
        }
        let files = [failed("f1.ndb", "Failed to connect to 127.0.0.1 port 1 after 4 ms: Couldn't connect to server"),
                     failed("f2.ndb", "Failed to connect to 127.0.0.1 port 1 after 0 ms: Couldn't connect to server"),
                     failed("f3.ndb", "Operation timed out after 30001 milliseconds with 0 out of 0 bytes received"),
                     failed("f4.ndb", "Operation timed out after 30002 milliseconds with 12 out of 0 bytes received")]
        let problems = Outcome.group(files, feed: "down", state: State(), now: now)
        #expect(problems.map(\.files) == [["f1.ndb", "f2.ndb"], ["f3.ndb", "f4.ndb"]])
        let refused = FileReport(name: "f5.ndb", status: .failed, message: "http://127.0.0.1:1/down/f5.ndb: HTTP 404")
        #expect(Outcome.group(files + [refused], feed: "down", state: State(), now: now).count == 3, "another cause stays apart")
    }
}

@Suite struct SilencingPolicyTests {
    @Test func anIgnoreListMayNameOnlyTheFeedsOwnSignatures() throws {
        let dir = TempDir()
        let own = dir.write("ss/jurlbl.ndb", "Sanesecurity.Jurlbl.1:0:*:41424344\nSanesecurity.Jurlbl.2:0:*:45464748\n")
        let other = dir.write("uh/urlhaus.ndb", "Urlhaus.Url.1:4:*:41414141\n")
        var feed = Feed.files("ss", ["sigwhitelist.ign2", "jurlbl.ndb"])
        let config = Configuration.make(feeds: [feed])
        func check(_ entries: String) -> String? {
            let path = dir.write("ss/sigwhitelist.ign2", entries)
            let file = StagedFile(feed: "ss", name: "sigwhitelist.ign2", path: path, sha256: "x", size: 1, signatures: 1)
            return SilencingPolicy.check([file], config: config, ownFiles: ["ss": [own]], others: ["urlhaus": [other]])["sigwhitelist.ign2"]
        }
        #expect(check("Sanesecurity.Jurlbl.2\n") == nil, "its own signature")
        #expect(check("Sanesecurity.Withdrawn.77\n") == nil, "a withdrawn name under its own prefix")
        let official = try #require(check("Sanesecurity.Jurlbl.1\nWin.Trojan.Agent-1\n"))
        #expect(official.contains("Win.Trojan.Agent-1 (a ClamAV name)"))
        #expect(official.contains("may_silence = true in /etc/sigctl/feeds.d/ss.toml"))
        #expect(try #require(check("Urlhaus.Url.1\n")).contains("Urlhaus.Url.1 (defined by urlhaus urlhaus.ndb)"))
        // A decoy: the feed defines a signature under a ClamAV name, then ignores that name everywhere.
        let decoy = dir.write("ss/decoy.ndb", "Win.Trojan.Agent-1:0:*:41424344\n")
        let path = dir.write("ss/sigwhitelist.ign2", "Win.Trojan.Agent-1\n")
        let file = StagedFile(feed: "ss", name: "sigwhitelist.ign2", path: path, sha256: "x", size: 1, signatures: 1)
        let decoyed = SilencingPolicy.check([file], config: config, ownFiles: ["ss": [own, decoy]], others: [:])
        #expect(decoyed["sigwhitelist.ign2"]?.contains("Win.Trojan.Agent-1 (a ClamAV name)") == true)
        feed.maySilence = true
        let allowed = SilencingPolicy.check([StagedFile(feed: "ss", name: "sigwhitelist.ign2", path: dir.path + "/ss/sigwhitelist.ign2",
                                                        sha256: "x", size: 1, signatures: 1)],
                                            config: .make(feeds: [feed]), ownFiles: [:], others: ["urlhaus": [other]])
        #expect(allowed.isEmpty)
    }

    @Test func configurationAndAllowListsNeedThePermission() {
        let dir = TempDir()
        var feed = Feed.files("f", ["x.ftm", "y.cfg", "z.fp", "w.wdb", "ok.ndb"])
        func files() -> [StagedFile] {
            ["x.ftm", "y.cfg", "z.fp", "w.wdb", "ok.ndb"].map {
                StagedFile(feed: "f", name: $0, path: dir.write($0, "x\n"), sha256: "x", size: 2, signatures: 1)
            }
        }
        let refused = SilencingPolicy.check(files(), config: .make(feeds: [feed]), ownFiles: [:], others: [:])
        #expect(Set(refused.keys) == ["x.ftm", "y.cfg", "z.fp", "w.wdb"])
        #expect(refused["x.ftm"]?.contains("file-type detection") == true)
        #expect(refused["y.cfg"]?.contains("may_configure = true") == true)
        feed.mayConfigure = true
        feed.maySilence = true
        #expect(SilencingPolicy.check(files(), config: .make(feeds: [feed]), ownFiles: [:], others: [:]).isEmpty)
    }
}

extension UpdateReport {
    func file(_ feed: String, _ name: String) -> FileReport? {
        feeds.first { $0.name == feed }?.files.first { $0.name == name }
    }
}
