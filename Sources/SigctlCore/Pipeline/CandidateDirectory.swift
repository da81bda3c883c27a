import Foundation

/// Builds candidate directories: what the database directory would hold after a change.
struct CandidateDirectory {
    let layout: Layout
    let scope: VerifyScope

    /// The live files (hard links, or symlinks across file systems) minus `removing`,
    /// with `replacing` (name → new file) and the canary's database line.
    /// `complete` includes the live files even with verify_scope = "changed".
    func build(label: String, replacing: [String: String], removing: Set<String>, canary: Canary,
               complete: Bool = false) throws -> String {
        let dir = try Files.makeTemporaryDirectory(in: layout.staging, prefix: "candidate-\(label)-")
        do {
            try fill(dir, replacing: replacing, removing: removing, canary: canary, complete: complete)
        } catch {
            Files.remove(dir)
            throw error
        }
        return dir
    }

    private func fill(_ dir: String, replacing: [String: String], removing: Set<String>, canary: Canary, complete: Bool) throws {
        chmod(dir, 0o755)
        let live = complete || scope == .set ? Files.list(layout.databaseDir).filter(isDatabaseFile) : []
        for name in live where name != canaryFileName && replacing[name] == nil && !removing.contains(name) {
            let source = layout.live(name)
            if link(source, dir + "/" + name) != 0 {
                guard symlink(source, dir + "/" + name) == 0 else { throw SystemError.errno("symlink", path: dir + "/" + name) }
            }
        }
        for (name, source) in replacing {
            try Files.linkOrCopy(source, to: dir + "/" + name)
        }
        try Files.writeAtomically(Data(try canary.databaseLine().utf8), to: dir + "/" + canaryFileName)
    }
}
