import Foundation

/// The validators a mirror sent with a file (ETag, Last-Modified). They are only
/// ever sent back to the mirror they came from.
public struct Validators: Codable, Sendable, Equatable {
    public var etag: String?
    public var lastModified: String?
    public init(etag: String?, lastModified: String?) {
        self.etag = etag
        self.lastModified = lastModified
    }
    public var isEmpty: Bool { etag == nil && lastModified == nil }
}

/// What `stat` said about an installed file. A file whose stamp changed is hashed
/// again before sigctl trusts it (edited or replaced by hand).
public struct FileStamp: Codable, Sendable, Equatable {
    public var inode: UInt64
    public var size: Int64
    public var mtime: Int64
    public var ctime: Int64
}

/// What sigctl knows about one file of a feed: the validators to send next
/// time and what is installed.
public struct FileState: Codable, Sendable {
    /// Validators per mirror (mirror URL → validators).
    public var validators: [String: Validators]?
    public var sha256: String?
    /// The md5 of the installed file, for feeds with md5 sidecars.
    public var md5: String?
    /// sha256 of the detached GPG signature the installed file came with.
    public var signatureDigest: String?
    public var size: Int64?
    /// Signatures counted in the installed version.
    public var signatures: Int?
    /// The installed file's stamp in the database directory.
    public var stamp: FileStamp?
    /// Last-Modified of the installed version: a mirror serving an older one is refused.
    public var installedLastModified: String?
    /// sha256 of the version upstream published last (what the validators describe).
    /// It differs from `sha256` after a rollback, which keeps an older version live.
    public var upstreamSHA256: String?
    /// The file was not fetched because a file sigctl does not own has its name.
    public var conflict: Bool?
    public var lastChange: Date?
    public var lastError: String?
    /// When this error was last printed for cron (repeats are held back for a day).
    public var lastErrorPrinted: Date?
    /// State files written before validators were kept per mirror.
    var etag: String?
    var lastModified: String?
    var mirror: String?

    public init() {}

    /// Validators are keyed by the mirror's redacted URL: no secret reaches state.json.
    public func validators(for mirror: String) -> Validators? {
        if let found = validators?[Redact.url(mirror)] { return found }
        if self.mirror == mirror, etag != nil || lastModified != nil { return Validators(etag: etag, lastModified: lastModified) }
        return nil
    }

    public mutating func setValidators(_ value: Validators?, for mirror: String) {
        var all = validators ?? [:]
        if let legacy = self.mirror, etag != nil || lastModified != nil, all[legacy] == nil {
            all[legacy] = Validators(etag: etag, lastModified: lastModified)
        }
        etag = nil
        lastModified = nil
        self.mirror = nil
        all[Redact.url(mirror)] = value.flatMap { $0.isEmpty ? nil : $0 }
        validators = all.isEmpty ? nil : all
    }

    /// Forget every mirror's validators (the installed file is not what they describe).
    public mutating func dropValidators() {
        validators = nil
        etag = nil
        lastModified = nil
        mirror = nil
    }
}

public struct FeedState: Codable, Sendable {
    /// A digest of the feed's configuration (mirrors, files, integrity) when it was last checked:
    /// a feed whose configuration changed is due at once.
    public var configDigest: String?
    public var lastCheck: Date?
    public var lastChange: Date?
    public var lastError: String?
    public var lastErrorAt: Date?
    /// The last check that ended without a problem.
    public var lastSuccess: Date?
    /// Problems recorded so far, by cause (see `ErrorCause`), for the metrics' counters.
    public var errorTotals: [String: Int]?
    public var files: [String: FileState] = [:]
    /// For `kind = "sigctl"` feeds: the publisher's manifest the installed files came from.
    public var publication: PublicationState?
}

/// The publisher's manifest a gateway installed, and how to ask for the next one.
public struct PublicationState: Codable, Sendable, Equatable {
    public var generation: Int
    public var publishedAt: Date
    public var publisher: String
    public var libclamav: String
    /// ETag and Last-Modified of manifest.json, per mirror, for the conditional GET.
    public var validators: [String: Validators]?
}

