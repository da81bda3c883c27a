import Foundation

/// Who updates ClamAV's official databases (main, daily, bytecode).
public enum OfficialOwner: String, Codable, Sendable, CaseIterable {
    case sigctl, freshclam
}

/// How `sigctl update` is started.
public enum Schedule: String, Codable, Sendable, CaseIterable {
    case cron, timer, none

    /// The timer where systemd runs, else cron.
    public static func suggested(_ facts: SystemFacts) -> Schedule { facts.systemdRunning ? .timer : .cron }
}

/// One change `sigctl setup` makes, in the order it makes them.
public enum SetupStep: Equatable, Sendable {
    /// `enabled = …` in an official feed's file.
    case setOfficialFeed(feed: String, path: String, enabled: Bool)
    case disableFreshclam
    case installCron(path: String, text: String)
    case removeCron(path: String)
    /// Enables sigctl-update.timer; a config outside /etc/sigctl goes into a drop-in for the service.
    case enableTimer(configDir: String)
    case disableTimer
}

/// Turns the admin's choice and what is on the system into setup's steps. The
/// choice is written first; a schedule is only touched after it.
public enum SetupPlan {
    public static func steps(official: OfficialOwner, schedule: Schedule, facts: SystemFacts,
                             config: Configuration, root: SystemRoot, cronText: String) throws -> [SetupStep] {
        let officialFeeds = config.feeds.filter { $0.official != nil }
        if official == .sigctl, officialFeeds.isEmpty {
            throw CommandError("no feed in \(config.settings.configDir)/feeds.d has kind = \"official\", so sigctl cannot update the official databases",
                               hint: "restore feeds.d/clamav.toml from /usr/share/doc/sigctl or choose --official freshclam", exit: .config)
        }
        var steps = officialFeeds.map { SetupStep.setOfficialFeed(feed: $0.name, path: $0.source, enabled: official == .sigctl) }
        if official == .sigctl, facts.freshclamConflict != nil { steps.append(.disableFreshclam) }
        switch schedule {
        case .cron:
            steps.append(.installCron(path: root.path(SystemFacts.cronFile), text: cronText))
            if facts.timerEnabled { steps.append(.disableTimer) }
        case .timer:
            steps.append(.enableTimer(configDir: config.settings.configDir))
            if facts.cronFilePresent { steps.append(.removeCron(path: root.path(SystemFacts.cronFile))) }
        case .none:
            break
        }
        return steps
    }
}
