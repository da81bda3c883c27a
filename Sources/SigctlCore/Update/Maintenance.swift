import Foundation

/// The result of `sigctl reload` or `sigctl rollback`.
public struct MaintenanceReport: Codable, Sendable {
    public var action: String
    public var generation: Int
    public var signatures: Int
    public var reload: ReloadReport
    public var exitCode: Int32
}

/// `sigctl reload` and `sigctl rollback`: change what clamd runs without fetching anything.
public struct Maintenance {
    let config: Configuration
    let log: Log
    let manager: SetManager
    let store: StateStore

    public init(config: Configuration, log: Log, executable: String = SetVerifier.currentExecutable) {
        self.config = config
        self.log = log
        self.manager = SetManager(config: config, log: log, executable: executable)
        self.store = StateStore(directory: config.settings.stateDir)
    }

    /// Verifies the live directory with a new canary, puts that canary in place,
    /// then reloads clamd and waits until it reports the canary.
    public func reload() throws -> MaintenanceReport {
        let lock = try RunLock(stateDir: config.settings.stateDir)
        defer { withExtendedLifetime(lock) {} }
        try manager.prepare()
        var state = try store.load()
        try manager.recoverInterruptedInstall(&state, store: store)
        guard let live = state.live, let manifest = manager.generations.manifest(live.generation) else {
            throw CommandError("sigctl has not installed a set yet", hint: "run `sigctl update` first")
        }
        guard manager.prover != nil else {
            throw CommandError("clamd = \"none\" in sigctl.toml, so there is no clamd to reload", exit: .config)
        }
        let canary = try Canary.make(generation: live.generation)
        let candidate = try manager.buildCandidate(label: "reload", replacing: [:], dropping: [], canary: canary)
        let verified = manager.verify(candidate, canary: canary)
        Files.remove(candidate)
        guard verified.ok else {
            throw CommandError("the live set does not load, so sigctl did not ask clamd to reload it: \(verified.summary)",
                               hint: "fix or remove the file libclamav names, or run `sigctl rollback`")
        }
        let dir = manager.generations.directory(live.generation)
        _ = try manager.activate(generation: live.generation,
                                 files: Dictionary(uniqueKeysWithValues: manifest.files.keys.map { ($0, dir + "/" + $0) }),
                                 canary: canary, signatures: verified.signatures, state: &state, store: store)
        return finish("reload", generation: live.generation, signatures: verified.signatures, canary: canary, state: &state)
    }

    /// Restores generation `target` (default: the newest one older than the live set),
    /// verified as clamd will load it, then reloads and proves it.
    public func rollback(to target: Int?) throws -> MaintenanceReport {
        let lock = try RunLock(stateDir: config.settings.stateDir)
        defer { withExtendedLifetime(lock) {} }
        try manager.prepare()
        var state = try store.load()
        try manager.recoverInterruptedInstall(&state, store: store)
        let available = manager.generations.all()
        let liveID = state.live?.generation
        let chosen: GenerationManifest?
        if let target {
            chosen = available.first { $0.id == target }
            guard chosen != nil else {
                let ids = available.map { String($0.id) }.joined(separator: ", ")
                throw CommandError("there is no installed set \(target) to roll back to",
                                   hint: ids.isEmpty ? "no sets are kept yet" : "kept sets: \(ids) (see `sigctl status`)", exit: .usage)
            }
        } else {
            chosen = available.first { liveID == nil || $0.id < liveID! }
        }
        guard let manifest = chosen else {
            throw CommandError("there is no earlier set to roll back to", hint: "sigctl keeps keep_generations = \(config.settings.keepGenerations) sets")
        }
        let dir = manager.generations.directory(manifest.id)
        let files = Dictionary(uniqueKeysWithValues: manifest.files.keys.map { ($0, dir + "/" + $0) })
        let owned = Set(state.live?.owned ?? []).subtracting([canaryFileName])
        let canary = try Canary.make(generation: manifest.id)
        let candidate = try manager.buildCandidate(label: "rollback", replacing: files,
                                                   dropping: owned.subtracting(files.keys), canary: canary)
        let verified = manager.verify(candidate, canary: canary)
        Files.remove(candidate)
        guard verified.ok else {
            throw CommandError("set \(manifest.id) does not load with the other files in \(config.settings.databaseDir): \(verified.summary)",
                               hint: "nothing was changed; pick another set with --to")
        }
        _ = try manager.activate(generation: manifest.id, files: files, canary: canary,
                                 signatures: verified.signatures, state: &state, store: store)
        // The restored files stay until upstream publishes something new: keep the
        // validators, but record what is installed now.
        for (name, file) in manifest.files {
            var entry = state.feeds[file.feed, default: FeedState()].files[name, default: FileState()]
            entry.sha256 = file.sha256
            entry.size = file.size
            entry.signatures = file.signatures
            state.feeds[file.feed, default: FeedState()].files[name] = entry
        }
        try store.save(state)
        log.info("restored set \(manifest.id) from \(manifest.created)")
        return finish("rollback", generation: manifest.id, signatures: verified.signatures, canary: canary, state: &state)
    }

    private func finish(_ action: String, generation: Int, signatures: Int, canary: Canary, state: inout State) -> MaintenanceReport {
        let outcome = manager.reload(canary, state: &state, store: store)
        manager.prune(state: state)
        var reload = ReloadReport(outcome, canary: canary, timeout: config.settings.reloadTimeout,
                                  unreachableNote: "the set is installed and clamd loads it when it starts")
        if case .notConfirmed = outcome { reload.message! += "; check clamd's log" }
        let exit: ExitStatus = reload.failed ? .reloadUnconfirmed : .success
        return MaintenanceReport(action: action, generation: generation, signatures: signatures, reload: reload, exitCode: exit.rawValue)
    }
}