/// A host that told sigctl to go away (429/403); nothing is sent to it until `until`.
public struct HostBackoff: Codable, Sendable {
    public var until: Date
    /// The HTTP status that asked for it (429 also stands for rsync's "max connections reached").
    public var status: Int
    public var since: Date
    public var url: String
    /// What the host said, when it is not an HTTP status (rsync's daemon message).
    public var reason: String? = nil
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
    public var version = 2
    public var feeds: [String: FeedState] = [:]
    public var hosts: [String: HostBackoff] = [:]
    public var live: LiveSet?
    public var nextGeneration = 1
    /// Signatures allowed with `sigctl allow`, by name.
    public var allowed: [String: AllowEntry]?
    /// Official feeds whose mirror set a cool-down (from libfreshclam's freshclam.dat), until when.
    public var coolDowns: [String: Date]?
    public var lastRun: Date?
    /// Since when runs check only the changed files for lack of memory (said once, when it starts).
    public var memoryFallbackSince: Date?
    /// The last update run's exit code.
    public var lastExitCode: Int32?
    /// The last run that exited 0.
    public var lastSuccess: Date?
    /// How long clamd took to show the last set it confirmed.
    public var lastReloadSeconds: Double?
    /// Reloads clamd did not confirm, since the state began.
    public var reloadFailures: Int?

    public init() {}

    /// Validators from before they were kept per mirror move under the redacted mirror
    /// URL; back-offs lose any secret in their URL.
    mutating func migrateLegacyValidators() {
        for (feed, feedState) in feeds {
            for (name, file) in feedState.files where file.mirror != nil {
                var moved = file
                if let mirror = file.mirror { moved.setValidators(file.validators(for: mirror), for: mirror) }
                feeds[feed]?.files[name] = moved
            }
        }
        for (host, entry) in hosts { hosts[host]?.url = Redact.url(entry.url) }
    }

    public func backoff(forHost host: String, now: Date) -> HostBackoff? {
        guard let entry = hosts[host], entry.until > now else { return nil }
        return entry
    }
}

/// Reads and writes `state.json` in the state directory, atomically, mode 0600.
public struct StateStore: Sendable {
    public let directory: String
    public var path: String { directory + "/state.json" }

    public init(directory: String) { self.directory = directory }

    /// Why `state.json` could not be used.
    public enum LoadError: Error, CustomStringConvertible {
        case unreadable(path: String, code: Int32)
        case damaged(path: String, reason: String)
        public var description: String {
            switch self {
            case .unreadable(let path, let code): return "cannot read \(path): \(String(cString: strerror(code)))"
            case .damaged(let path, let reason): return "\(path) is damaged (\(reason))"
            }
        }
    }

    /// The state, or an empty one when there is no file yet.
    public func read() throws(LoadError) -> State {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return State() }
            throw .unreadable(path: path, code: errno)
        }
        close(fd)
        guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable(path: path, code: EIO) }
        if data.isEmpty { throw .damaged(path: path, reason: "the file is empty") }
        do {
            var state = try JSONDecoder.sigctl.decode(State.self, from: data)
            state.migrateLegacyValidators()
            return state
        } catch {
            throw .damaged(path: path, reason: "not the JSON sigctl wrote: \(String(describing: error).prefix(160))")
        }
    }

    /// For read-only commands: the state, or an error that says what to do.
    public func load() throws -> State {
        do {
            return try read()
        } catch .unreadable(let path, let code) {
            let hint = code == EACCES
                ? "it is readable only by the user that runs `sigctl update` (mode 0600); run this command as that user or as root"
                : "check the state directory \(directory)"
            throw CommandError("cannot read \(path): \(String(cString: strerror(code)))", hint: hint, exit: .failed)
        } catch .damaged(let path, let reason) {
            throw CommandError("\(path) is damaged (\(reason))",
                               hint: "the next `sigctl update` moves it aside and rebuilds it from the kept sets", exit: .failed)
        }
    }

    public func save(_ state: State) throws {
        try Files.writeAtomically(try JSONEncoder.sigctl.encode(state), to: path, mode: 0o600)
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

extension FileStamp {
    /// The stamp of the file at `path` (without following a symlink), or nil.
    public static func read(_ path: String) -> FileStamp? {
        var st = stat()
        guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return FileStamp(inode: UInt64(st.st_ino), size: Int64(st.st_size),
                         mtime: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec),
                         ctime: Int64(st.st_ctim.tv_sec) * 1_000_000_000 + Int64(st.st_ctim.tv_nsec))
    }
}

extension State {
    /// The feed and record of an installed file, from sigctl's records.
    public func record(of name: String) -> (feed: String, file: FileState)? {
        for (feed, feedState) in feeds.sorted(by: { $0.key < $1.key }) {
            if let file = feedState.files[name], file.sha256 != nil { return (feed, file) }
        }
        return nil
    }
}
