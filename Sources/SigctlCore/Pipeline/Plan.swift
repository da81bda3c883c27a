import Foundation

/// What to do about one feed in this run.
public enum FeedDecision: Sendable {
    /// Not checked in this run, and why (interval, back-off, cool-down).
    case notDue(String)
    /// Fetch these files; `conflicts` are enabled files whose name a file sigctl does not own has taken.
    case fetch([FetchJob], conflicts: [String])
    /// Run libfreshclam for these databases.
    case official([String])
    /// Ask a publisher for its manifest (`kind = "sigctl"`).
    case publication(PublicationJob)
    /// Due, but it must not run (another updater owns the directory).
    case blocked(String)
}

/// What a `kind = "sigctl"` feed's source needs: what the feed has installed and
/// which names it may not take.
public struct PublicationJob: Sendable {
    /// The feed's owned files that are as installed, with what sigctl knows of them.
    public var installed: [String: FileState]
    /// Every file the feed owns now (the ones a new manifest drops are removed).
    public var owned: Set<String>
    /// Database files sigctl does not own: a manifest file of that name is a conflict.
    public var foreign: Set<String>
    /// Names other enabled feeds deliver (name → feed).
    public var taken: [String: String]
    /// The manifest installed last (nil: none yet): nothing older is accepted.
    public var publication: PublicationState?
    /// Send its validators: false when a file must come again (lost, or --force).
    public var conditional: Bool
    public var force: Bool
}

public struct FeedPlan: Sendable {
    public var feed: Feed
    public var decision: FeedDecision
    /// The digest of the feed's configuration: recorded once the feed was checked.
    public var digest: String
}

/// What happens to sigctl's allow list in this run.
public enum AllowListChange: Sendable, Equatable {
    case unchanged
    case write([String])
    case remove
}

/// The whole plan of one update run. Made by `Planner.plan`, a pure function of
/// the configuration, the state, the facts about the database directory and the
/// clock, so every decision in it can be tested without a network or clamd.
public struct UpdatePlan: Sendable {
    public var feeds: [FeedPlan] = []
    /// Owned files no enabled feed delivers any more (name → feed): removed from the set.
    public var drops: [String: String] = [:]
    /// Official databases sigctl stops managing (name → feed): left in place, disowned.
    public var handbacks: [String: String] = [:]
    /// Owned files edited or deleted by hand, restored from the live kept set (name → feed).
    public var repairs: [String: String] = [:]
    /// Owned files edited or deleted by hand with no good kept copy: fetched again (name → feed).
    public var refetch: [String: String] = [:]
    public var allowList: AllowListChange = .unchanged
    public var notes: [String] = []
}

