import Foundation

/// `sigctl setup`: records who owns the official databases, makes the system agree
/// (freshclam stopped when sigctl takes them over), and only then schedules updates.
public enum FirstRun {
    /// The cron file setup installs (and `--print-cron` shows): this binary, as `user`
    /// (default: the state directory's owner), with the config directory when it is not the default.
    public static func cronText(context: SigctlContext, config: Configuration, user: String?) -> String {
        CronFile.render(user: user ?? CronFile.defaultUser(stateDir: config.settings.stateDir),
                        binary: context.executable, configDir: config.settings.configDir)
    }

    public static func run(context: SigctlContext, config: Configuration, root: SystemRoot, facts: SystemFacts,
                           official: OfficialOwner, schedule: Schedule, user: String?) throws -> SetupResult {
        let cronText = Self.cronText(context: context, config: config, user: user)
        let steps = try SetupPlan.steps(official: official, schedule: schedule, facts: facts, config: config,
                                        root: root, cronText: cronText)
        let runner = SetupRunner(context: context, root: root, facts: facts)
        let choice = steps.filter(\.isChoice)
        var changes = try runner.run(choice)
        try confirm(official: official, config: config, root: root)
        changes += try runner.run(steps.filter { !$0.isChoice })
        return SetupResult(official: official, schedule: schedule, facts: facts, changes: changes,
                           warnings: warnings(official: official, facts: facts, config: config))
    }

    /// The choice took: the config still loads with it, and no freshclam is left
    /// updating the directory sigctl now owns.
    static func confirm(official: OfficialOwner, config: Configuration, root: SystemRoot) throws {
        let reloaded = try ConfigLoader.load(directory: config.settings.configDir)
        for feed in reloaded.feeds where feed.official != nil && feed.enabled != (official == .sigctl) {
            throw CommandError("\(feed.source) still says enabled = \(feed.enabled)", hint: "set it by hand and run sigctl setup again")
        }
        guard official == .sigctl else { return }
        if let conflict = SystemFacts.probe(config: reloaded, root: root).freshclamConflict {
            throw CommandError("sigctl now owns the official databases, but \(conflict)",
                               hint: "stop that freshclam (systemctl disable --now clamav-freshclam) and run sigctl setup again; until then sigctl leaves the official files alone and nothing is scheduled")
        }
    }

    static func warnings(official: OfficialOwner, facts: SystemFacts, config: Configuration) -> [String] {
        var warnings: [String] = []
        if official == .freshclam, !facts.freshclamInstalled {
            warnings.append("freshclam is not installed here, so nothing updates the official databases (main, daily, bytecode); install clamav-freshclam or run sigctl setup --official sigctl")
        } else if official == .freshclam, facts.freshclamConflict == nil {
            warnings.append("freshclam is installed but nothing shows it updating \(config.settings.databaseDir) (its service is disabled, or its DatabaseDirectory is elsewhere); enable it (systemctl enable --now clamav-freshclam) or run sigctl setup --official sigctl")
        }
        if let other = facts.unofficialSigs {
            if let schedule = other.schedule {
                warnings.append("clamav-unofficial-sigs is scheduled (\(schedule)) and fetches the same kind of feeds; two updaters on one directory fight, so disable it (remove \(schedule) or its timer)")
            }
            if !other.collisions.isEmpty {
                let directory = config.settings.databaseDir
                warnings.append("\(other.collisions.count) file(s) in \(directory) that sigctl's feeds provide were installed by another updater (\(other.collisions.joined(separator: ", "))); sigctl does not touch them, so remove them (cd \(directory) && rm \(other.collisions.joined(separator: " "))) and sigctl installs its verified copies on the next run")
            }
        }
        return warnings
    }
}

extension SetupStep {
    /// Steps that record the choice about the official databases (done before any scheduling).
    var isChoice: Bool {
        switch self {
        case .setOfficialFeed, .disableFreshclam: return true
        case .installCron, .removeCron, .enableTimer, .disableTimer: return false
        }
    }
}
