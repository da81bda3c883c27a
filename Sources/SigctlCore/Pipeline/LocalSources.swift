import Foundation

/// sigctl's own allow list (`sigctl-allow.ign2`), written by sigctl from the entries
/// `sigctl allow` recorded. It joins the candidate like any downloaded file.
struct AllowListSource {
    /// The owner name its file is recorded under.
    static let feedName = "sigctl"
    let layout: Layout

    func stage(_ change: AllowListChange) throws -> StagedFile? {
        guard case .write(let names) = change else { return nil }
        let content = AllowList.content(names)
        let dir = layout.staging + "/allow"
        try Files.makeDirectory(dir)
        let path = dir + "/" + allowListFileName
        try Files.writeAtomically(content, to: path, mode: 0o644)
        var file = StagedFile(feed: Self.feedName, name: allowListFileName, path: path,
                              sha256: try ClamAV.hash("sha256", content), size: Int64(content.count), signatures: names.count)
        file.origin = .local
        return file
    }
}

/// Files edited or deleted by hand in the database directory, restored from the
/// live kept set (which never shares an inode with the live file).
struct RepairSource {
    let layout: Layout

    func stage(_ repairs: [String: String], facts: LiveFacts, state: State) -> [StagedFile] {
        repairs.sorted(by: { $0.key < $1.key }).compactMap { name, feed in
            guard let kept = facts.keptCopies[name], let record = state.record(of: name)?.file, let sha256 = record.sha256 else { return nil }
            var file = StagedFile(feed: feed, name: name, path: kept, sha256: sha256, size: record.size ?? 0,
                                  signatures: record.signatures ?? 0)
            file.origin = .repair(generation: state.live?.generation ?? 0)
            file.md5 = record.md5
            file.signatureDigest = record.signatureDigest
            return file
        }
    }
}

/// sigctl's own allow list file (`sigctl-allow.ign2`).
public enum AllowList {
    public static func content(_ names: [String]) -> Data { Data((names.sorted().joined(separator: "\n") + "\n").utf8) }
    public static func digest(_ names: [String]) -> String? { try? ClamAV.hash("sha256", content(names)) }
}
