import Foundation

/// Which feed and file define a signature: looked up in the live set first, then in the
/// kept sets, newest first, so a signature a feed has since dropped still has its feed.
public struct SignatureOrigin: Sendable, Equatable {
    public var feed: String?
    public var file: String?
    public var risk: String?
    /// The installed set it was found in (nil: the live database directory).
    public var set: Int?
}

public enum HitAttribution {
    /// Origins of `signatures` (as logged: a trailing .UNOFFICIAL is ignored). Looks each
    /// name up through `explain`'s name indexes, so no database file is read whole.
    /// `liveFeeds`: file → feed of the live set (`FeedAttribution.map`), read once by the caller.
    static func origins(of signatures: Set<String>, config: Configuration, liveFeeds: [String: String]) -> [String: SignatureOrigin] {
        let layout = Layout(settings: config.settings)
        guard let scratch = try? Files.makeTemporaryDirectory(in: NSTemporaryDirectory(), prefix: "sigctl-hits-") else { return [:] }
        defer { Files.remove(scratch) }
        let state = try? StateStore(directory: config.settings.stateDir).load()
        let live = state?.live?.generation
        let kept = layout.generations.all().filter { $0.status.isKept && $0.id != live }
        var origins: [String: SignatureOrigin] = [:]
        for signature in signatures {
            // libclamav's own heuristics are in no database file.
            guard !signature.hasPrefix("Heuristics.") else { continue }
            let name = definedName(signature)
            let found = SignatureLookup.find(name, in: config.settings.databaseDir, indexDirectory: layout.nameIndexes, scratch: scratch)
            if let definition = found.first(where: { !$0.allowList }) {
                origins[signature] = origin(file: definition.file, feed: liveFeeds[definition.file], set: nil, config: config)
                continue
            }
            for set in kept {
                // Kept sets never change, so their indexes are built once and kept beside them.
                let directory = layout.generations.directory(set.id)
                let index = layout.nameIndexes + "/sets/\(set.id)"
                let found = SignatureLookup.find(name, in: directory, indexDirectory: index, scratch: scratch)
                if let definition = found.first(where: { !$0.allowList }) {
                    origins[signature] = origin(file: definition.file, feed: set.files[definition.file]?.feed, set: set.id, config: config)
                    break
                }
            }
        }
        pruneIndexes(layout: layout, keep: Set(kept.map(\.id)))
        return origins
    }

    private static func origin(file: String, feed: String?, set: Int?, config: Configuration) -> SignatureOrigin {
        let risk = feed.flatMap { config.feed(named: $0) }?.files.first { $0.name == file }?.risk.rawValue
        return SignatureOrigin(feed: feed, file: file, risk: risk, set: set)
    }

    /// Drops the indexes of sets no longer kept.
    private static func pruneIndexes(layout: Layout, keep: Set<Int>) {
        let root = layout.nameIndexes + "/sets"
        for entry in Files.list(root) where Int(entry).map({ !keep.contains($0) }) ?? false {
            Files.remove(root + "/" + entry)
        }
    }
}
