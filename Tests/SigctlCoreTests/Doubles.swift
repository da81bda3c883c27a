import Foundation
@testable import SigctlCore

/// A clock that only moves when something sleeps on it.
final class ManualClock: Clock, @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date
    init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) { current = start }
    func now() -> Date { lock.lock(); defer { lock.unlock() }; return current }
    func sleep(seconds: Double) { advance(seconds) }
    func advance(_ seconds: Double) { lock.lock(); current += seconds; lock.unlock() }
}

/// A clamd double. Every answer is scripted; a call nobody scripted fails the test
/// loudly instead of passing by accident (fail-closed).
final class ScriptedClamd: ClamdService, @unchecked Sendable {
    enum Answer { case verdict(String?), error(ClamdError), hang(seconds: Double) }
    let address = ClamdAddress.unix("/nonexistent/scripted.sock")
    let clock: ManualClock
    private let lock = NSLock()
    var reloads: [Result<String, ClamdError>] = []
    var scans: [Answer] = []
    private(set) var reloadCalls = 0
    private(set) var scanCalls = 0
    /// Runs after each RELOAD is counted.
    var onReload: (() -> Void)?

    init(clock: ManualClock) { self.clock = clock }

    func reload(deadline: Date) throws -> String {
        lock.lock(); defer { lock.unlock() }
        reloadCalls += 1
        onReload?()
        guard !reloads.isEmpty else { fatalError("ScriptedClamd: unexpected RELOAD") }
        return try reloads.removeFirst().get()
    }

    func scan(_ data: Data, deadline: Date) throws -> String? {
        lock.lock()
        scanCalls += 1
        guard !scans.isEmpty else { lock.unlock(); fatalError("ScriptedClamd: unexpected INSTREAM") }
        let answer = scans.count == 1 ? scans[0] : scans.removeFirst()
        lock.unlock()
        switch answer {
        case .verdict(let name): return name
        case .error(let error): throw error
        case .hang(let seconds):
            // A clamd that accepts and never answers: the client gives up at the deadline.
            clock.advance(min(seconds, max(0, deadline.timeIntervalSince(clock.now()))))
            throw ClamdError(kind: .timeout, message: "clamd accepted the connection but did not answer in time")
        }
    }

    func version(deadline: Date) throws -> String { fatalError("ScriptedClamd: unexpected VERSION") }
}

/// A process runner that must not be used: stages under test run no children.
struct NoChildren: ProcessRunner {
    func run(_ executable: String, _ arguments: [String], environment: [String: String], timeout: Int, scratch: String) throws -> ChildResult {
        fatalError("NoChildren: unexpected child \(executable) \(arguments.first ?? "")")
    }
}

extension Configuration {
    /// A configuration built in memory, for the pure stages.
    static func make(feeds: [Feed], stateDir: String = "/nonexistent/state", databaseDir: String = "/nonexistent/db") -> Configuration {
        var settings = Settings(configDir: "/nonexistent/etc")
        settings.stateDir = stateDir
        settings.databaseDir = databaseDir
        return Configuration(settings: settings, feeds: feeds, clamd: ClamdConf(path: "/nonexistent/clamd.conf"), warnings: [])
    }
}

extension Feed {
    static func files(_ name: String, _ files: [String], interval: Int = 3600, integrity: Integrity = .sha256,
                      mirrors: [String] = ["https://a.example/f/", "https://b.example/f/"]) -> Feed {
        var feed = Feed(name: name, source: "/etc/sigctl/feeds.d/\(name).toml")
        feed.mirrors = mirrors
        feed.interval = interval
        feed.integrity = integrity
        feed.files = files.map { FeedFile(name: $0) }
        return feed
    }

    static func official(enabled: Bool = true) -> Feed {
        var feed = Feed(name: "clamav", source: "/etc/sigctl/feeds.d/clamav.toml")
        feed.enabled = enabled
        feed.mirrors = ["https://database.clamav.net"]
        feed.official = OfficialSettings()
        return feed
    }
}

extension State {
    /// A state with `files` (name → feed) installed as set `generation`.
    static func installed(_ files: [String: String], generation: Int = 4, confirmed: Bool = true) -> State {
        var state = State()
        for (name, feed) in files {
            var record = FileState()
            record.sha256 = String(repeating: "a", count: 64)
            record.size = 10
            record.signatures = 2
            record.setValidators(Validators(etag: "\"e-\(name)\"", lastModified: nil), for: "https://a.example/f/")
            state.feeds[feed, default: FeedState()].files[name] = record
            state.feeds[feed, default: FeedState()].lastCheck = Date(timeIntervalSince1970: 1_800_000_000 - 60)
        }
        state.live = LiveSet(generation: generation, canaryName: "Sigctl.Canary.G\(generation).x", installedAt: Date(),
                             confirmed: confirmed, confirmedAt: nil, signatures: 20, owned: (Array(files.keys) + [canaryFileName]).sorted())
        state.nextGeneration = generation + 1
        return state
    }
}
