import Foundation

/// `manifest.json` of a publish tree: one verified set, as the publisher installed it.
/// Written by `Publisher`, read by gateways' `kind = "sigctl"` feeds. Keys are snake_case
/// and times ISO 8601 with the zone, as in every sigctl JSON document.
public struct PublishManifest: Codable, Sendable, Equatable {
    public var schema = 1
    /// The publisher's set generation.
    public var generation: Int
    /// When this manifest was written; a gateway refuses one older than it has (a replay).
    public var publishedAt: Date
    public var publisher: String
    /// What the set was verified with on the publisher.
    public var verified: Verified
    public var files: [File]
    /// Each published feed's last check on the publisher: held-back updates travel with the set.
    public var feeds: [FeedVerdict]

    public struct Verified: Codable, Sendable, Equatable {
        public var libclamav: String
        /// The clamd.conf options the set was loaded with, by directive name.
        public var loadOptions: [String: Bool]
        /// Signatures libclamav loaded from the whole set.
        public var signatures: Int
        public var installedAt: Date
        public var confirmedByClamd: Bool
    }

    public struct File: Codable, Sendable, Equatable {
        public var name: String
        public var sha256: String
        public var size: Int64
        public var signatures: Int
        public var feed: String
        /// The upstream version: the CVD version, or the mirror's Last-Modified.
        public var version: String?
        /// Where the file is, relative to the manifest: `files/<sha256>/<name>`.
        public var path: String
    }

    public struct FeedVerdict: Codable, Sendable, Equatable {
        public var name: String
        public var lastSuccess: Date?
        /// Why the publisher holds this feed's newest upstream version back, if it does.
        public var heldBack: String?
    }

    /// This publication's name: generation and time. A rollback republishes an old
    /// generation number, and `--force` the same one, each under a new name.
    public var id: String { "\(generation)-\(Int64(publishedAt.timeIntervalSince1970))" }

    /// The path of a publication's manifest (and `.sig`) in the tree, written once and never changed.
    public static func archivedPath(_ id: String) -> String { "manifests/\(id).json" }
    public static let currentPath = "manifest.json"

    /// The path of a file's bytes in the tree: by content, so a file is never rewritten in place.
    public static func filePath(sha256: String, name: String) -> String { "files/\(sha256)/\(name)" }

    public static func decode(_ data: Data) throws -> PublishManifest {
        try JSONDecoder.output.decode(PublishManifest.self, from: data)
    }
}
