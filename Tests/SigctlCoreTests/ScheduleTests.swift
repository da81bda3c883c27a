import Foundation
import Testing
@testable import SigctlCore

/// `status`'s "next check" and the planner's decision come from one rule
/// (FeedSchedule): a feed the planner leaves alone shows a next check in the future,
/// a feed it fetches shows now.
@Suite struct ScheduleTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    /// The planner's decision for `feed`, and the next check status would show.
    func both(_ feed: Feed, _ state: State, present: Set<String>) -> (due: Bool, next: Date) {
        var facts = LiveFacts()
        facts.present = present
        let plan = Planner.plan(config: .make(feeds: [feed]), state: state, facts: facts, options: UpdateOptions(), now: now)
        let due: Bool
        switch plan.feeds.first?.decision {
        case .notDue?: due = false
        default: due = true
        }
        return (due, FeedSchedule.nextCheck(feed, state: state, present: present, now: now))
    }

    func checked(_ feed: Feed, minutesAgo: Double, files: [String: String] = ["a.ndb": "f"]) -> State {
        var state = State.installed(files)
        state.feeds[feed.name]?.configDigest = Planner.digest(feed)
        state.feeds[feed.name]?.lastCheck = now.addingTimeInterval(-minutesAgo * 60)
        return state
    }

    @Test func withinTheIntervalBothWaitForItsEnd() {
        let feed = Feed.files("f", ["a.ndb"])
        let result = both(feed, checked(feed, minutesAgo: 10), present: ["a.ndb"])
        #expect(!result.due && result.next == now.addingTimeInterval(50 * 60))
    }

    @Test func aChangedDefinitionOrANewFileIsDueNowWhateverTheInterval() {
        var feed = Feed.files("f", ["a.ndb"])
        let state = checked(feed, minutesAgo: 10)
        feed.maySilence = true
        var result = both(feed, state, present: ["a.ndb"])
        #expect(result.due && result.next == now)
        feed = Feed.files("f", ["a.ndb", "b.ndb"])
        var same = state
        same.feeds["f"]?.configDigest = Planner.digest(feed)
        result = both(feed, same, present: ["a.ndb"])
        #expect(result.due && result.next == now, "b.ndb is enabled and not installed")
    }

    @Test func whenEveryMirrorBacksOffBothWaitForTheEarliestEnd() {
        let feed = Feed.files("f", ["a.ndb"])
        var state = checked(feed, minutesAgo: 120)
        let ends = [now.addingTimeInterval(7200), now.addingTimeInterval(3600)]
        for (host, end) in zip(["a.example:443", "b.example:443"], ends) {
            state.hosts[host] = HostBackoff(until: end, status: 429, since: now, url: "https://\(host.dropLast(4))/f/a.ndb")
        }
        var result = both(feed, state, present: ["a.ndb"])
        #expect(!result.due && result.next == ends[1])
        // One mirror free: the feed is asked now, over that mirror.
        state.hosts["a.example:443"] = nil
        result = both(feed, state, present: ["a.ndb"])
        #expect(result.due && result.next == now)
    }

    @Test func theOfficialFeedWaitsForItsCoolDown() {
        let feed = Feed.official()
        var state = checked(feed, minutesAgo: 120, files: [:])
        state.coolDowns = ["clamav": now.addingTimeInterval(86_400)]
        var result = both(feed, state, present: [])
        #expect(!result.due && result.next == now.addingTimeInterval(86_400))
        state.coolDowns = ["clamav": now.addingTimeInterval(-1)]
        result = both(feed, state, present: [])
        #expect(result.due && result.next == now)
    }
}
