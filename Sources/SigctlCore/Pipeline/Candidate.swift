import Foundation

/// The set an update proposes: the live set with these files changed and these removed.
public struct Candidate: Sendable {
    public var generation: Int
    public var canary: Canary
    /// New or changed files (downloads, repairs, the allow list).
    public var files: [StagedFile]
    /// Owned files the set no longer holds (name → feed).
    public var drops: [String: String]
    /// Live files replaced under another name (daily.cvd → daily.cld), name → feed.
    public var replaced: [String: String]

    public var isEmpty: Bool { files.isEmpty && drops.isEmpty && replaced.isEmpty }
    public var replacing: [String: String] { Dictionary(files.map { ($0.name, $0.path) }, uniquingKeysWith: { a, _ in a }) }
    public var removing: Set<String> { Set(drops.keys).union(replaced.keys) }

    /// The same candidate without `feeds`' files (they were rejected).
    public func without(feeds: Set<String>) -> Candidate {
        var copy = self
        copy.files.removeAll { feeds.contains($0.feed) }
        copy.replaced = replaced.filter { !feeds.contains($0.value) }
        return copy
    }

    /// Pure: what the plan and the acquisition add up to.
    public static func assemble(generation: Int, canary: Canary, plan: UpdatePlan, acquisition: Acquisition,
                                local: [StagedFile]) -> Candidate {
        var files = local
        var replaced: [String: String] = [:]
        for (_, feed) in acquisition.feeds.sorted(by: { $0.key < $1.key }) {
            for result in feed.files {
                if case .staged(let file) = result.outcome { files.append(file) }
            }
            if feed.files.contains(where: { if case .staged = $0.outcome { return true } else { return false } }) {
                for name in feed.replaced { replaced[name] = feed.feed }
            }
        }
        var drops = plan.drops
        if plan.allowList == .remove { drops[allowListFileName] = AllowListSource.feedName }
        return Candidate(generation: generation, canary: canary, files: files, drops: drops, replaced: replaced)
    }
}

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
        return dir
    }
}
