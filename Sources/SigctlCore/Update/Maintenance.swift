import Foundation

/// The result of `sigctl reload` or `sigctl rollback`.
public struct MaintenanceReport: Codable, Sendable {
    public enum Action: String, Codable, Sendable { case reload, rollback }
    public var action: Action
    public var generation: Int
    public var signatures: Int
    public var reload: ReloadReport
    public var exitCode: Int32
    /// Official databases a rollback left as they are.
    public var keptOfficial: [String] = []
    public var notes: [String] = []
}

/// `sigctl reload` and `sigctl rollback`: change what clamd runs without fetching
/// anything, through the same candidate, gates and activation as an update.
public struct Maintenance {
    let context: SigctlContext
    let config: Configuration
    var layout: Layout { Layout(settings: config.settings) }

    public init(context: SigctlContext, config: Configuration) {
        self.context = context
        self.config = config
    }

    /// Verifies the live set with a new canary, puts that canary in place,
    /// then reloads clamd and waits until it reports the canary.
    public func reload() throws -> MaintenanceReport {
        let lock = try RunLock(stateDir: config.settings.stateDir)
        defer { withExtendedLifetime(lock) {} }
        let opened = try StateOpener(context: context, config: config).open()
        let state = opened.state
        guard let live = state.live else {
            throw CommandError("sigctl has not installed a set yet", hint: "run `sigctl update` first")
        }
        guard config.clamdAddress != nil else {
            throw CommandError("clamd = \"none\" in sigctl.toml, so there is no clamd to reload", exit: .config)
        }
        let candidate = Candidate(generation: live.generation, canary: try Canary.make(generation: live.generation, mail: config.clamd.scanMail),
                                  files: [], drops: [:], replaced: [:])
        let gates = Gates(context: context, config: config, layout: layout, force: false)
        let verified = try gates.verify(candidate, label: "reload")
        guard verified.ok else {
            throw CommandError("the live set does not load, so sigctl did not ask clamd to reload it: \(verified.summary)",
                               hint: "fix or remove the file libclamav names, or run `sigctl rollback`")
        }
        var result = GateResult(candidate: candidate)
        result.verification = verified
        let activation = try Activator(context: context, config: config, layout: layout)
            .activate(result, state: state, released: [], reason: "reload")
        return try finish(.reload, activation: activation, gates: result, drops: [:], state: state, notes: opened.notes)
    }

    /// Restores set `target` (default: the newest kept set older than the live one),
    /// verified as clamd will load it, then reloads and proves it. Official databases
    /// are left as they are: a rollback never takes ClamAV's own signatures back to
    /// an older version or away from freshclam.
    public func rollback(to target: Int?) throws -> MaintenanceReport {
        let lock = try RunLock(stateDir: config.settings.stateDir)
        defer { withExtendedLifetime(lock) {} }
        let opened = try StateOpener(context: context, config: config).open()
        let state = opened.state
        let available = layout.generations.all()
        let liveID = state.live?.generation
        let chosen: GenerationManifest?
        if let target {
            chosen = available.first { $0.id == target }
            guard chosen != nil else {
                let ids = available.filter(\.status.isKept).map { String($0.id) }.joined(separator: ", ")
                throw CommandError("there is no installed set \(target) to roll back to",
                                   hint: ids.isEmpty ? "no sets are kept yet" : "kept sets: \(ids) (see `sigctl status`)", exit: .usage)
            }
        } else {
            chosen = available.first { $0.status.isKept && (liveID == nil || $0.id < liveID!) }
        }
        guard let manifest = chosen else {
            throw CommandError("there is no earlier set to roll back to",
                               hint: "sigctl keeps keep_generations = \(config.settings.keepGenerations) sets that clamd confirmed")
        }
        let plan = RollbackPlan.make(target: manifest, state: state, config: config, layout: layout)
        let candidate = Candidate(generation: manifest.id, canary: try Canary.make(generation: manifest.id, mail: config.clamd.scanMail),
                                  files: plan.files, drops: plan.drops, replaced: [:])
        let gates = Gates(context: context, config: config, layout: layout, force: false)
        let verified = try gates.verify(candidate, label: "rollback")
        guard verified.ok else {
            throw CommandError("set \(manifest.id) does not load with the other files in \(config.settings.databaseDir): \(verified.summary)",
                               hint: "nothing was changed; pick another set with --to")
        }
        var result = GateResult(candidate: candidate)
        result.verification = verified
        let activation = try Activator(context: context, config: config, layout: layout)
            .activate(result, state: state, released: [], reason: "rollback to \(manifest.id)")
        context.log.info("restored set \(manifest.id) from \(manifest.created)")
        var report = try finish(.rollback, activation: activation, gates: result, drops: plan.drops, state: state, notes: opened.notes)
        report.keptOfficial = plan.keptOfficial
        return report
    }

    /// Records the activation through the same pure stages as an update, and reports it.
    private func finish(_ action: MaintenanceReport.Action, activation: Activation, gates: GateResult, drops: [String: String],
                        state: State, notes: [String]) throws -> MaintenanceReport {
        if case .installFailed(let message, _) = activation {
            throw CommandError(message, hint: "fix the cause and run the command again")
        }
        var plan = UpdatePlan()
        plan.drops = drops
        let run = RunFacts(config: config, state: state, plan: plan, acquisition: Acquisition(), gates: gates,
                           activation: activation, now: context.clock.now())
        let outcome = Outcome.report(run)
        var (next, history) = Recorder.record(run, report: outcome)
        // reload and rollback are not update runs.
        next.lastRun = state.lastRun
        next.lastExitCode = state.lastExitCode
        next.lastSuccess = state.lastSuccess
        for (id, status) in history.statuses { try? layout.generations.setStatus(id, status) }
        try StateStore(directory: layout.stateDir).save(next)
        Installer(databaseDir: layout.databaseDir, stateDir: layout.stateDir).commit()
        History(layout: layout, keep: config.settings.keepGenerations).prune(live: next.live)
        var reload = outcome.reload
        if case .installed(_, .unreachable, _) = activation {
            reload.message = reload.message.map { $0.replacingOccurrences(of: "the new set stays installed, clamd loads it when it starts, and the next run confirms it",
                                                                           with: "the set is installed and clamd loads it when it starts") }
        }
        if case .installed(_, .notShown, _) = activation { reload.message = (reload.message ?? "") + "; check clamd's log" }
        let exit: ExitStatus = reload.failed ? .reloadUnconfirmed : .success
        var notes = notes
        if let problem = Metrics.write(context: context, config: config, state: next) { notes.append(problem) }
        if let problem = Publisher.afterRun(context: context, config: config, state: next).problem { notes.append(problem) }
        return MaintenanceReport(action: action, generation: next.live?.generation ?? 0, signatures: next.live?.signatures ?? 0,
                                 reload: reload, exitCode: exit.rawValue, notes: notes)
    }
}
