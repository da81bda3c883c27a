import Foundation
import Testing
@testable import SigctlCore

@Suite struct InstallTests {
    @Test func installSwapsOwnedFilesAndLeavesOthersAlone() throws {
        let dir = TempDir()
        try Files.makeDirectory(dir.path + "/db")
        try Files.makeDirectory(dir.path + "/state")
        dir.write("db/local.ndb", "admin's own\n")
        dir.write("db/old.ndb", "old owned\n")
        let new = dir.write("src/new.ndb", "new\n")
        let installer = Installer(databaseDir: dir.path + "/db", stateDir: dir.path + "/state")
        let journal = try installer.install(generation: 2, files: ["new.ndb": new], remove: ["old.ndb"], owned: ["old.ndb"])
        #expect(dir.read("db/new.ndb") == "new\n")
        #expect(dir.read("db/old.ndb") == nil, "a file the new set drops is removed")
        #expect(dir.read("db/local.ndb") == "admin's own\n")
        #expect(journal.install == ["new.ndb"])
        #expect(!Files.exists(dir.path + "/db/.sigctl-install"))
        #expect(Files.exists(dir.path + "/state/install-journal.json"), "the journal stays until the new set is recorded")
        installer.commit()
        #expect(!Files.exists(dir.path + "/state/install-journal.json"))
        var st = stat(), source = stat()
        stat(dir.path + "/db/new.ndb", &st)
        stat(new, &source)
        #expect(st.st_ino != source.st_ino, "the live file is a copy, never a link to the kept one")
        #expect(st.st_mode & 0o777 == 0o644)
    }

