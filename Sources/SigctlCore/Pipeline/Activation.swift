import Foundation

/// What clamd said about a set.
public enum Proof: Sendable, Equatable {
    /// clamd reported the set's canary.
    case confirmed(seconds: Double)
    /// clamd could not be reached, or never answered: the set stays, unconfirmed.
    case unreachable(String)
    /// clamd answered but never reported the canary: it did not load the set.
    case notShown(String)
    /// clamd = "none".
    case skipped
}

/// What became of the previous set after clamd refused a new one.
public enum Restoration: Sendable, Equatable {
    /// `set` is live again; `files` are its files as its kept set recorded them.
    case restored(LiveSet, proof: Proof, files: [String: GenerationFile])
    /// There was no earlier set: sigctl's files were taken out again.
    case removed
    case failed(String)
}

/// The one value the activation stage returns. The report, the new state, the
/// history and the exit status are all derived from it.
public enum Activation: Sendable {
    /// Nothing to install, and no set waiting for clamd's proof.
    case nothing
    /// The candidate is live; `proof` says whether clamd showed it.
    case installed(LiveSet, Proof, stamps: [String: FileStamp])
    /// clamd did not load `refused`; the previous set is back (or, when that failed,
    /// `refused` stays live, unconfirmed).
    case refused(LiveSet, lastVerdict: String, restoration: Restoration, stamps: [String: FileStamp])
    /// Writing the set failed. Before the switch began (a full disk while staging) the
    /// live set is untouched; after it began, the journal stays and the next run finishes it.
    case installFailed(String, switchStarted: Bool)
    /// Nothing new; the live set, installed earlier while clamd was away, was checked again.
    case checked(LiveSet, Proof)

    /// The set live after this run, when it changed.
    public var live: LiveSet? {
        switch self {
        case .installed(let live, _, _), .checked(let live, _): return live
        default: return nil
        }
    }
}

/// Installs a verified candidate, reloads clamd and proves it, and puts the previous
/// set back when clamd does not load the new one.
struct Activator {
    let context: SigctlContext
    let config: Configuration
    let layout: Layout

    var installer: Installer { Installer(databaseDir: layout.databaseDir, stateDir: layout.stateDir, failpoints: context.failpoints) }

    /// The prover for a set of `signatures` whose load took `measured` seconds in the
    /// verification child. Without a measurement, about 3 µs per signature (the official
    /// set's 8.7M load in 20–30 s on two cores).
    func prover(signatures: Int, measured: Double? = nil) -> ReloadProver? {
        config.clamdAddress.map {
            ReloadProver(clamd: context.clamd($0), clock: context.clock, timeout: Double(config.settings.reloadTimeout),
                         expectedLoad: measured ?? Double(signatures) * 3e-6, failpoints: context.failpoints)
        }
    }

    /// The files of the new set and where its kept copy takes each from.
    func manifestFiles(_ candidate: Candidate, state: State, released: Set<String>)
        -> (files: [String: GenerationFile], sources: [String: GenerationSource]) {
        var files: [String: GenerationFile] = [:]
        var sources: [String: GenerationSource] = [:]
        let liveDir = state.live.map { layout.generations.directory($0.generation) }
        let changing = Set(candidate.files.map(\.name))
        for name in state.live?.owned ?? [] where name != canaryFileName && !candidate.removing.contains(name)
            && !released.contains(name) && !changing.contains(name) {
            guard let (feed, record) = state.record(of: name), let sha256 = record.sha256 else { continue }
            files[name] = GenerationFile(feed: feed, sha256: sha256, size: record.size ?? 0, signatures: record.signatures ?? 0)
            if let liveDir, Files.exists(liveDir + "/" + name) {
                sources[name] = .link(liveDir + "/" + name)
            } else {
                sources[name] = .copy(layout.live(name))
            }
        }
        for file in candidate.files {
            files[file.name] = GenerationFile(feed: file.feed, sha256: file.sha256, size: file.size, signatures: file.signatures)
            sources[file.name] = .link(file.path)
        }
        return (files, sources)
    }

