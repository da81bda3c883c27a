import Foundation

/// Time as sigctl sees it. Injected so that plans, back-offs and deadlines can be
/// tested without waiting.
public protocol Clock: Sendable {
    func now() -> Date
    /// Blocks the calling thread (never a task of the cooperative pool).
    func sleep(seconds: Double)
}

/// The wall clock; for tests, shifted by `SIGCTL_TEST_CLOCK_OFFSET` seconds (see `live`).
public struct SystemClock: Clock {
    let offset: TimeInterval
    public init(offset: TimeInterval = 0) { self.offset = offset }

    /// The test-only environment variable that moves sigctl's clock: a test steps past a
    /// back-off a mirror asked for instead of waiting for it in real time.
    public static let offsetKey = "SIGCTL_TEST_CLOCK_OFFSET"

    /// The wall clock, shifted when the environment asks for it.
    public static func live(environment: [String: String] = ProcessInfo.processInfo.environment) -> SystemClock {
        SystemClock(offset: environment[offsetKey].flatMap(TimeInterval.init).flatMap { $0.isFinite ? $0 : nil } ?? 0)
    }

    public func now() -> Date { Date().addingTimeInterval(offset) }
    public func sleep(seconds: Double) {
        guard seconds > 0 else { return }
        Thread.sleep(forTimeInterval: seconds)
    }
}
