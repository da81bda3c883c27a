import Foundation

/// Makes a verified set live in clamd's database directory.
///
/// Only the files whose content changes are written. Each is copied into
/// `database_dir/.sigctl-install` (a hidden directory on the same file system that
/// libclamav does not load and clamd's AppArmor profile allows), owned by the
/// directory's owner, fsynced, and then moved over the old name with `renameat`,
/// so clamd sees either the old or the new file for each name, never a partly
/// written one. Everything inside the database directory goes through directory
/// descriptors with `O_NOFOLLOW`: the clamav user owns that directory and could
/// plant symlinks.
///
/// A journal in the state directory lets the next run finish a switch that was
/// killed half-way. The journal stays until the caller has recorded the new set
/// (`commit`), so a run killed after the renames but before its state was saved
/// is still recognised as an install, not as files edited by hand.
public struct Installer: Sendable {
    public let databaseDir: String
    public let stateDir: String
    let failpoints: Failpoints

    public init(databaseDir: String, stateDir: String, failpoints: Failpoints = .none) {
        self.databaseDir = databaseDir
        self.stateDir = stateDir
        self.failpoints = failpoints
    }

    /// Staging directories are `.sigctl-install-` plus a random suffix, one per switch, named in its journal.
    static let stagingPrefix = ".sigctl-install"
    var journalPath: String { stateDir + "/install-journal.json" }

    /// What one switch does; written before the first rename.
    public struct Journal: Codable, Equatable, Sendable {
        public var generation: Int
        /// The canary the switched set carries.
        public var canaryName: String?
        /// This switch's staging directory in the database directory.
        public var staging: String?
        /// Files moved into place.
        public var install: [String]
        /// Files removed from the database directory.
        public var remove: [String]
    }

    /// The switch failed after it began (some renames may be done): the journal stays,
    /// and the next run finishes it.
    public struct Interrupted: Error, CustomStringConvertible {
        public let underlying: Error
        public var description: String { "\(underlying)" }
    }

    /// Installs `files` (name → path of the verified copy) and removes `remove`.
    /// `owned` are the names sigctl may replace; any other existing name is refused.
    /// On any error before the switch, nothing in the database directory has changed
    /// and no staging is left behind.
    public func install(generation: Int, canaryName: String? = nil, files: [String: String], remove: [String],
                        owned: Set<String>) throws -> Journal {
        let database = try DirectoryHandle(databaseDir)
        for name in files.keys.sorted() where !owned.contains(name) && database.status(name) != nil {
            throw CommandError("\(databaseDir)/\(name) exists and was not installed by sigctl",
                               hint: "sigctl never overwrites files it does not own (freshclam's or yours); remove or rename that file, or drop it from the feed")
        }
        for entry in database.entries() where entry.hasPrefix(Self.stagingPrefix) { database.removeTree(entry) }
        let (stagingName, staging) = try makeStaging(database)
        do {
            let owner: (uid_t, gid_t)? = geteuid() == 0 ? try database.owner() : nil
            for (name, source) in files.sorted(by: { $0.key < $1.key }) {
                try staging.copyIn(from: source, as: name, owner: owner, mode: 0o644)
            }
            staging.sync()
            try failpoints.reach("install.staged")
            let journal = Journal(generation: generation, canaryName: canaryName, staging: stagingName,
                                  install: files.keys.sorted(), remove: remove.sorted())
            try Files.writeAtomically(try JSONEncoder.sigctl.encode(journal), to: journalPath, mode: 0o600)
            do {
                try failpoints.reach("install.journal")
                try finish(journal, database: database, staging: staging)
            } catch {
                throw Interrupted(underlying: error)
            }
            return journal
        } catch let error as Interrupted {
            throw error
        } catch {
            // Before the journal exists, nothing was renamed: take the staging away.
            database.removeTree(stagingName)
            throw error
        }
    }

    /// A new staging directory with an unpredictable name, made with `mkdirat` (which
    /// never follows a symlink) and opened with `O_NOFOLLOW`.
    private func makeStaging(_ database: DirectoryHandle) throws -> (String, DirectoryHandle) {
        for _ in 0..<16 {
            let name = Self.stagingPrefix + "-" + (0..<6).map { _ in String("abcdefghijklmnopqrstuvwxyz0123456789".randomElement()!) }.joined()
            do {
                return (name, try database.makeDirectory(name))
            } catch let error as SystemError where error.code == EEXIST {
                continue
            }
        }
        throw SystemError(call: "mkdir", path: databaseDir + "/" + Self.stagingPrefix + "-…", code: EEXIST)
    }

    /// The switch: renames, then removals. The names are sigctl's: whatever stands at
    /// one (a directory the clamav user planted) goes, without following links.
    private func finish(_ journal: Journal, database: DirectoryHandle, staging: DirectoryHandle?) throws {
        for name in journal.install {
            guard let staging, staging.status(name) != nil else { continue } // renamed before a crash
            if let st = database.status(name), (st.st_mode & S_IFMT) == S_IFDIR { database.removeTree(name) }
            try staging.move(name, to: database)
            try failpoints.reach("install.rename")
        }
        for name in journal.remove { database.removeTree(name) }
        database.sync()
        if let name = journal.staging { database.removeTree(name) }
        try failpoints.reach("install.renamed")
    }

    /// The journal of a switch whose new set was not yet recorded, after finishing its
    /// renames. nil when there is none. Staging without a journal never reached the
    /// database directory and is removed. `recorded` says whether the state already
    /// holds the journal's set: then a switch whose staging is gone is not replayed.
    public func recover(recorded: (Journal) -> Bool = { _ in false }) throws -> Journal? {
        let database = try DirectoryHandle(databaseDir)
        guard let data = FileManager.default.contents(atPath: journalPath),
              let journal = try? JSONDecoder.sigctl.decode(Journal.self, from: data) else {
            unlink(journalPath)
            for entry in database.entries() where entry.hasPrefix(Self.stagingPrefix) { database.removeTree(entry) }
            return nil
        }
        // Only the journal's own staging may be finished; any other is a later switch
        // that never got as far as its journal.
        for entry in database.entries() where entry.hasPrefix(Self.stagingPrefix) && entry != journal.staging {
            database.removeTree(entry)
        }
        let staging = journal.staging.flatMap { try? database.open($0) }
        if staging == nil && recorded(journal) { return journal }
        try finish(journal, database: database, staging: staging)
        return journal
    }

    /// The new set is recorded in state: the journal has done its work.
    public func commit() {
        unlink(journalPath)
        Files.syncDirectory(stateDir)
    }
}
