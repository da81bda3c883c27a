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
        var plan = Planner.plan(config: config, state: state, facts: facts, options: options, now: now)

        let acquisition = Acquirer(sources: [
            RsyncSource(context: context, settings: config.settings, scratch: layout.staging + "/downloads"),
            HTTPSource(context: context, settings: config.settings, scratch: layout.staging + "/downloads"),
            OfficialSource(context: context, settings: config.settings),
            PublicationSource(context: context, settings: config.settings, scratch: layout.staging + "/downloads/publications"),
        ]).run(plan, state: state)
        // Files a publisher's manifest dropped leave the set like files a feed no longer lists.
        for feed in acquisition.feeds.values where !feed.files.isEmpty {
            for name in feed.dropped { plan.drops[name] = feed.feed }
        }
        try context.reach("update.fetched")

        var local = RepairSource(layout: layout).stage(plan.repairs, facts: facts, state: state)
        if let allowList = try AllowListSource(layout: layout).stage(plan.allowList) { local.append(allowList) }
        let candidate = Candidate.assemble(generation: state.nextGeneration,
                                           canary: try Canary.make(generation: state.nextGeneration, mail: config.clamd.scanMail),
                                           plan: plan, acquisition: acquisition, local: local)
        var gates: GateResult?
        var activation = Activation.nothing
        var activateSeconds = 0.0
        let activator = Activator(context: context, config: config, layout: layout)
        if !candidate.isEmpty {
            let checked = try Gates(context: context, config: config, layout: layout, force: options.force).run(candidate, state: state)
            try context.reach("update.verified")
            gates = checked
            if checked.installable {
                let start = context.clock.now()
                activation = try activator.activate(checked, state: state, released: Set(plan.handbacks.keys), reason: "update")
                activateSeconds = context.clock.now().timeIntervalSince(start)
            }
        }
        if case .nothing = activation, let live = state.live, !live.confirmed {
            activation = try activator.check(live)
        }

        var run = RunFacts(config: config, state: state, plan: plan, acquisition: acquisition, gates: gates,
                           activation: activation, now: context.clock.now())
        run.notes = opened.notes
        var report = Outcome.report(run)
        if case .installed(_, let proof, _) = activation {
            // Install is the activation less the wait for clamd's proof.
            let proven: Double
            if case .confirmed(let seconds) = proof { proven = seconds } else { proven = 0 }
            report.phases["install"] = max(0, activateSeconds - proven)
            report.phases["reload"] = proven
        }
        let (next, history) = Recorder.record(run, report: report)
        var unfinished = false
        if case .installFailed(_, true) = activation { unfinished = true }
        try commit(next, history: history, keepJournal: unfinished)
        // After clamd confirmed the set, so no signature waits for it.
        let indexing = context.clock.now()
        NameIndexes(layout: layout, log: context.log).refresh()
        report.phases["index"] = context.clock.now().timeIntervalSince(indexing)
        if let problem = Metrics.write(context: context, config: config, state: next) { report.errors.append(problem) }
        let published = Publisher.afterRun(context: context, config: config, state: next)
        report.published = published.generation
        if let problem = published.problem {
            report.errors.append(problem)
            if report.exitCode == 0 { report.exitCode = ExitStatus.partial.rawValue }
        }
        return report
    }

    /// Saves the new state, then lets the install journal go (unless a switch is left for
    /// the next run to finish), then prunes the history.
    func commit(_ state: State, history: HistoryChange, keepJournal: Bool) throws {
        for (id, status) in history.statuses { try? layout.generations.setStatus(id, status) }
        try StateStore(directory: layout.stateDir).save(state)
        try context.reach("update.recorded")
        if !keepJournal { Installer(databaseDir: layout.databaseDir, stateDir: layout.stateDir).commit() }
        History(layout: layout, keep: config.settings.keepGenerations).prune(live: state.live)
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