public enum Planner {
    /// The plan for one run. Pure: reads nothing but its arguments.
    public static func plan(config: Configuration, state: State, facts: LiveFacts, options: UpdateOptions, now: Date) -> UpdatePlan {
        var plan = UpdatePlan()
        let owned = Set(state.live?.owned ?? []).subtracting([canaryFileName])

        for (name, condition) in facts.damaged.sorted(by: { $0.key < $1.key }) {
            let feed = state.record(of: name)?.feed ?? "unknown"
            let what = condition == .missing ? "was deleted" : "was changed"
            if facts.keptCopies[name] != nil {
                plan.repairs[name] = feed
                plan.notes.append("\(feed)/\(name) \(what) in \(config.settings.databaseDir) by hand; restoring it from set \(state.live?.generation ?? 0)")
            } else {
                plan.refetch[name] = feed
                plan.notes.append("\(feed)/\(name) \(what) in \(config.settings.databaseDir) by hand and the kept set has no good copy; fetching it again")
            }
        }

        let selected = options.feeds.isEmpty ? config.feeds.filter(\.enabled) : config.feeds.filter { options.feeds.contains($0.name) }
        if options.fetch {
            for feed in selected {
                plan.feeds.append(FeedPlan(feed: feed, decision: decide(feed, config: config, state: state, facts: facts, owned: owned,
                                                                      refetch: plan.refetch, repairs: Set(plan.repairs.keys),
                                                                      options: options, now: now),
                                           digest: digest(feed)))
            }
        }

        // What the enabled configuration wants in the set.
        var wanted: Set<String> = []
        for feed in config.feeds where feed.enabled && feed.official == nil { wanted.formUnion(feed.enabledFiles.map(\.name)) }
        // A publisher's files stay until one of its manifests drops them.
        for feed in config.feeds where feed.enabled && feed.publication { wanted.formUnion(state.feeds[feed.name]?.files.keys.map { $0 } ?? []) }
        let allowed = (state.allowed ?? [:]).keys.sorted()
        if !allowed.isEmpty { wanted.insert(allowListFileName) }
        for name in owned where !wanted.contains(name) && name != allowListFileName {
            let feed = state.record(of: name)?.feed ?? "unknown"
            if isOfficial(name, config: config) {
                // Never remove an official database sigctl took over: hand it back
                // when its feed (or database) is no longer enabled, or no longer configured at all.
                let official = officialFeed(of: name, config: config)
                let wantedStill = official.map { feed in
                    feed.enabled && officialDatabases(feed, config: config).contains { OfficialSettings.fileNames($0).contains(name) }
                } ?? false
                if !wantedStill { plan.handbacks[name] = official?.name ?? feed }
            } else {
                plan.drops[name] = feed
            }
        }
        plan.repairs = plan.repairs.filter { plan.drops[$0.key] == nil && plan.handbacks[$0.key] == nil }

        // sigctl's own allow list, from the entries in state.
        let installedAllow = owned.contains(allowListFileName) ? state.record(of: allowListFileName)?.file.sha256 : nil
        if allowed.isEmpty {
            if owned.contains(allowListFileName) { plan.allowList = .remove }
        } else if installedAllow != AllowList.digest(allowed) || plan.repairs[allowListFileName] != nil {
            plan.allowList = .write(allowed)
            plan.repairs[allowListFileName] = nil
        }
        return plan
    }

    static func decide(_ feed: Feed, config: Configuration, state: State, facts: LiveFacts, owned: Set<String>,
                       refetch: [String: String], repairs: Set<String>, options: UpdateOptions, now: Date) -> FeedDecision {
        let dueAtOnce = FeedSchedule.dueAtOnce(feed, state: state, present: facts.present, owned: owned,
                                               refetch: refetch.values.contains(feed.name))
        if options.feeds.isEmpty, !dueAtOnce, let next = FeedSchedule.intervalEnd(feed, state: state, now: now) {
            return .notDue("next check after \(Timestamp.text(next)) (interval \(DurationParser.format(feed.interval)))")
        }
        if feed.official != nil {
            if let until = FeedSchedule.coolDownEnd(feed, state: state, now: now) {
                return .notDue("the mirror put this client on cool-down until \(Timestamp.text(until)); no request goes out before then")
            }
            if let conflict = facts.freshclamConflict {
                return .blocked("\(conflict), and two updaters on one directory break sets; sigctl leaves the official files alone until you choose: stop and disable freshclam (systemctl disable --now clamav-freshclam) to let sigctl manage them, or set enabled = false in \(feed.source) to keep freshclam")
            }
            return .official(officialDatabases(feed, config: config))
        }
        if let waiting = FeedSchedule.mirrorsWaiting(feed, state: state, now: now) {
            return .notDue("every mirror asked sigctl to wait (\(waiting[0].reason ?? "HTTP \(waiting[0].status)")); next request after \(Timestamp.text(waiting[0].until))")
        }
        if feed.publication {
            return .publication(publicationJob(feed, config: config, state: state, facts: facts, owned: owned,
                                               repairs: repairs, force: options.force))
        }
        let feedState = state.feeds[feed.name]
        var jobs: [FetchJob] = []
        var conflicts: [String] = []
        for file in feed.enabledFiles {
            if !owned.contains(file.name) && facts.present.contains(file.name) {
                conflicts.append(file.name)
                continue
            }
            // Validators and digests describe the installed file: only worth sending when it is there as installed.
            var previous = feedState?.files[file.name]
            // A file restored from the kept set this run is as installed.
            let intact = owned.contains(file.name) && (facts.damaged[file.name] == nil || repairs.contains(file.name))
            if !intact {
                previous?.dropValidators()
                previous?.sha256 = nil
                previous?.upstreamSHA256 = nil
                previous?.md5 = nil
                previous?.signatureDigest = nil
                previous?.installedLastModified = nil
            }
            jobs.append(FetchJob(feed: feed, file: file, previous: previous, force: options.force))
        }
        return .fetch(jobs, conflicts: conflicts)
    }

