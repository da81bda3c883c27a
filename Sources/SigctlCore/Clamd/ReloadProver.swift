import Foundation

/// The outcome of asking clamd to load a set and checking that it did.
public enum ReloadOutcome: Sendable, Equatable {
    /// clamd reported the expected canary.
    case confirmed(seconds: Double)
    /// clamd could not be reached, or accepted the connection and never answered.
    case unreachable(String)
    /// clamd answered but never reported the expected canary before the deadline.
    case notConfirmed(lastVerdict: String)
    /// sigctl is configured with clamd = "none".
    case skipped
}

/// Sends RELOAD and then scans the canary until clamd reports it.
///
/// clamd answers RELOAD at once, reloads in the background, says nothing when it
/// is done, and drops a RELOAD that arrives while a reload runs. So sigctl polls
/// with INSTREAM, and sends RELOAD a second time (once) if the canary has not
/// appeared after a third of the allowed time. `timeout` bounds the whole proof:
/// the RELOAD command, every scan, and the waits between them.
public struct ReloadProver: Sendable {
    public let clamd: any ClamdService
    public let clock: any Clock
    public let timeout: Double
    public var pollInterval: Double = 0.1
    let failpoints: Failpoints

    public init(clamd: any ClamdService, clock: any Clock, timeout: Double, failpoints: Failpoints = .none) {
        self.clamd = clamd
        self.clock = clock
        self.timeout = timeout
        self.failpoints = failpoints
    }

    /// Checks whether clamd already serves `canary`, without reloading.
    public func serves(_ canary: Canary, within seconds: Double = 10) throws -> Bool {
        guard let verdict = try clamd.scan(canary.probe, deadline: clock.now().addingTimeInterval(seconds)) else { return false }
        return canary.matches(verdict)
    }

    public func reloadAndProve(_ canary: Canary, log: Log? = nil) throws -> ReloadOutcome {
        let start = clock.now()
        let deadline = start.addingTimeInterval(timeout)
        do {
            let answer = try clamd.reload(deadline: deadline)
            log?.debug("clamd answered RELOAD with \"\(answer)\"")
        } catch let error as ClamdError {
            return .unreachable(error.message)
        } catch {
            return .unreachable("\(error)")
        }
        try failpoints.reach("reload.sent")
        return prove(canary, start: start, resend: true, log: log)
    }

    /// Polls until clamd reports `canary` or the time runs out.
    public func prove(_ canary: Canary, start: Date, resend: Bool, log: Log? = nil) -> ReloadOutcome {
        let deadline = start.addingTimeInterval(timeout)
        var resent = !resend
        var lastVerdict = "no answer yet"
        var answered = false
        var delay = pollInterval
        while true {
            do {
                let verdict = try clamd.scan(canary.probe, deadline: deadline)
                answered = true
                if let verdict, canary.matches(verdict) { return .confirmed(seconds: clock.now().timeIntervalSince(start)) }
                lastVerdict = verdict.map { "clamd reported \($0)" } ?? "clamd reported the canary clean"
            } catch {
                // A scan cut off at the deadline says less than the last answer clamd gave.
                if !answered { lastVerdict = "\(error)" }
            }
            let elapsed = clock.now().timeIntervalSince(start)
            if elapsed >= timeout {
                // A clamd that never answered a single scan is not one that refused the set.
                return answered ? .notConfirmed(lastVerdict: lastVerdict) : .unreachable(lastVerdict)
            }
            if !resent && elapsed >= timeout / 3 {
                resent = true
                log?.info("clamd does not show the new canary yet; sending RELOAD once more")
                _ = try? clamd.reload(deadline: deadline)
            }
            clock.sleep(seconds: min(delay, max(0.05, timeout - elapsed)))
            delay = min(delay * 1.5, 2.0)
        }
    }
}
