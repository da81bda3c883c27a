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
        let live = try installer.install(files: ["new.ndb": new], previouslyOwned: ["old.ndb"], generation: 2,
                                         canaryName: "C", signatures: 3)
        #expect(dir.read("db/new.ndb") == "new\n")
        #expect(dir.read("db/old.ndb") == nil, "a file the new set drops is removed")
        #expect(dir.read("db/local.ndb") == "admin's own\n")
        #expect(live.owned == ["new.ndb"])
        #expect(!Files.exists(dir.path + "/db/.sigctl-install"))
        #expect(!Files.exists(dir.path + "/state/install-journal.json"))
    }

    @Test func neverOverwritesAFileItDoesNotOwn() throws {
        let dir = TempDir()
        try Files.makeDirectory(dir.path + "/state")
        dir.write("db/main.cvd", "freshclam's\n")
        let src = dir.write("src/main.cvd", "ours\n")
        let installer = Installer(databaseDir: dir.path + "/db", stateDir: dir.path + "/state")
        #expect(throws: CommandError.self) {
            try installer.install(files: ["main.cvd": src], previouslyOwned: [], generation: 1, canaryName: "C", signatures: 1)
        }
        #expect(dir.read("db/main.cvd") == "freshclam's\n")
    }

    @Test func aJournalLeftByAKilledRunIsFinished() throws {
        let dir = TempDir()
        try Files.makeDirectory(dir.path + "/state")
        dir.write("db/a.ndb", "old a\n")
        dir.write("db/gone.ndb", "dropped\n")
        // The killed run had staged a and b, renamed a, and died before b.
        dir.write("db/.sigctl-install/b.ndb", "new b\n")
        dir.write("db/a.ndb", "new a\n")
        let journal = Installer.Journal(generation: 5, canaryName: "C5", files: ["a.ndb", "b.ndb"], remove: ["gone.ndb"], signatures: 9)
        try Files.writeAtomically(try JSONEncoder.sigctl.encode(journal), to: dir.path + "/state/install-journal.json")
        let installer = Installer(databaseDir: dir.path + "/db", stateDir: dir.path + "/state")
        let live = try #require(try installer.recover())
        #expect(live.generation == 5)
        #expect(!live.confirmed)
        #expect(dir.read("db/a.ndb") == "new a\n")
        #expect(dir.read("db/b.ndb") == "new b\n")
        #expect(dir.read("db/gone.ndb") == nil)
        #expect(try installer.recover() == nil, "nothing left to recover")
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

    @Test func generationsArePrunedButTheLiveOneIsKept() throws {
        let dir = TempDir()
        let generations = Generations(stateDir: dir.path)
        let src = dir.write("src/a.ndb", "a\n")
        for id in 1...6 {
            let manifest = GenerationManifest(id: id, created: Date(), reason: "update",
                                              files: ["a.ndb": GenerationFile(feed: "f", sha256: "x", size: 2, signatures: 1)],
                                              loadedSignatures: 1)
            try generations.create(manifest, sources: ["a.ndb": src])
        }
        try Files.makeDirectory(generations.directory(7)) // unfinished: no manifest
        generations.prune(keep: 3, protected: [1])
        #expect(generations.all().map(\.id) == [6, 5, 4, 1])
        #expect(!Files.exists(generations.directory(7)))
    }

    @Test func stateRoundTripsAndSurvivesAMissingFile() throws {
        let dir = TempDir()
        let store = StateStore(directory: dir.path)
        #expect(try store.load().live == nil)
        var state = State()
        state.hosts["a:443"] = HostBackoff(until: Date(timeIntervalSince1970: 2_000_000_000), status: 429, since: Date(), url: "https://a/x")
        state.feeds["f", default: FeedState()].files["a.ndb"] = FileState(etag: "\"e\"", signatures: 4)
        try store.save(state)
        let loaded = try store.load()
        #expect(loaded.hosts["a:443"]?.status == 429)
        #expect(loaded.feeds["f"]?.files["a.ndb"]?.etag == "\"e\"")
        dir.write("state.json", "{ broken")
        #expect(throws: CommandError.self) { try store.load() }
    }

    @Test func theLockIsExclusive() throws {
        let dir = TempDir()
        let first = try RunLock(stateDir: dir.path)
        #expect(throws: LockHeldError.self) { try RunLock(stateDir: dir.path) }
        withExtendedLifetime(first) {}
    }
}
