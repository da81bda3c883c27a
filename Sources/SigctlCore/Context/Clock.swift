import Foundation

/// Time as sigctl sees it. Injected so that plans, back-offs and deadlines can be
/// tested without waiting.
public protocol Clock: Sendable {
    func now() -> Date
    /// Blocks the calling thread (never a task of the cooperative pool).
    func sleep(seconds: Double)
}

/// The wall clock.
public struct SystemClock: Clock {
    public init() {}
    public func now() -> Date { Date() }
    public func sleep(seconds: Double) {
        guard seconds > 0 else { return }
        Thread.sleep(forTimeInterval: seconds)
    }
}
