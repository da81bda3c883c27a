import Foundation
import Synchronization

/// Hosts' back-off state and connection slots, shared by all fetch threads.
final class HostGate: Sendable {
    struct Inner {
        var backoffs: [String: HostBackoff]
    }
    let inner: Mutex<Inner>
    let limit: Int
    let clock: any Clock

    init(backoffs: [String: HostBackoff], limit: Int, clock: any Clock) {
        inner = Mutex(Inner(backoffs: backoffs))
        self.limit = limit
        self.clock = clock
    }

    func backoff(_ host: String) -> HostBackoff? {
        inner.withLock { state in
            guard let entry = state.backoffs[host], entry.until > clock.now() else { return nil }
            return entry
        }
    }

    /// Sends nothing more to `host` for `seconds`, because it answered `status` (or, for
    /// an rsync daemon, `reason`). Returns when the back-off ends.
    @discardableResult
    func backOff(_ host: String, status: Int, url: String, seconds: Int, reason: String? = nil) -> Date {
        let now = clock.now()
        let until = now.addingTimeInterval(TimeInterval(seconds))
        let entry = HostBackoff(until: until, status: status, since: now, url: Redact.url(url), reason: reason)
        inner.withLock { $0.backoffs[host] = entry }
        return until
    }

    var backoffs: [String: HostBackoff] { inner.withLock { $0.backoffs } }
}

/// Hands out job indices so that at most `limit` jobs per host run at once.
/// A job keeps its slot while it fails over to other mirrors.
final class JobQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var pending: [Int]
    private var active: [String: Int] = [:]
    private let hosts: [String]
    private let limit: Int

    init(hosts: [String], limit: Int) {
        self.hosts = hosts
        self.limit = limit
        pending = Array(hosts.indices)
    }

    /// The next job whose host has a free slot; waits while all are busy; nil when none are left.
    func take() -> Int? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if pending.isEmpty { return nil }
            if let position = pending.firstIndex(where: { active[hosts[$0], default: 0] < limit }) {
                let index = pending.remove(at: position)
                active[hosts[index], default: 0] += 1
                return index
            }
            condition.wait()
        }
    }

    func finish(_ index: Int) {
        condition.lock()
        active[hosts[index], default: 1] -= 1
        condition.broadcast()
        condition.unlock()
    }
}
