import Foundation

/// The steps every command that changes the live set shares: build a candidate,
/// verify it as clamd would, install it with a new canary, reload clamd and prove it.
public struct SetManager: Sendable {
    public let config: Configuration
    public let log: Log
    public let verifier: SetVerifier
    public var settings: Settings { config.settings }
    public var generations: Generations { Generations(stateDir: settings.stateDir) }
    public var installer: Installer { Installer(databaseDir: settings.databaseDir, stateDir: settings.stateDir) }
    public var staging: String { settings.stateDir + "/staging" }

    public init(config: Configuration, log: Log, executable: String = SetVerifier.currentExecutable) {
        self.config = config
        self.log = log
        self.verifier = SetVerifier(executable: executable, memoryLimit: config.settings.verifyMemoryLimit,
                                    timeout: config.settings.verifyTimeout, options: config.clamd.loadOptions)
    }

    public func canaryBlobPath(_ generation: Int) -> String { settings.stateDir + "/canary/\(generation).bin" }

    /// Creates the state directory layout and clears staging left by an earlier run.
    public func prepare() throws {
        try Files.makeDirectory(settings.stateDir)
        try Files.makeDirectory(settings.stateDir + "/canary")
        try Files.makeDirectory(generations.root)
        Files.remove(staging)
        try Files.makeDirectory(staging)
        guard Files.isDirectory(settings.databaseDir) else {
            throw CommandError("the database directory \(settings.databaseDir) does not exist",
                               hint: "install clamav-daemon or set database_dir in sigctl.toml", exit: .config)
        }
    }

    /// Finishes an install that a killed run left half-done (every command that changes the set calls this first).
    public func recoverInterruptedInstall(_ state: inout State, store: StateStore) throws {
        guard let recovered = try installer.recover() else { return }
        log.warning("finished installing set \(recovered.generation), which an interrupted run had left half-done")
        state.live = recovered
        try store.save(state)
    }

    /// Database files clamd loads from the database directory now.
    public func liveDatabaseFiles() -> [String] {
        Files.list(settings.databaseDir).filter(isDatabaseFile)
    }

    /// A directory holding what the database directory would hold after the change:
    /// the live files (hard links, or symlinks across file systems), minus `dropping`,
    /// with `replacing` (name → new file) and the new canary.
    /// `complete` includes the live files even with verify_scope = "changed".
    public func buildCandidate(label: String, replacing: [String: String], dropping: Set<String>, canary: Canary,
                               complete: Bool = false) throws -> String {
        let dir = staging + "/candidate-\(label)"
        Files.remove(dir)
        try Files.makeDirectory(dir)
        // With verify_scope = "changed" the live files are left out: less memory, but a
        // clash between a new file and an unchanged one shows only in clamd's reload.
        let live = complete || settings.verifyScope == .set ? liveDatabaseFiles() : []
        for name in live where name != canaryFileName && replacing[name] == nil && !dropping.contains(name) {
            let source = settings.databaseDir + "/" + name
            if link(source, dir + "/" + name) != 0 {
                guard symlink(source, dir + "/" + name) == 0 else { throw SystemError.errno("symlink", path: dir + "/" + name) }
            }
        }
        for (name, source) in replacing {
            try Files.linkOrCopy(source, to: dir + "/" + name)
        }
        try Files.writeAtomically(Data(try canary.databaseLine().utf8), to: dir + "/" + canaryFileName)
        return dir
    }

    /// Verifies a candidate directory in the child process.
    public func verify(_ candidate: String, canary: Canary, countFiles: [String] = []) -> VerifyReport {
        let scratch = candidate + ".scratch"
        try? Files.makeDirectory(scratch)
        defer { Files.remove(scratch) }
        let report = verifier.verify(directory: candidate, canary: canary, countFiles: countFiles, scratch: scratch)
        log.debug("verified \(candidate): ok=\(report.ok) signatures=\(report.signatures) load=\(report.loadSeconds)s compile=\(report.compileSeconds)s rss=\(report.peakRSSKiB)KiB")
        return report
    }

    /// Installs a generation's files plus its canary; records the live set in `state` and saves it.
    /// `adopting` names files sigctl takes over from another updater in this change
    /// (the official databases when the admin moved them from freshclam to sigctl).
    public func activate(generation: Int, files: [String: String], canary: Canary, signatures: Int,
                         state: inout State, store: StateStore, adopting: Set<String> = []) throws -> LiveSet {
        let canaryPath = staging + "/" + canaryFileName + ".\(generation)"
        try canary.write(databaseTo: canaryPath, blobTo: canaryBlobPath(generation))
        var all = files
        all[canaryFileName] = canaryPath
        let owned = Set(state.live?.owned ?? []).union(adoptableCanary()).union(adopting)
        let live = try installer.install(files: all, previouslyOwned: owned, generation: generation,
                                         canaryName: canary.name, signatures: signatures)
        state.live = live
        try store.save(state)
        return live
    }

    /// The canary file is sigctl's by name, even if state was lost.
    private func adoptableCanary() -> Set<String> {
        Files.exists(settings.databaseDir + "/" + canaryFileName) ? [canaryFileName] : []
    }

    /// The live set's canary, from its name in state and its saved blob.
    public func liveCanary(_ live: LiveSet) -> Canary? {
        Canary.read(name: live.canaryName, blobPath: canaryBlobPath(live.generation))
    }

    public var prover: ReloadProver? {
        guard let address = config.clamdAddress else { return nil }
        return ReloadProver(client: ClamdClient(address: address, timeout: 30), timeout: Double(settings.reloadTimeout))
    }

    /// Sends RELOAD and waits for `canary`; marks the live set confirmed when it shows.
    public func reload(_ canary: Canary, state: inout State, store: StateStore) -> ReloadOutcome {
        guard let prover else { return .skipped }
        let outcome = prover.reloadAndProve(canary, log: log)
        if case .confirmed = outcome {
            markConfirmed(canary, state: &state)
            try? store.save(state)
        }
        return outcome
    }

    /// Records that clamd serves the live set whose canary is `canary`.
    public func markConfirmed(_ canary: Canary, state: inout State) {
        guard var live = state.live, live.canaryName == canary.name else { return }
        live.confirmed = true
        live.confirmedAt = Date()
        state.live = live
    }

    /// Warnings about clamd.conf settings that matter when a set changes.
    public func clamdWarnings() -> [String] {
        var warnings: [String] = []
        if !config.clamd.concurrentDatabaseReload {
            warnings.append("\(config.clamd.path) has ConcurrentDatabaseReload no: clamd stops scanning while it reloads, and a reload that fails leaves it with no engine; set it to yes")
        }
        return warnings
    }

    /// Keeps the newest `keep_generations` sets (and the live one); drops older ones and their canaries.
    public func prune(state: State) {
        var protected: Set<Int> = []
        if let live = state.live { protected.insert(live.generation) }
        generations.prune(keep: settings.keepGenerations, protected: protected)
        let kept = Set(Files.list(generations.root).compactMap(Int.init)).union(protected)
        for entry in Files.list(settings.stateDir + "/canary") {
            guard let id = Int(entry.replacingOccurrences(of: ".bin", with: "")), !kept.contains(id) else { continue }
            unlink(settings.stateDir + "/canary/" + entry)
        }
    }
}