    @Test func neverOverwritesAFileItDoesNotOwnNorFollowsAPlantedSymlink() throws {
        let dir = TempDir()
        try Files.makeDirectory(dir.path + "/state")
        dir.write("db/main.cvd", "freshclam's\n")
        let src = dir.write("src/main.cvd", "ours\n")
        let installer = Installer(databaseDir: dir.path + "/db", stateDir: dir.path + "/state")
        #expect(throws: CommandError.self) {
            try installer.install(generation: 1, files: ["main.cvd": src], remove: [], owned: [])
        }
        #expect(dir.read("db/main.cvd") == "freshclam's\n")
        // clamav owns the database directory: a staging directory swapped for a symlink is never followed.
        let target = dir.path + "/elsewhere"
        try Files.makeDirectory(target)
        symlink(target, dir.path + "/db/.sigctl-install")
        let a = dir.write("src/a.ndb", "a\n")
        _ = try installer.install(generation: 2, files: ["a.ndb": a], remove: [], owned: [])
        #expect(dir.read("db/a.ndb") == "a\n")
        #expect(Files.list(target).isEmpty, "nothing was written through the symlink")
    }

    @Test func aFailureBeforeTheSwitchLeavesNoStagingBehind() throws {
        let dir = TempDir()
        try Files.makeDirectory(dir.path + "/state")
        dir.write("db/local.ndb", "x\n")
        let installer = Installer(databaseDir: dir.path + "/db", stateDir: dir.path + "/state",
                                  failpoints: Failpoints(environment: ["SIGCTL_FAILPOINTS": "install.staged=enospc"]))
        let a = dir.write("src/a.ndb", "a\n")
        #expect(throws: SystemError.self) { try installer.install(generation: 1, files: ["a.ndb": a], remove: [], owned: []) }
        #expect(Files.list(dir.path + "/db") == ["local.ndb"])
        #expect(!Files.exists(dir.path + "/state/install-journal.json"))
    }

    @Test func aJournalLeftByAKilledRunIsFinished() throws {
        let dir = TempDir()
        try Files.makeDirectory(dir.path + "/state")
        dir.write("db/a.ndb", "old a\n")
        dir.write("db/gone.ndb", "dropped\n")
        // The killed run had staged a and b, renamed a, and died before b.
        dir.write("db/.sigctl-install/b.ndb", "new b\n")
        dir.write("db/a.ndb", "new a\n")
        let journal = Installer.Journal(generation: 5, canaryName: "C5", staging: ".sigctl-install", install: ["a.ndb", "b.ndb"], remove: ["gone.ndb"])
        try Files.writeAtomically(try JSONEncoder.sigctl.encode(journal), to: dir.path + "/state/install-journal.json")
        let installer = Installer(databaseDir: dir.path + "/db", stateDir: dir.path + "/state")
        let recovered = try #require(try installer.recover())
        #expect(recovered.generation == 5)
        #expect(dir.read("db/a.ndb") == "new a\n")
        #expect(dir.read("db/b.ndb") == "new b\n")
        #expect(dir.read("db/gone.ndb") == nil)
        installer.commit()
        #expect(try installer.recover() == nil, "nothing left to recover")
    }

    @Test func anOlderJournalNeverReplaysTheStagingOfALaterSwitch() throws {
        let dir = TempDir()
        try Files.makeDirectory(dir.path + "/state")
        dir.write("db/a.ndb", "set 6 a\n")
        // Set 6's switch finished (its staging is gone, its journal not yet committed); then a
        // restore of set 5 began staging and was killed before writing its own journal.
        let journal = Installer.Journal(generation: 6, canaryName: "C6", staging: ".sigctl-install-aaaaaa", install: ["a.ndb"], remove: [])
        try Files.writeAtomically(try JSONEncoder.sigctl.encode(journal), to: dir.path + "/state/install-journal.json")
        dir.write("db/.sigctl-install-bbbbbb/a.ndb", "set 5 a, half writ")
        let installer = Installer(databaseDir: dir.path + "/db", stateDir: dir.path + "/state")
        #expect(try installer.recover()?.generation == 6)
        #expect(dir.read("db/a.ndb") == "set 6 a\n", "the later staging is never moved in under the older journal")
        #expect(Files.list(dir.path + "/db") == ["a.ndb"])
    }

    @Test func stagingWithoutAJournalNeverReachedClamdAndIsDropped() throws {
        let dir = TempDir()
        try Files.makeDirectory(dir.path + "/state")
        dir.write("db/.sigctl-install/half.ndb", "half")
        let installer = Installer(databaseDir: dir.path + "/db", stateDir: dir.path + "/state")
        #expect(try installer.recover() == nil)
        #expect(!Files.exists(dir.path + "/db/half.ndb"))
        #expect(!Files.exists(dir.path + "/db/.sigctl-install"))
    }

    @Test func onlySetsClamdConfirmedCountAsKeptGenerations() throws {
        let dir = TempDir()
        let generations = Generations(stateDir: dir.path)
        let src = dir.write("src/a.ndb", "a\n")
        let statuses: [GenerationStatus] = [.confirmed, .confirmed, .pending, .confirmed, .pending, .pending]
        for (index, status) in statuses.enumerated() {
            let manifest = GenerationManifest(id: index + 1, created: Date(), reason: "update",
                                              files: ["a.ndb": GenerationFile(feed: "f", sha256: "x", size: 2, signatures: 1)],
                                              loadedSignatures: 1, status: status, canaryName: "C\(index + 1)")
            try generations.create(manifest, sources: ["a.ndb": .link(src)])
        }
        try Files.makeDirectory(generations.directory(7)) // unfinished: no manifest
        // Set 6 is live but pending (clamd unreachable); 3 and 5 never went live.
        generations.prune(keep: 2, live: 6)
        #expect(generations.all().map(\.id) == [6, 4, 2])
        #expect(!Files.exists(generations.directory(7)))
        try generations.setStatus(6, .confirmed)
        #expect(generations.manifest(6)?.status == .confirmed)
    }

    @Test func aKeptSetRebuiltInPlaceSurvivesAKillBetweenItsTwoRenames() throws {
        let dir = TempDir()
        let generations = Generations(stateDir: dir.path)
        let src = dir.write("src/a.ndb", "a\n")
        let manifest = GenerationManifest(id: 3, created: Date(), reason: "update",
                                          files: ["a.ndb": GenerationFile(feed: "f", sha256: "x", size: 2, signatures: 1)],
                                          loadedSignatures: 1, status: .confirmed, canaryName: "C3")
        try generations.create(manifest, sources: ["a.ndb": .link(src)])
        // Killed after "3" became ".old-3" and before ".new-3" became "3".
        rename(generations.directory(3), generations.root + "/.old-3")
        try Files.makeDirectory(generations.root + "/.new-3")
        dir.write("generations/.new-3/a.ndb", "half")
        generations.recoverInterrupted()
        #expect(generations.manifest(3)?.canaryName == "C3")
        #expect(Files.list(generations.root) == ["3"])
    }

    @Test func manifestsWrittenBeforeStatusesReadAsConfirmed() throws {
        let json = #"{"id": 3, "created": "2026-01-01T00:00:00Z", "reason": "update", "files": {}, "loadedSignatures": 5}"#
        let manifest = try JSONDecoder.sigctl.decode(GenerationManifest.self, from: Data(json.utf8))
        #expect(manifest.status == .confirmed)
        #expect(manifest.canaryName == nil)
    }

    @Test func stateRoundTripsAndSurvivesAMissingFile() throws {
        let dir = TempDir()
        let store = StateStore(directory: dir.path)
        #expect(try store.load().live == nil)
        var state = State()
        state.hosts["a:443"] = HostBackoff(until: Date(timeIntervalSince1970: 2_000_000_000), status: 429, since: Date(), url: "https://a/x")
        var file = FileState()
        file.setValidators(Validators(etag: "\"e\"", lastModified: nil), for: "https://a/")
        file.signatures = 4
        state.feeds["f", default: FeedState()].files["a.ndb"] = file
        try store.save(state)
        let loaded = try store.load()
        #expect(loaded.hosts["a:443"]?.status == 429)
        #expect(loaded.feeds["f"]?.files["a.ndb"]?.validators(for: "https://a/")?.etag == "\"e\"")
        #expect(loaded.feeds["f"]?.files["a.ndb"]?.validators(for: "https://b/") == nil, "validators belong to one mirror")
        var st = stat()
        stat(store.path, &st)
        #expect(st.st_mode & 0o777 == 0o600, "state.json may hold secrets: only its owner reads it")
        dir.write("state.json", "{ broken")
        #expect(throws: CommandError.self) { try store.load() }
        dir.write("state.json", "")
        #expect(throws: StateStore.LoadError.self) { try store.read() }
    }

    @Test func theLockIsExclusive() throws {
        let dir = TempDir()
        let first = try RunLock(stateDir: dir.path)
        #expect(throws: LockHeldError.self) { try RunLock(stateDir: dir.path) }
        withExtendedLifetime(first) {}
    }
}
