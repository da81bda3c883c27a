import Foundation

/// What sigctl knows about one file of a feed: the validators to send next
/// time and what is installed.
public struct FileState: Codable, Sendable {
    public var etag: String?
    public var lastModified: String?
    /// The mirror the validators came from; they are only sent back to it.
    public var mirror: String?
    public var sha256: String?
    public var size: Int64?
    /// Signatures counted in the installed version.
    public var signatures: Int?
    public var lastChange: Date?
    public var lastError: String?
    /// When this error was last printed for cron (repeats are held back for a day).
    public var lastErrorPrinted: Date?
}

public struct FeedState: Codable, Sendable {
    public var lastCheck: Date?
    public var lastChange: Date?
    public var lastError: String?
    public var lastErrorAt: Date?
    public var files: [String: FileState] = [:]
}

/// A host that told sigctl to go away (429/403); nothing is sent to it until `until`.
public struct HostBackoff: Codable, Sendable {
    public var until: Date
    public var status: Int
    public var since: Date
    public var url: String
}

/// A signature the admin allowed with `sigctl allow` (kept in sigctl-allow.ign2).
public struct AllowEntry: Codable, Sendable, Equatable {
    public var reason: String?
    public var by: String
    public var at: Date

    public init(reason: String?, by: String, at: Date) {
        self.reason = reason
        self.by = by
        self.at = at
    }
}

/// The set in the database directory.
public struct LiveSet: Codable, Sendable, Equatable {
    public var generation: Int
    public var canaryName: String
    public var installedAt: Date
    public var confirmed: Bool
    public var confirmedAt: Date?
    /// Signatures libclamav loaded from the whole directory when this set was verified.
    public var signatures: Int
    /// Files in the database directory that sigctl owns (feed files and the canary).
    public var owned: [String]
}

public struct State: Codable, Sendable {
    public var version = 1
    public var feeds: [String: FeedState] = [:]
    public var hosts: [String: HostBackoff] = [:]
    public var live: LiveSet?
    public var nextGeneration = 1
    /// Signatures allowed with `sigctl allow`, by name.
    public var allowed: [String: AllowEntry]?
    /// Official feeds whose mirror set a cool-down (from libfreshclam's freshclam.dat), until when.
    public var coolDowns: [String: Date]?
    public var lastRun: Date?
    public var lastResult: String?

    public init() {}

    public func backoff(forHost host: String, now: Date = Date()) -> HostBackoff? {
        guard let entry = hosts[host], entry.until > now else { return nil }
        return entry
    }
}

/// Reads and writes `state.json` in the state directory, atomically.
public struct StateStore: Sendable {
    public let directory: String
    public var path: String { directory + "/state.json" }

    public init(directory: String) { self.directory = directory }

    public func load() throws -> State {
        guard let data = FileManager.default.contents(atPath: path) else { return State() }
        do {
            return try JSONDecoder.sigctl.decode(State.self, from: data)
        } catch {
            throw CommandError("\(path) is damaged (\(error))",
                               hint: "move it aside; sigctl will rebuild it, re-download each feed once and adopt nothing it does not know it owns",
                               exit: .failed)
        }
    }

    public func save(_ state: State) throws {
        try Files.writeAtomically(try JSONEncoder.sigctl.encode(state), to: path, mode: 0o644)
    }
}

extension JSONEncoder {
    /// Sorted keys and ISO 8601 dates: stable files and stable `--json` output.
    public static var sigctl: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }
}

extension JSONDecoder {
    public static var sigctl: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