    /// Makes `gates.candidate` live. `released` are owned files handed back this run.
    /// A set that existed before (a rollback target, the live set on reload) keeps its
    /// kept copy, status and canary until the switch has succeeded.
    func activate(_ gates: GateResult, state: State, released: Set<String>, reason: String) throws -> Activation {
        let candidate = gates.candidate
        let generation = candidate.generation
        // A set that exists is one that is kept or live; anything else under this number
        // is a leftover of a killed run.
        var existing = layout.generations.manifest(generation)
        if let found = existing, !found.status.isKept && state.live?.generation != generation {
            layout.generations.remove(generation)
            existing = nil
        }
        let (files, sources) = manifestFiles(candidate, state: state, released: released)
        let manifest = GenerationManifest(id: generation, created: context.clock.now(), reason: reason, files: files,
                                          loadedSignatures: gates.verification?.signatures ?? 0,
                                          status: existing?.status ?? .pending, canaryName: candidate.canary.name)
        let payload = layout.canaryPayload(candidate.canary.name)
        func abandon() {
            if existing == nil { layout.generations.remove(generation) }
            unlink(payload)
        }
        do {
            if existing == nil { try layout.generations.create(manifest, sources: sources) }
            try context.reach("update.generation")
            try candidate.canary.write(databaseTo: layout.staging + "/" + canaryFileName, payloadTo: payload)
        } catch {
            abandon()
            return .installFailed("cannot keep set \(generation) in \(layout.stateDir): \(error); the live set is unchanged", switchStarted: false)
        }
        var install = candidate.replacing
        install[canaryFileName] = layout.staging + "/" + canaryFileName
        let previouslyOwned = Set(state.live?.owned ?? [])
        let adopting = Set(candidate.files.filter(\.adopting).map(\.name))
        let mayReplace = previouslyOwned.union(adopting).union(candidate.replaced.keys)
            .union(Files.exists(layout.live(canaryFileName)) ? [canaryFileName] : [])
        let remove = candidate.removing.filter { mayReplace.contains($0) }
        do {
            _ = try installer.install(generation: generation, canaryName: candidate.canary.name, files: install,
                                      remove: remove.sorted(), owned: mayReplace)
        } catch let error as Installer.Interrupted {
            return .installFailed("installing set \(generation) into \(layout.databaseDir) was interrupted after the switch began (\(error)); the next run finishes it from the journal", switchStarted: true)
        } catch {
            abandon()
            return .installFailed("installing set \(generation) into \(layout.databaseDir) failed: \(error); the live set is unchanged", switchStarted: false)
        }
        let owned = Set(files.keys).union([canaryFileName]).sorted()
        let live = LiveSet(generation: generation, canaryName: candidate.canary.name, installedAt: context.clock.now(),
                           confirmed: false, confirmedAt: nil, signatures: gates.verification?.signatures ?? 0, owned: owned)
        let stamps = Self.stamps(install.keys, layout: layout)
        try context.reach("update.installed")
        let measured = gates.verification.map { $0.loadSeconds + $0.compileSeconds }
        let proof = try prove(candidate.canary, prover: prover(signatures: live.signatures, measured: measured))
        if case .notShown(let verdict) = proof, state.live?.generation != generation {
            return refuse(live, verdict: verdict, previous: restoreTarget(state, refused: generation),
                          deleteKept: existing == nil, stamps: stamps)
        }
        if existing != nil, proof == .skipped || { if case .confirmed = proof { return true } else { return false } }() {
            // A kept set is rewritten (new canary, the official files it now runs with)
            // only once clamd has shown it.
            try? layout.generations.create(manifest, sources: sources)
        }
        return .installed(live, proof, stamps: stamps)
    }

    /// What to put back when clamd refuses a new set: the live set when it is a kept
    /// one, else (it never got confirmed either) the newest kept set.
    func restoreTarget(_ state: State, refused: Int) -> LiveSet? {
        if let live = state.live, live.generation != refused, layout.generations.manifest(live.generation)?.status.isKept == true {
            return live
        }
        return newestKept(excluding: refused)
    }

    /// The kept set made most recently (a rollback target counts as made when it was restored).
    func newestKept(excluding id: Int) -> LiveSet? {
        layout.generations.all().filter { $0.status.isKept && $0.id != id }.max { $0.created < $1.created }.map { manifest in
            LiveSet(generation: manifest.id, canaryName: manifest.canaryName ?? "", installedAt: manifest.created, confirmed: false,
                    confirmedAt: nil, signatures: manifest.loadedSignatures, owned: (Array(manifest.files.keys) + [canaryFileName]).sorted())
        }
    }

    /// clamd did not load `refused`: put `previous` back. The refused set's kept copy
    /// goes, unless it existed before or the restore failed (then it stays live).
    func refuse(_ refused: LiveSet, verdict: String, previous: LiveSet?, deleteKept: Bool, stamps: [String: FileStamp]) -> Activation {
        let restoration = restore(previous, refused: refused)
        if case .failed = restoration { return .refused(refused, lastVerdict: verdict, restoration: restoration, stamps: stamps) }
        if deleteKept {
            layout.generations.remove(refused.generation)
            unlink(layout.canaryPayload(refused.canaryName))
        }
        var back: Set<String> = []
        if case .restored(let set, _, _) = restoration { back = Set(set.owned) }
        return .refused(refused, lastVerdict: verdict, restoration: restoration, stamps: Self.stamps(back, layout: layout))
    }

