import Foundation

public enum ItemStatus: String, Codable, Sendable {
    case updated, unchanged, not_due, failed, rejected, removed
    /// An official database sigctl stopped managing: left in place for freshclam.
    case handed_back

    /// Precedence when summing up a feed: the worst file decides.
    var weight: Int {
        switch self {
        case .failed: return 5
        case .rejected: return 4
        case .updated, .removed, .handed_back: return 3
        case .unchanged: return 2
        case .not_due: return 1
        }
    }
}

public struct FileReport: Codable, Sendable {
    public var name: String
    public var status: ItemStatus
    /// Signatures counted in the file (non-comment lines, or the CVD header's count).
    public var signatures: Int?
    /// Signatures libclamav loaded from the new file, when it was verified.
    public var loadedSignatures: Int?
    public var previousSignatures: Int?
    public var size: Int64?
    public var mirror: String?
    public var message: String?
}

/// One problem of a feed: files that failed or were rejected for the same cause.
public struct ProblemReport: Codable, Sendable, Equatable {
    public var status: ItemStatus
    public var files: [String]
    public var message: String
    /// The same problem was already printed in the last day: unattended runs keep quiet about it.
    /// Internal to one run: not part of the JSON schema.
    public var repeated: Bool? = nil

    enum CodingKeys: String, CodingKey { case status, files, message }
}

public struct FeedReport: Codable, Sendable {
    public var name: String
    public var status: ItemStatus
    public var message: String?
    public var files: [FileReport]
    /// Failed and rejected files grouped by cause: one entry per cause, not one per file.
    public var problems: [ProblemReport] = []
}

/// What an update changes on the detect corpus, per feed.
public struct CorpusDelta: Codable, Sendable, Equatable {
    public var newlyDetected = 0
    public var noLongerDetected = 0
    public init() {}
}

/// What happened to the reload, with stable raw values in JSON.
public enum ReloadResult: String, Codable, Sendable {
    case confirmed, unreachable, not_confirmed, rolled_back, skipped, not_needed
    /// clamd did not confirm: exit status 3.
    public var failed: Bool { self == .unreachable || self == .not_confirmed || self == .rolled_back }
}

public struct ReloadReport: Codable, Sendable {
    public var result: ReloadResult
    public var seconds: Double?
    public var canary: String?
    public var message: String?

    public init(result: ReloadResult, seconds: Double? = nil, canary: String? = nil, message: String? = nil) {
        self.result = result
        self.seconds = seconds
        self.canary = canary
        self.message = message
    }

    /// The report of a proof. `unreachableNote` says what becomes of the installed set
    /// when clamd cannot be reached.
    public init(_ proof: Proof, canary: String?, timeout: Int, unreachableNote: String) {
        switch proof {
        case .confirmed(let seconds):
            self.init(result: .confirmed, seconds: seconds, canary: canary)
        case .skipped:
            self.init(result: .skipped, canary: canary, message: "clamd = \"none\": no reload sent")
        case .unreachable(let message):
            self.init(result: .unreachable, canary: canary, message: "\(message); \(unreachableNote)")
        case .notShown(let last):
            self.init(result: .not_confirmed, canary: canary,
                      message: "clamd answered but did not show the new canary within \(timeout)s (\(last))")
        }
    }

    public var failed: Bool { result.failed }
}

/// Everything one `sigctl update` did; `--json` prints it as is.
public struct UpdateReport: Codable, Sendable {
    public var feeds: [FeedReport] = []
    public var installed = false
    public var generation: Int?
    public var signatures: Int?
    public var reload = ReloadReport(result: .not_needed)
    public var exitCode: Int32 = 0
    /// Seconds spent in each phase: fetch (wall time, checks included), check (integrity and
    /// content checks summed over the fetch threads), verify, install, reload (until confirmed),
    /// index (explain's name index, after clamd confirmed).
    public var phases: [String: Double] = [:]
    /// The verification child's load of the set that was installed (or refused).
    public var verification: VerificationSummary?
    /// Why this run checked only the changed files plus the canary instead of the whole set
    /// (the memory budget); nil when the whole set was checked.
    public var memoryFallback: String?
    /// What comparing ham_corpus and detect_corpus cost the corpus child, when it ran.
    public var corpora: CorpusSummary?
    public var warnings: [String] = []
    /// Per feed: messages of detect_corpus the update newly detects / no longer detects.
    public var detectCorpus: [String: CorpusDelta]?
    /// Problems found while reading the configuration (unknown keys and the like).
    public var configWarnings: [String] = []
    public var errors: [String] = []
    /// The generation this run published into publish_dir (nil: nothing published).
    public var published: Int?
    /// Repairs made on the way (a state file rebuilt, an install finished, a hand-edited file restored).
    public var notes: [String] = []

    public init() {}
}

/// What loading the candidate set cost the verification child.
public struct VerificationSummary: Codable, Sendable {
    public var signatures: Int
    public var loadSeconds: Double
    public var compileSeconds: Double
    /// Peak resident memory of the child, in MiB.
    public var peakRssMib: Int

    init(_ report: VerifyReport) {
        signatures = report.signatures
        loadSeconds = report.loadSeconds
        compileSeconds = report.compileSeconds
        peakRssMib = report.peakRSSKiB >> 10
    }
}

/// What the corpus child did: how the sets were compared and what it cost.
public struct CorpusSummary: Codable, Sendable {
    /// "delta" when every corpus was compared by delta, else "whole".
    public var mode: String
    public var messages: Int
    /// Messages the small engines picked for the whole sets.
    public var flagged: Int
    public var changedNames: Int
    public var deltaLines: Int
    public var wholeLoads: Int
    public var seconds: Double
    public var peakRssMib: Int

    init(_ report: CorpusScanReport) {
        mode = report.corpora.allSatisfy { $0.mode == "delta" } ? "delta" : "whole"
        messages = report.corpora.map(\.messages).reduce(0, +)
        flagged = report.corpora.map(\.flagged).reduce(0, +)
        changedNames = report.changedNames
        deltaLines = report.deltaLines
        wholeLoads = report.wholeLoads
        seconds = report.seconds
        peakRssMib = report.peakRSSKiB >> 10
    }
}
