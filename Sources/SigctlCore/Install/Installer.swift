import Foundation

/// Makes a verified set live in clamd's database directory.
///
/// The switch is a series of `rename(2)` calls inside the database directory,
/// with nothing else between the first and the last, so clamd sees either the
/// old files or the new ones for each name, never a partly written file.
/// Staged copies live in `database_dir/.sigctl-install`, a hidden directory on
/// the same file system that libclamav does not load (it is not a database
/// file) and that clamd's AppArmor profile already allows. A journal in the
/// state directory lets the next run finish an install that was killed half-way.
public struct Installer: Sendable {
    public let databaseDir: String
    public let stateDir: String

    public init(databaseDir: String, stateDir: String) {
        self.databaseDir = databaseDir
        self.stateDir = stateDir
    }

    var stagingDir: String { databaseDir + "/.sigctl-install" }
    var journalPath: String { stateDir + "/install-journal.json" }

    struct Journal: Codable, Equatable {
        var generation: Int
        var canaryName: String
        var files: [String]
        var remove: [String]
        var signatures: Int
    }

    /// Installs `files` (name in the database directory → path of the verified copy)
    /// and removes the sigctl-owned files in `previouslyOwned` that the new set drops.
    /// Refuses to replace any file sigctl does not own.
    public func install(files: [String: String], previouslyOwned: Set<String>, generation: Int,
                        canaryName: String, signatures: Int) throws -> LiveSet {
        for name in files.keys.sorted() where !previouslyOwned.contains(name) && Files.exists(databaseDir + "/" + name) {
            throw CommandError("\(databaseDir)/\(name) exists and was not installed by sigctl",
                               hint: "sigctl never overwrites files it does not own (freshclam's or yours); remove or rename that file, or drop it from the feed")
        }
        Files.remove(stagingDir)
        try Files.makeDirectory(stagingDir, mode: 0o755)
        var owner = stat()
        guard stat(databaseDir, &owner) == 0 else { throw SystemError.errno("stat", path: databaseDir) }
        for (name, source) in files {
            let staged = stagingDir + "/" + name
            try Files.linkOrCopy(source, to: staged)
            if geteuid() == 0 { chown(staged, owner.st_uid, owner.st_gid) }
            chmod(staged, 0o644)
        }
        Files.syncDirectory(stagingDir)
        let remove = previouslyOwned.subtracting(files.keys).sorted()
        let journal = Journal(generation: generation, canaryName: canaryName, files: files.keys.sorted(),
                              remove: remove, signatures: signatures)
        try Files.writeAtomically(try JSONEncoder.sigctl.encode(journal), to: journalPath)
        return try finish(journal)
    }

    /// Moves the staged files into place and removes dropped ones (the switch).
    private func finish(_ journal: Journal) throws -> LiveSet {
        for name in journal.files {
            let staged = stagingDir + "/" + name
            guard Files.exists(staged) else { continue } // renamed before a crash
            guard rename(staged, databaseDir + "/" + name) == 0 else {
                throw SystemError.errno("rename", path: databaseDir + "/" + name)
            }
        }
        for name in journal.remove { unlink(databaseDir + "/" + name) }
        Files.syncDirectory(databaseDir)
        Files.remove(stagingDir)
        unlink(journalPath)
        return LiveSet(generation: journal.generation, canaryName: journal.canaryName, installedAt: Date(),
                       confirmed: false, confirmedAt: nil, signatures: journal.signatures, owned: journal.files)
    }

    /// Finishes an install a killed run left half-done. Returns the set now live,
    /// or nil when there was nothing to recover. Leftover staging without a
    /// journal never reached the database directory and is simply removed.
    public func recover() throws -> LiveSet? {
        guard let data = FileManager.default.contents(atPath: journalPath) else {
            Files.remove(stagingDir)
            return nil
        }
        guard let journal = try? JSONDecoder.sigctl.decode(Journal.self, from: data) else {
            unlink(journalPath)
            Files.remove(stagingDir)
            return nil
        }
        return try finish(journal)
    }
}