    static func publicationJob(_ feed: Feed, config: Configuration, state: State, facts: LiveFacts, owned: Set<String>,
                               repairs: Set<String>, force: Bool) -> PublicationJob {
        let feedState = state.feeds[feed.name]
        let mine = Set(feedState?.files.keys.map { $0 } ?? []).intersection(owned)
        var installed: [String: FileState] = [:]
        for name in mine where facts.damaged[name] == nil || repairs.contains(name) {
            installed[name] = feedState?.files[name]
        }
        var taken: [String: String] = [:]
        for other in config.feeds where other.enabled && other.name != feed.name {
            for file in other.enabledFiles { taken[file.name] = other.name }
            for database in other.official?.databases ?? [] {
                for name in OfficialSettings.fileNames(database) { taken[name] = other.name }
            }
        }
        // A file lost from the directory must come again: no conditional request then.
        let intact = installed.count == mine.count
        return PublicationJob(installed: installed, owned: mine, foreign: facts.present.subtracting(owned), taken: taken,
                              publication: feedState?.publication, conditional: intact && !force, force: force)
    }

    /// An official database file: one an official feed lists, one of ClamAV's own names
    /// (main, daily, bytecode, …), or any CVD container. sigctl never removes such a file
    /// it took over; it hands it back. (Third-party feeds may not ship containers.)
    public static func isOfficial(_ name: String, config: Configuration) -> Bool {
        officialFeed(of: name, config: config) != nil || ContentChecks.isContainer(name)
    }

    /// The official feed whose databases include `name` (enabled or not).
    static func officialFeed(of name: String, config: Configuration) -> Feed? {
        config.feeds.first { feed in
            guard let official = feed.official else { return false }
            return official.database(of: name) != nil
        }
    }

    /// The configured databases, without bytecode when clamd.conf has Bytecode no.
    static func officialDatabases(_ feed: Feed, config: Configuration) -> [String] {
        (feed.official?.databases ?? []).filter { $0 != "bytecode" || config.clamd.loadOptions.bytecode }
    }

    /// Recorded for a disabled feed: whatever its digest when enabled again, it differs.
    static let disabledDigest = "disabled"

    /// A digest of what decides a feed's downloads: a change makes the feed due at once.
    public static func digest(_ feed: Feed) -> String {
        var parts = [feed.name, feed.integrity.rawValue, feed.gpgFingerprint ?? "", feed.mirrors.joined(separator: " "),
                     "silence=\(feed.maySilence) configure=\(feed.mayConfigure)"]
        for file in feed.enabledFiles { parts.append("\(file.name)|\(file.url ?? "")|\(file.gzip)") }
        if let official = feed.official {
            parts.append("official|\(official.databases.joined(separator: ","))|\(official.privateMirror)|\(official.dns ?? "")"
                         + (official.scriptedUpdates ? "" : "|whole"))
        }
        // FNV-1a, 64 bits: stable across runs and platforms.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in parts.joined(separator: "\n").utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return String(format: "%016llx", hash)
    }
}
