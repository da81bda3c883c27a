import Foundation

/// When a feed asks its mirrors: one set of rules for `update` (Planner.decide) and for
/// the "next check" of `status`, so the two cannot disagree.
public enum FeedSchedule {
    /// Due regardless of the interval: the feed's definition changed since its last
    /// check, a file must be fetched again, or an enabled file is not installed and did
    /// not fail its last check (newly enabled, re-enabled, or no longer in the way of a
    /// file sigctl does not own).
    static func dueAtOnce(_ feed: Feed, state: State, present: Set<String>, owned: Set<String>, refetch: Bool) -> Bool {
        let feedState = state.feeds[feed.name]
        if feedState?.configDigest != nil && feedState?.configDigest != Planner.digest(feed) { return true }
        if refetch { return true }
        return feed.official == nil && feed.enabledFiles.contains { file in
            guard !owned.contains(file.name) else { return false }
            let record = feedState?.files[file.name]
            return record?.lastError == nil || (record?.conflict == true && !present.contains(file.name))
        }
    }

    /// The end of the interval that started at the last check, while it runs.
    static func intervalEnd(_ feed: Feed, state: State, now: Date) -> Date? {
        guard let last = state.feeds[feed.name]?.lastCheck else { return nil }
        let end = last.addingTimeInterval(TimeInterval(feed.interval))
        return end > now ? end : nil
    }

    /// The official feed's cool-down end, while it runs.
    static func coolDownEnd(_ feed: Feed, state: State, now: Date) -> Date? {
        guard feed.official != nil, let until = state.coolDowns?[feed.name], until > now else { return nil }
        return until
    }

    /// The back-offs, when every mirror of a feed without per-file URLs asked sigctl to
    /// wait (the earliest end first); nil while one mirror may still be asked.
    static func mirrorsWaiting(_ feed: Feed, state: State, now: Date) -> [HostBackoff]? {
        guard feed.official == nil, feed.files.allSatisfy({ $0.url == nil }) else { return nil }
        let hosts = feed.usedMirrors.map(Fetcher.host(of:))
        let waiting = hosts.compactMap { state.backoff(forHost: $0, now: now) }
        guard !hosts.isEmpty, waiting.count == hosts.count else { return nil }
        return waiting.sorted { $0.until < $1.until }
    }

    /// When the next `update` run will ask a mirror for `feed` (now when it is due).
    public static func nextCheck(_ feed: Feed, state: State, present: Set<String>, now: Date) -> Date {
        let owned = Set(state.live?.owned ?? []).subtracting([canaryFileName])
        var next = now
        if !dueAtOnce(feed, state: state, present: present, owned: owned, refetch: false),
           let end = intervalEnd(feed, state: state, now: now) {
            next = end
        }
        if let until = coolDownEnd(feed, state: state, now: now) { next = max(next, until) }
        if let first = mirrorsWaiting(feed, state: state, now: now)?.first { next = max(next, first.until) }
        return next
    }
}
