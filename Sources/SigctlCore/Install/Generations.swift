import Foundation

/// One file of an installed set, as recorded in its manifest.
public struct GenerationFile: Codable, Sendable, Equatable {
    public var feed: String
    public var sha256: String
    public var size: Int64
    public var signatures: Int
}

/// Where a kept set stands. Only sets clamd confirmed (or that were installed with
/// clamd = "none", where nothing can confirm them) count as kept generations.
public enum GenerationStatus: String, Codable, Sendable {
    /// Installed; clamd has not shown its canary yet (clamd was unreachable).
    case pending
    case confirmed
    /// Installed with clamd = "none".
    case unproven

    /// Counts towards keep_generations and can be rolled back to.
    public var isKept: Bool { self != .pending }
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
    public var status: GenerationStatus
    /// The canary this set was installed with (for rebuilding lost state).
    public var canaryName: String?

    public init(id: Int, created: Date, reason: String, files: [String: GenerationFile], loadedSignatures: Int,
                status: GenerationStatus, canaryName: String?) {
        self.id = id
        self.created = created
        self.reason = reason
        self.files = files
        self.loadedSignatures = loadedSignatures
        self.status = status
        self.canaryName = canaryName
    }

    enum CodingKeys: String, CodingKey { case id, created, reason, files, loadedSignatures, status, canaryName }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(Int.self, forKey: .id)
        created = try c.decode(Date.self, forKey: .created)
        reason = try c.decode(String.self, forKey: .reason)
        files = try c.decode([String: GenerationFile].self, forKey: .files)
        loadedSignatures = try c.decode(Int.self, forKey: .loadedSignatures)
        // Sets written before statuses existed were only kept once installed.
        status = try c.decodeIfPresent(GenerationStatus.self, forKey: .status) ?? .confirmed
        canaryName = try c.decodeIfPresent(String.self, forKey: .canaryName)
    }
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

    /// Complete generations (with a manifest), newest first, pending ones included.
    public func all() -> [GenerationManifest] {
        Files.list(root).compactMap(Int.init).sorted(by: >).compactMap(manifest)
    }

    /// Writes a generation from `sources` (file name → where to take it from). A
    /// source in the state directory (a download, an earlier generation) is
    /// hard-linked; a source that is the live file is copied, so that the kept set
    /// never shares an inode with a file in the database directory and a hand edit
    /// there cannot reach the history. The manifest is written last, so a
    /// directory without one is an unfinished generation and is ignored.
    /// An existing set of the same id (a rollback target, a reload) is replaced whole:
    /// the new directory is built beside it and renamed into place.
    public func create(_ manifest: GenerationManifest, sources: [String: GenerationSource]) throws {
        let dir = directory(manifest.id)
        let building = root + "/.new-\(manifest.id)"
        Files.remove(building)
        try Files.makeDirectory(building, mode: 0o755)
        do {
            for (name, source) in sources.sorted(by: { $0.key < $1.key }) {
                switch source {
                case .link(let path): try Files.linkOrCopy(path, to: building + "/" + name)
                case .copy(let path): try Files.copy(path, to: building + "/" + name)
                }
            }
            try Files.writeAtomically(try JSONEncoder.sigctl.encode(manifest), to: building + "/manifest.json")
        } catch {
            Files.remove(building)
            throw error
        }
        let old = root + "/.old-\(manifest.id)"
        Files.remove(old)
        if Files.exists(dir) { rename(dir, old) }
        guard rename(building, dir) == 0 else { throw SystemError.errno("rename", path: dir) }
        Files.remove(old)
        Files.syncDirectory(root)
    }

    /// Rewrites a set's status (pending → confirmed).
    public func setStatus(_ id: Int, _ status: GenerationStatus) throws {
        guard var manifest = manifest(id), manifest.status != status else { return }
        manifest.status = status
        try Files.writeAtomically(try JSONEncoder.sigctl.encode(manifest), to: directory(id) + "/manifest.json")
    }

    public func remove(_ id: Int) { Files.remove(directory(id)) }

    /// A rebuild of set N killed between its two renames leaves `.old-N` without `N`:
    /// put it back. A complete `.new-N` without `N` takes its place. Anything else
    /// half-built goes.
    public func recoverInterrupted() {
        for entry in Files.list(root) where entry.hasPrefix(".old-") || entry.hasPrefix(".new-") {
            let id = String(entry.dropFirst(5))
            let path = root + "/" + entry
            if Int(id) != nil, !Files.exists(root + "/" + id),
               entry.hasPrefix(".old-") || FileManager.default.fileExists(atPath: path + "/manifest.json") {
                rename(path, root + "/" + id)
            } else {
                Files.remove(path)
            }
        }
    }

    /// Keeps the newest `keep` kept sets (confirmed or unproven) and the `live` one.
    /// Pending sets other than the live one never went live in clamd and go;
    /// so do unfinished directories without a manifest.
    public func prune(keep: Int, live: Int?) {
        var kept = 0
        recoverInterrupted()
        for id in Files.list(root).compactMap(Int.init).sorted(by: >) {
            if id == live { continue }
            if let manifest = manifest(id), manifest.status.isKept, kept < keep {
                kept += 1
                continue
            }
            Files.remove(directory(id))
        }
    }
}

/// Where a file of a new generation comes from.
public enum GenerationSource: Sendable, Equatable {
    /// A file sigctl alone writes (a download, an earlier kept set): hard-link it.
    case link(String)
    /// A file in the database directory: copy it.
    case copy(String)
}
