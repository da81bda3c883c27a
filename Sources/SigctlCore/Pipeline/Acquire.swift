import Foundation

/// A file that passed its source's checks and waits to join a candidate set.
public struct StagedFile: Sendable {
    public enum Origin: Sendable, Equatable {
        /// Fetched from a mirror (or libfreshclam).
        case download
        /// Restored from the live kept set after a hand edit.
        case repair(generation: Int)
        /// Written by sigctl itself (the allow list).
        case local
    }
    public var feed: String
    public var name: String
    /// The staged copy, inside the state directory.
    public var path: String
    public var sha256: String
    public var size: Int64
    public var signatures: Int
    public var origin: Origin = .download
    public var mirror: String?
    public var validators: Validators?
    public var md5: String?
    public var signatureDigest: String?
    /// sigctl takes this file over from another updater (an official database from freshclam).
    public var adopting = false

    public init(feed: String, name: String, path: String, sha256: String, size: Int64, signatures: Int) {
        self.feed = feed
        self.name = name
        self.path = path
        self.sha256 = sha256
        self.size = size
        self.signatures = signatures
    }
}

/// What became of one file in this run's acquisition.
public enum FileOutcome: Sendable {
    /// The installed version is current (304, or the sidecar matched).
    case unchanged(mirror: String?)
    /// Same bytes as installed under new validators: remember them, install nothing.
    case refreshed(mirror: String, Validators)
    case staged(StagedFile)
    /// No mirror could deliver it (network, HTTP errors): the next run retries.
    case failed(String)
    /// A mirror delivered it but it failed a check: it waits for the feed's interval.
    case rejected(String)
    /// Every host asked sigctl to wait: not an error.
    case deferred(String)
    /// Not fetched: a file sigctl does not own has this name. Due again once it is gone.
    case conflict(String)
}

public struct FileResult: Sendable {
    public var name: String
    public var outcome: FileOutcome
}

/// One feed's acquisition.
public struct FeedAcquisition: Sendable {
    public var feed: String
    public var files: [FileResult] = []
    /// Live files the update replaces under another name (daily.cvd → daily.cld).
    public var replaced: [String] = []
    /// Set for official feeds: the mirror's cool-down after this run (nil: none).
    public var coolDown: Date?? = nil
    /// Owned files the feed no longer delivers (a publisher's manifest dropped them).
    public var dropped: [String] = []
    /// For `kind = "sigctl"` feeds: the manifest these files came from, recorded once they are live.
    public var publication: PublicationState?

    public init(feed: String) { self.feed = feed }

    /// A feed's acquisition that starts with the files it may not fetch: a file sigctl
    /// does not own has their name in the database directory.
    init(feed: String, conflicts: [String], databaseDir: String) {
        self.feed = feed
        files = conflicts.map { name in
            FileResult(name: name, outcome: .conflict(
                "\(databaseDir)/\(name) exists and was not installed by sigctl; sigctl never overwrites files it does not own (freshclam's or yours): remove or rename it, or disable this file in the feed"))
        }
    }
}

/// The acquisition stage's result.
public struct Acquisition: Sendable {
    public var feeds: [String: FeedAcquisition] = [:]
    /// Host back-offs after this run, when HTTP ran.
    public var backoffs: [String: HostBackoff]?
    public var fetchSeconds = 0.0
    public var checkSeconds = 0.0
    public init() {}
}

/// A transport that brings a feed's files into staging: HTTP mirrors, libfreshclam, …
/// Each source takes the feeds it handles, all at once (so it can share connections
/// and limits across feeds), and answers per feed and file. A new transport is one
/// new type that conforms to this.
public protocol FeedSource {
    func handles(_ feed: Feed) -> Bool
    func acquire(_ plans: [FeedPlan], state: State, into acquisition: inout Acquisition)
}

/// Runs every due feed through the source that handles it.
struct Acquirer {
    let sources: [any FeedSource]

    func run(_ plan: UpdatePlan, state: State) -> Acquisition {
        var acquisition = Acquisition()
        let due = plan.feeds.filter {
            if case .fetch = $0.decision { return true }
            if case .official = $0.decision { return true }
            if case .publication = $0.decision { return true }
            return false
        }
        for source in sources {
            let mine = due.filter { source.handles($0.feed) }
            if !mine.isEmpty { source.acquire(mine, state: state, into: &acquisition) }
        }
        return acquisition
    }
}
