import Foundation

/// The first step of every command that changes the set (under the lock): lay out
/// the state directory, load `state.json` (rebuilding it from the kept sets when it
/// is damaged), and finish an install a killed run left half-done.
struct StateOpener {
    let context: SigctlContext
    let config: Configuration
    var layout: Layout { Layout(settings: config.settings) }

    struct Opened {
        var state: State
        /// What was repaired on the way in, for the report. A journal that was finished
        /// stays until the caller has saved the state and commits it.
        var notes: [String]
    }

    func open() throws -> Opened {
        try Files.makeDirectory(layout.stateDir, mode: 0o755)
        try Files.makeDirectory(layout.canaryDir, mode: 0o755)
        try Files.makeDirectory(layout.generations.root, mode: 0o755)
        Files.remove(layout.staging)
        try Files.makeDirectory(layout.staging, mode: 0o755)
        guard Files.isDirectory(layout.databaseDir) else {
            throw CommandError("the database directory \(layout.databaseDir) does not exist",
                               hint: "install clamav-daemon or set database_dir in sigctl.toml", exit: .config)
        }
        var notes: [String] = []
        let store = StateStore(directory: layout.stateDir)
        var state: State
        do {
            state = try store.read()
        } catch .unreadable(let path, let code) {
            throw CommandError("cannot read \(path): \(String(cString: strerror(code)))",
                               hint: "run sigctl as the user that owns \(layout.stateDir), or as root", exit: .failed)
        } catch .damaged(let path, let reason) {
            let aside = path + ".damaged-\(Int(context.clock.now().timeIntervalSince1970))"
            rename(path, aside)
            state = StateRebuilder(layout: layout).rebuild()
            notes.append("\(path) was damaged (\(reason)); moved it to \(aside) and rebuilt the state from the kept sets"
                + (state.live.map { ": set \($0.generation) with \($0.owned.count) files adopted by their recorded sha256" } ?? ": no kept set matches the database directory"))
        }
        if let journal = try Installer(databaseDir: layout.databaseDir, stateDir: layout.stateDir).recover() {
            // Killed after its state was saved: the set is recorded already.
            if state.live?.generation == journal.generation { return Opened(state: state, notes: notes) }
            if let manifest = layout.generations.manifest(journal.generation) {
                state = StateRebuilder(layout: layout).adopt(manifest, into: state, installed: Date())
            }
            notes.append("finished installing set \(journal.generation), which an interrupted run had left half-done")
        }
        return Opened(state: state, notes: notes)
    }
}

/// Rebuilds what sigctl knows from the kept sets when `state.json` is lost: the files
/// sigctl installed are recognised by the sha256 their set recorded.
struct StateRebuilder {
    let layout: Layout

    func rebuild() -> State {
        var state = State()
        let manifests = layout.generations.all()
        state.nextGeneration = (manifests.map(\.id).max() ?? 0) + 1
        // The newest set whose files are all live as recorded, else the newest with any.
        let scored = manifests.map { manifest in (manifest, matching(manifest)) }
        guard let (manifest, _) = scored.first(where: { $0.1.count == $0.0.files.count && !$0.1.isEmpty })
                ?? scored.first(where: { !$0.1.isEmpty }) else { return state }
        state = adopt(manifest, into: state, installed: manifest.created)
        if let allowList = state.live?.owned.contains(allowListFileName), allowList,
           let data = FileManager.default.contents(atPath: layout.live(allowListFileName)) {
            var allowed: [String: AllowEntry] = [:]
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where !line.isEmpty {
                allowed[String(line)] = AllowEntry(reason: "recovered from \(allowListFileName) after state.json was lost",
                                                   by: "sigctl", at: manifest.created)
            }
            state.allowed = allowed
        }
        return state
    }

    /// Files of `manifest` whose live copy has the recorded sha256.
    func matching(_ manifest: GenerationManifest) -> Set<String> {
        Set(manifest.files.filter { name, file in
            (try? ClamAV.hashFile("sha256", path: layout.live(name))) == file.sha256
        }.keys)
    }

    /// Makes `manifest` the live set of `state`, owning the files that match it.
    func adopt(_ manifest: GenerationManifest, into state: State, installed: Date) -> State {
        var state = state
        let owned = matching(manifest)
        for name in owned {
            let file = manifest.files[name]!
            var record = state.feeds[file.feed, default: FeedState()].files[name] ?? FileState()
            if record.sha256 != file.sha256 { record.dropValidators() }
            record.sha256 = file.sha256
            record.size = file.size
            record.signatures = file.signatures
            record.stamp = FileStamp.read(layout.live(name))
            state.feeds[file.feed, default: FeedState()].files[name] = record
        }
        var names = owned
        if Files.exists(layout.live(canaryFileName)) { names.insert(canaryFileName) }
        state.live = LiveSet(generation: manifest.id, canaryName: manifest.canaryName ?? "", installedAt: installed,
                             confirmed: false, confirmedAt: nil, signatures: manifest.loadedSignatures, owned: names.sorted())
        state.nextGeneration = max(state.nextGeneration, manifest.id + 1)
        return state
    }
}

extension FileStamp {
    /// The stamp of the file at `path` (without following a symlink), or nil.
    public static func read(_ path: String) -> FileStamp? {
        var st = stat()
        guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return FileStamp(inode: UInt64(st.st_ino), size: Int64(st.st_size),
                         mtime: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec),
                         ctime: Int64(st.st_ctim.tv_sec) * 1_000_000_000 + Int64(st.st_ctim.tv_nsec))
    }
}
