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
/// is done, and drops a RELOAD that arrives while a reload runs. A second RELOAD that
/// lands after clamd switched engines starts another full load (and doubles its memory
/// again), so sigctl sends one more only when clamd cannot still be loading: after
/// twice the time a load of this set takes (`expectedLoad`, measured by the
/// verification child), right after a scan that still shows an older canary, and only
/// if a whole load still fits before the deadline. A RELOAD that clamd dropped because
/// another reload (freshclam's, SelfCheck's) was running is repaired that way.
///
/// The deadline is `reload_timeout`, or four loads of the set when that is longer:
/// it bounds the whole proof, the RELOAD command, every scan and the waits between them.
public struct ReloadProver: Sendable {
    public let clamd: any ClamdService
    public let clock: any Clock
    public let timeout: Double
    /// How long a load and compile of this set takes on this host, in seconds (0: unknown).
    public let expectedLoad: Double
    public var pollInterval: Double = 0.1
    let failpoints: Failpoints

    public init(clamd: any ClamdService, clock: any Clock, timeout: Double, expectedLoad: Double = 0,
                failpoints: Failpoints = .none) {
        self.clamd = clamd
        self.clock = clock
        self.timeout = timeout
        self.expectedLoad = max(0, expectedLoad)
        self.failpoints = failpoints
    }

    /// The whole proof's limit: `reload_timeout`, or four loads of the set when longer.
    public var deadline: Double { max(timeout, 4 * expectedLoad) }

    /// When one more RELOAD may be sent: clamd has had time to finish any reload it was
    /// running when the first one arrived.
    public var resendAfter: Double { 2 * expectedLoad + min(2, timeout / 3) }

    /// Checks whether clamd already serves `canary`, without reloading.
    public func serves(_ canary: Canary, within seconds: Double = 10) throws -> Bool {
        guard let verdict = try clamd.scan(canary.probe, deadline: clock.now().addingTimeInterval(seconds)) else { return false }
        return canary.matches(verdict)
    }

    public func reloadAndProve(_ canary: Canary, log: Log? = nil) throws -> ReloadOutcome {
        let start = clock.now()
        do {
            let answer = try clamd.reload(deadline: start.addingTimeInterval(deadline))
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
        let limit = deadline
        let end = start.addingTimeInterval(limit)
        var resent = !resend
        var lastVerdict = "no answer yet"
        var answered = false
        var delay = pollInterval
        while true {
            var showsOther = false
            do {
                let verdict = try clamd.scan(canary.probe, deadline: end)
                answered = true
                if let verdict, canary.matches(verdict) { return .confirmed(seconds: clock.now().timeIntervalSince(start)) }
                showsOther = true
                lastVerdict = verdict.map { "clamd reported \($0)" } ?? "clamd reported the canary clean"
            } catch {
                // A scan cut off at the deadline says less than the last answer clamd gave.
                if !answered { lastVerdict = "\(error)" }
            }
            let elapsed = clock.now().timeIntervalSince(start)
            if elapsed >= limit {
                // A clamd that never answered a single scan is not one that refused the set.
                return answered ? .notConfirmed(lastVerdict: lastVerdict) : .unreachable(lastVerdict)
            }
            if !resent && showsOther && elapsed >= resendAfter && limit - elapsed >= expectedLoad {
                resent = true
                log?.info("clamd still shows an older set after \(Int(elapsed)) s, twice what loading this set takes; its RELOAD was probably dropped during another reload, so sigctl sends one more")
                _ = try? clamd.reload(deadline: end)
            }
            clock.sleep(seconds: min(delay, max(0.05, limit - elapsed)))
            delay = min(delay * 1.5, 2.0)
        }
    }
}
