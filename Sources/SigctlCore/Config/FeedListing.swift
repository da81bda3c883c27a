import Foundation

/// One configured feed as `sigctl feeds --json` prints it (mirrors redacted).
public struct FeedListing: Encodable, Sendable {
    public struct File: Encodable, Sendable {
        public var name: String
        public var risk: String
        public var enabled: Bool
        public var compressed: String?
        public var url: String?
    }

    public var name: String
    /// The feed's `kind`: "files", "official" or "sigctl".
    public var kind: String
    public var enabled: Bool
    public var interval: Int
    public var integrity: String?
    public var gpgFingerprint: String?
    /// The mirrors sigctl uses, in the order it tries them.
    public var mirrors: [String]
    /// "auto", "rsync" or "http"; null for official and publisher feeds.
    public var transport: String?
    /// Official feeds: the databases, the DNS name and whether the mirror is private.
    public var databases: [String]?
    public var dns: String?
    public var privateMirror: Bool?
    /// Official feeds: new versions patched from cdiffs (true) or downloaded whole (false).
    public var scriptedUpdates: Bool?
    public var maySilence: Bool
    public var mayConfigure: Bool
    public var files: [File]

    public init(_ feed: Feed) {
        name = feed.name
        kind = feed.official != nil ? "official" : feed.publication ? "sigctl" : "files"
        enabled = feed.enabled
        interval = feed.interval
        integrity = feed.official == nil ? feed.integrity.rawValue : nil
        gpgFingerprint = feed.gpgFingerprint
        mirrors = feed.usedMirrors.map(Redact.url)
        transport = feed.official == nil && !feed.publication ? feed.transport.rawValue : nil
        databases = feed.official?.databases
        dns = feed.official?.dns
        privateMirror = feed.official?.privateMirror
        scriptedUpdates = feed.official?.scriptedUpdates
        maySilence = feed.maySilence
        mayConfigure = feed.mayConfigure
        files = feed.files.map { File(name: $0.name, risk: $0.risk.rawValue, enabled: $0.enabled,
                                      compressed: $0.gzip ? "gzip" : nil, url: $0.url.map(Redact.url)) }
    }
}
