import Foundation

/// clamd as the pipeline uses it. `ClamdClient` is the real one; tests inject doubles.
public protocol ClamdService: Sendable {
    var address: ClamdAddress { get }
    /// RELOAD; clamd answers at once and reloads in the background.
    func reload(deadline: Date) throws -> String
    /// INSTREAM: nil when clean, else the reported signature name.
    func scan(_ data: Data, deadline: Date) throws -> String?
    func version(deadline: Date) throws -> String
}

/// Everything a command needs from the world outside its own logic: time, the log,
/// child processes, clamd, failpoints, and the path of sigctl's own binary (for its
/// children). Commands get one value of it and pass it down; nothing reaches for
/// globals, so every stage can run against doubles.
public struct SigctlContext: Sendable {
    public var clock: any Clock
    public var log: Log
    public var runner: any ProcessRunner
    /// Makes the clamd client for an address (the configured socket).
    public var clamd: @Sendable (ClamdAddress) -> any ClamdService
    public var failpoints: Failpoints
    /// The sigctl binary the verification and libfreshclam children run.
    public var executable: String
    /// What the host has to spare and clamd's resident memory (for the memory budget).
    public var hostMemory: @Sendable (ClamdAddress?) -> HostMemory

    public init(clock: any Clock, log: Log, runner: any ProcessRunner,
                clamd: @escaping @Sendable (ClamdAddress) -> any ClamdService,
                failpoints: Failpoints, executable: String,
                hostMemory: @escaping @Sendable (ClamdAddress?) -> HostMemory = { HostMemory.read(clamd: $0) }) {
        self.hostMemory = hostMemory
        self.clock = clock
        self.log = log
        self.runner = runner
        self.clamd = clamd
        self.failpoints = failpoints
        self.executable = executable
    }

    /// The real world: wall clock, posix_spawn, clamd's socket; failpoints and a clock
    /// offset from the environment, for tests.
    public static func live(log: Log, executable: String = SetVerifier.currentExecutable) -> SigctlContext {
        SigctlContext(clock: SystemClock.live(), log: log, runner: SpawnRunner(),
                      clamd: { ClamdClient(address: $0) }, failpoints: Failpoints(), executable: executable)
    }

    public func reach(_ point: String) throws { try failpoints.reach(point) }
}
