import Foundation

/// One file of an installed set, as recorded in its manifest.
public struct GenerationFile: Codable, Sendable {
    public var feed: String
    public var sha256: String
    public var size: Int64
    public var signatures: Int
}

/// The manifest of one installed set: `state_dir/generations/N/manifest.json`.
public struct GenerationManifest: Codable, Sendable {
    public var id: Int
    public var created: Date
    /// Why it was made: "update" or "rollback to N".
    public var reason: String
    /// sigctl-owned feed files, by file name.
    public var files: [String: GenerationFile]
    /// Signatures libclamav loaded from the whole candidate directory.
    public var loadedSignatures: Int
}

/// Installed sets kept for rollback. Each is a directory holding the feed files
/// sigctl owned in that set, plus its manifest.
public struct Generations: Sendable {
    public let root: String

    public init(stateDir: String) { root = stateDir + "/generations" }

    public func directory(_ id: Int) -> String { root + "/\(id)" }

    public func manifest(_ id: Int) -> GenerationManifest? {
        guard let data = FileManager.default.contents(atPath: directory(id) + "/manifest.json") else { return nil }
        return try? JSONDecoder.sigctl.decode(GenerationManifest.self, from: data)
    }

    /// Complete generations (with a manifest), newest first.
    public func all() -> [GenerationManifest] {
        Files.list(root).compactMap(Int.init).sorted(by: >).compactMap(manifest)
    }

    /// Writes a generation from `sources` (file name → path to take it from).
    /// Files are hard-linked when possible. The manifest is written last, so a
    /// directory without one is an unfinished generation and is ignored.
    public func create(_ manifest: GenerationManifest, sources: [String: String]) throws {
        let dir = directory(manifest.id)
        Files.remove(dir)
        try Files.makeDirectory(dir)
        for (name, source) in sources.sorted(by: { $0.key < $1.key }) {
            try Files.linkOrCopy(source, to: dir + "/" + name)
        }
        try Files.writeAtomically(try JSONEncoder.sigctl.encode(manifest), to: dir + "/manifest.json")
    }

    /// Removes all but the newest `keep` generations, never `protected` ones.
    public func prune(keep: Int, protected: Set<Int>) {
        let ids = Files.list(root).compactMap(Int.init).sorted(by: >)
        var kept = 0
        for id in ids {
            if protected.contains(id) || (manifest(id) != nil && kept < keep) {
                if manifest(id) != nil { kept += 1 }
                continue
            }
            Files.remove(directory(id))
        }
    }
}