    /// RELOAD and wait for `canary`.
    func prove(_ canary: Canary, prover: ReloadProver?) throws -> Proof {
        guard let prover else { return .skipped }
        switch try prover.reloadAndProve(canary, log: context.log) {
        case .confirmed(let seconds): return .confirmed(seconds: seconds)
        case .unreachable(let reason): return .unreachable(reason)
        case .notConfirmed(let verdict): return .notShown(verdict)
        case .skipped: return .skipped
        }
    }

    /// Nothing changed, but the live set was installed while clamd was away (or a run was
    /// killed while it waited for clamd): check it now. A set clamd never confirmed and now
    /// refuses is rolled back to the newest kept set, as an update would have done.
    func check(_ live: LiveSet) throws -> Activation {
        guard let prover = prover(signatures: live.signatures) else { return .checked(live, .skipped) }
        guard let canary = layout.canary(named: live.canaryName, generation: live.generation, mail: config.clamd.scanMail) else {
            return .checked(live, .unreachable("the canary of set \(live.generation) is missing, so clamd cannot be asked; run `sigctl reload`"))
        }
        // clamd may already run it (it loaded the set when it started); else reload.
        let start = context.clock.now()
        if (try? prover.serves(canary)) == true {
            return .checked(live, .confirmed(seconds: context.clock.now().timeIntervalSince(start)))
        }
        let proof = try prove(canary, prover: prover)
        guard case .notShown(let verdict) = proof, layout.generations.manifest(live.generation)?.status == .pending else {
            return .checked(live, proof)
        }
        return refuse(live, verdict: verdict, previous: newestKept(excluding: live.generation), deleteKept: true, stamps: [:])
    }

    /// Puts `previous` back after clamd refused `refused`: its files from its kept set,
    /// its canary, then RELOAD and proof. Official databases are left as they are, as a
    /// rollback leaves them: a newer version that replaced freshclam's stays (it was
    /// verified) and stays sigctl's, and an older one is never put back.
    func restore(_ previous: LiveSet?, refused: LiveSet) -> Restoration {
        let keepOfficial = { (name: String) in !Planner.isOfficial(name, config: self.config) }
        do {
            guard let previous else {
                // There was no earlier set: take sigctl's own files out again.
                _ = try installer.install(generation: 0, files: [:], remove: refused.owned.filter(keepOfficial),
                                          owned: Set(refused.owned))
                if let prover = prover(signatures: 0) {
                    _ = try? prover.clamd.reload(deadline: context.clock.now().addingTimeInterval(prover.deadline))
                }
                return .removed
            }
            guard let manifest = layout.generations.manifest(previous.generation),
                  let canary = layout.canary(named: previous.canaryName, generation: previous.generation, mail: config.clamd.scanMail) else {
                return .failed("set \(previous.generation) is no longer kept (deleted by hand?), so it cannot be restored; set \(refused.generation) stays in place: run `sigctl rollback --to N` with a kept set")
            }
            let dir = layout.generations.directory(previous.generation)
            var install: [String: String] = [:]
            let files = manifest.files.filter { previous.owned.contains($0.key) && keepOfficial($0.key) }
            for name in files.keys { install[name] = dir + "/" + name }
            let canaryPath = layout.staging + "/" + canaryFileName + ".restore"
            try Files.writeAtomically(Data(try canary.databaseLine().utf8), to: canaryPath)
            install[canaryFileName] = canaryPath
            let remove = Set(refused.owned).subtracting(previous.owned).filter(keepOfficial)
            _ = try installer.install(generation: previous.generation, canaryName: previous.canaryName, files: install,
                                      remove: remove.sorted(), owned: Set(refused.owned).union(previous.owned))
            var restored = previous
            let official = refused.owned.filter { !keepOfficial($0) }
            restored.owned = Set(files.keys).union(official).union([canaryFileName]).sorted()
            return .restored(restored, proof: try prove(canary, prover: prover(signatures: previous.signatures)), files: files)
        } catch {
            return .failed("restoring the previous set failed: \(error)")
        }
    }

    static func stamps(_ names: some Sequence<String>, layout: Layout) -> [String: FileStamp] {
        var stamps: [String: FileStamp] = [:]
        for name in names { stamps[name] = FileStamp.read(layout.live(name)) }
        return stamps
    }
}
