import Foundation

/// The outcome of asking clamd to load a set and checking that it did.
public enum ReloadOutcome: Sendable, Equatable {
    /// clamd reported the expected canary.
    case confirmed(seconds: Double)
    /// clamd could not be reached at all.
    case unreachable(String)
    /// clamd answered but never reported the expected canary before the deadline.
    case notConfirmed(lastVerdict: String)
    /// sigctl is configured with clamd = "none".
    case skipped
}

/// Sends RELOAD and then scans the canary blob until clamd reports the new canary.
///
/// clamd answers RELOAD at once, reloads in the background, says nothing when it
/// is done, and drops a RELOAD that arrives while a reload runs. So sigctl polls
/// with INSTREAM, and sends RELOAD a second time (once) if the canary has not
/// appeared after a third of the allowed time.
public struct ReloadProver: Sendable {
    public let client: ClamdClient
    public let timeout: Double
    public var pollInterval: Double = 0.1

    public init(client: ClamdClient, timeout: Double) {
        self.client = client
        self.timeout = timeout
    }

    /// Checks whether clamd already serves `canary`, without reloading.
    public func serves(_ canary: Canary) throws -> Bool {
        guard let verdict = try client.scan(canary.blob) else { return false }
        return canary.matches(verdict)
    }

    public func reloadAndProve(_ canary: Canary, log: Log? = nil) -> ReloadOutcome {
        let start = Date()
        do {
            let answer = try client.reload()
            log?.debug("clamd answered RELOAD with \"\(answer)\"")
        } catch let error as ClamdError where error.kind == .unreachable {
            return .unreachable(error.message)
        } catch {
            return .unreachable("\(error)")
        }
        return prove(canary, start: start, resend: true, log: log)
    }

    /// Polls until clamd reports `canary` or the time runs out.
    public func prove(_ canary: Canary, start: Date = Date(), resend: Bool, log: Log? = nil) -> ReloadOutcome {
        var resent = !resend
        var lastVerdict = "no answer yet"
        var delay = pollInterval
        while true {
            let elapsed = Date().timeIntervalSince(start)
            do {
                let verdict = try client.scan(canary.blob)
                if let verdict, canary.matches(verdict) { return .confirmed(seconds: elapsed) }
                lastVerdict = verdict.map { "clamd reported \($0)" } ?? "clamd reported the canary clean"
            } catch {
                lastVerdict = "\(error)"
            }
            if elapsed >= timeout { return .notConfirmed(lastVerdict: lastVerdict) }
            if !resent && elapsed >= timeout / 3 {
                resent = true
                log?.info("clamd does not show the new canary yet; sending RELOAD once more")
                _ = try? client.reload()
            }
            Thread.sleep(forTimeInterval: min(delay, max(0.05, timeout - elapsed)))
            delay = min(delay * 1.5, 2.0)
        }
    }
}
