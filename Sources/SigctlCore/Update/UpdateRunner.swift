import Foundation

/// `sigctl update` (and `sigctl allow`): a pipeline of typed stages over one context.
///
///     plan → acquire → candidate → gates → activate → record → outcome
///
/// `plan`, `record` and `outcome` are pure functions; the others each do one kind
/// of work (sources fetch, the verification child checks, the activator installs
/// and proves) and hand a value to the next.
public struct UpdateRunner {
    let context: SigctlContext
    let config: Configuration
    let options: UpdateOptions
    var layout: Layout { Layout(settings: config.settings) }

    public init(context: SigctlContext, config: Configuration, options: UpdateOptions) {
        self.context = context
        self.config = config
        self.options = options
    }

    public func run() throws -> UpdateReport {
        try validate()
        // The random sleep comes before the lock, so `allow`, `rollback` and `reload`
        // never wait for an update that is only sleeping.
        if options.sleepSeconds > 0 {
            try context.reach("update.sleeping")
            context.log.info("waiting \(options.sleepSeconds)s before contacting mirrors (sleep setting)")
            context.clock.sleep(seconds: Double(options.sleepSeconds))
        }
        let lock = try RunLock(stateDir: config.settings.stateDir)
        defer { withExtendedLifetime(lock) {} }
        try context.reach("update.locked")

        let opened = try StateOpener(context: context, config: config).open()
        let state = try AllowChanges.apply(options, to: opened.state)
        let now = context.clock.now()
        let officialDue = config.feeds.contains { $0.official != nil && $0.enabled && (options.feeds.isEmpty || options.feeds.contains($0.name)) }
        let facts = LiveFacts.gather(layout: layout, state: state, checkFreshclam: officialDue && options.fetch)
        let plan = Planner.plan(config: config, state: state, facts: facts, options: options, now: now)

        let acquisition = Acquirer(sources: [
            HTTPSource(context: context, settings: config.settings, scratch: layout.staging + "/downloads"),
            OfficialSource(context: context, settings: config.settings),
        ]).run(plan, state: state)
        try context.reach("update.fetched")

        var local = RepairSource(layout: layout).stage(plan.repairs, facts: facts, state: state)
        if let allowList = try AllowListSource(layout: layout).stage(plan.allowList) { local.append(allowList) }
        let candidate = Candidate.assemble(generation: state.nextGeneration,
                                           canary: try Canary.make(generation: state.nextGeneration, mail: config.clamd.scanMail),
                                           plan: plan, acquisition: acquisition, local: local)
        var gates: GateResult?
        var activation = Activation.nothing
        let activator = Activator(context: context, config: config, layout: layout)
        if !candidate.isEmpty {
            let checked = try Gates(context: context, config: config, layout: layout, force: options.force).run(candidate, state: state)
            try context.reach("update.verified")
            gates = checked
            if checked.installable {
                activation = try activator.activate(checked, state: state, released: Set(plan.handbacks.keys), reason: "update")
            }
        }
        if case .nothing = activation, let live = state.live, !live.confirmed {
            activation = try activator.check(live)
        }

        var run = RunFacts(config: config, state: state, plan: plan, acquisition: acquisition, gates: gates,
                           activation: activation, now: context.clock.now())
        run.notes = opened.notes
        let report = Outcome.report(run)
        let (next, history) = Recorder.record(run, report: report)
        try commit(next, history: history)
        return report
    }

    /// Saves the new state, then lets the install journal go, then prunes the history.
    func commit(_ state: State, history: HistoryChange) throws {
        for (id, status) in history.statuses { try? layout.generations.setStatus(id, status) }
        try StateStore(directory: layout.stateDir).save(state)
        try context.reach("update.recorded")
        Installer(databaseDir: layout.databaseDir, stateDir: layout.stateDir).commit()
        History(layout: layout, keep: config.settings.keepGenerations).prune(live: state.live?.generation)
    }

    func validate() throws {
        for name in options.feeds {
            guard let feed = config.feed(named: name) else {
                throw CommandError("there is no feed named '\(name)'", hint: "`sigctl feeds` lists them", exit: .usage)
            }
            guard feed.enabled else {
                throw CommandError("feed '\(name)' is disabled", hint: "set enabled = true in \(feed.source) first", exit: .usage)
            }
        }
        if config.clamd.loadOptions.officialDatabaseOnly && config.feeds.contains(where: { $0.enabled && $0.official == nil }) {
            throw CommandError("\(config.clamd.path) has OfficialDatabaseOnly yes: clamd ignores every third-party database and sigctl's canary",
                               hint: "set OfficialDatabaseOnly no, or disable the third-party feeds", exit: .config)
        }
    }
}

/// `sigctl allow` changes, applied to the state under the lock before planning.
enum AllowChanges {
    static func apply(_ options: UpdateOptions, to state: State) throws -> State {
        guard !options.allow.isEmpty || !options.disallow.isEmpty else { return state }
        var state = state
        var allowed = state.allowed ?? [:]
        for name in options.disallow where allowed.removeValue(forKey: name) == nil {
            throw CommandError("\(name) is not on sigctl's allow list", hint: "`sigctl status` lists the allowed signatures", exit: .usage)
        }
        for (name, entry) in options.allow { allowed[name] = entry }
        state.allowed = allowed
        return state
    }
}

/// Pruning of kept sets and their canaries.
struct History {
    let layout: Layout
    let keep: Int

    func prune(live: Int?) {
        layout.generations.prune(keep: keep, live: live)
        let kept = Set(Files.list(layout.generations.root).compactMap(Int.init)).union(live.map { [$0] } ?? [])
        for entry in Files.list(layout.canaryDir) {
            guard let id = Int(entry.replacingOccurrences(of: ".bin", with: "")), !kept.contains(id) else { continue }
            unlink(layout.canaryDir + "/" + entry)
        }
    }
}
