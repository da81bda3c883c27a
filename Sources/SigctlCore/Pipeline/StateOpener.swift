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
        layout.generations.recoverInterrupted()
        let recorded = { (journal: Installer.Journal) in
            state.live?.generation == journal.generation && state.live?.canaryName == (journal.canaryName ?? state.live?.canaryName)
        }
        if let journal = try Installer(databaseDir: layout.databaseDir, stateDir: layout.stateDir).recover(recorded: recorded),
           !recorded(journal) {
            if journal.generation == 0 {
                // sigctl was taking its files out after clamd refused the first set.
                state.live = nil
                notes.append("finished removing sigctl's files, which an interrupted run had begun after clamd refused the first set")
            } else if let manifest = layout.generations.manifest(journal.generation) {
                state = StateRebuilder(layout: layout).adopt(manifest, into: state, installed: context.clock.now(),
                                                            canaryName: journal.canaryName)
                notes.append("finished installing set \(journal.generation), which an interrupted run had left half-done; clamd is asked to confirm it")
            }
        }
        return Opened(state: state, notes: notes)
    }
}
