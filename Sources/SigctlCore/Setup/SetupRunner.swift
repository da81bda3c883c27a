import Foundation

/// What `sigctl setup` did, for the terminal and for `--json`.
public struct SetupResult: Codable, Sendable {
    public var official: OfficialOwner
    public var schedule: Schedule
    public var facts: SystemFacts
    /// One line per change made, in order; empty when everything already was so.
    public var changes: [String]
    public var warnings: [String]
}

/// Carries out setup's steps. systemctl and the init script run through the
/// context's process runner; on an offline image (`--root`) systemctl works on the
/// image's files and nothing is started or stopped.
public struct SetupRunner {
    public var context: SigctlContext
    public var root: SystemRoot
    public var facts: SystemFacts

    public init(context: SigctlContext, root: SystemRoot, facts: SystemFacts) {
        self.context = context
        self.root = root
        self.facts = facts
    }

    /// Runs every step; returns one line per change made.
    public func run(_ steps: [SetupStep]) throws -> [String] {
        var changes: [String] = []
        for step in steps {
            if let change = try perform(step) { changes.append(change) }
        }
        return changes
    }

    func perform(_ step: SetupStep) throws -> String? {
        switch step {
        case let .setOfficialFeed(feed, path, enabled):
            guard try FeedSwitch.apply(path: path, enabled: enabled) else { return nil }
            return "\(path): enabled = \(enabled) (feed \(feed))"
        case .disableFreshclam:
            return try disableFreshclam()
        case let .installCron(path, text):
            if FileManager.default.contents(atPath: path) == Data(text.utf8) { return nil }
            try Files.makeDirectory((path as NSString).deletingLastPathComponent)
            try Files.writeAtomically(Data(text.utf8), to: path, mode: 0o644)
            return "installed \(path)"
        case let .removeCron(path):
            guard unlink(path) == 0 else { throw SystemError.errno("unlink", path: path) }
            return "removed \(path)"
        case let .enableTimer(configDir):
            guard Files.exists(root.path("/lib/systemd/system/sigctl-update.timer")) else {
                throw CommandError("sigctl-update.timer is not installed (it comes with the Debian package)",
                                   hint: "use --schedule cron", exit: .usage)
            }
            var done = try configureService(configDir: configDir)
            if facts.timerEnabled, done.isEmpty { return nil }
            try systemctl(facts.systemdRunning ? ["enable", "--now", "sigctl-update.timer"] : ["enable", "sigctl-update.timer"])
            done.append(facts.systemdRunning ? "enabled and started sigctl-update.timer"
                : "enabled sigctl-update.timer (systemd is not running here: it starts with systemd)")
            return done.joined(separator: "; ")
        case .disableTimer:
            try systemctl(facts.systemdRunning ? ["disable", "--now", "sigctl-update.timer"] : ["disable", "sigctl-update.timer"])
            return "disabled sigctl-update.timer"
        }
    }

    static let serviceDropIn = "/etc/systemd/system/sigctl-update.service.d/sigctl-config.conf"

    /// Points the service at a config outside /etc/sigctl with a drop-in (and removes
    /// the drop-in when the config is back there). Returns what it changed.
    func configureService(configDir: String) throws -> [String] {
        let path = root.path(Self.serviceDropIn)
        let wanted: Data? = configDir == ConfigLoader.defaultDirectory ? nil
            : Data("# Written by sigctl setup: the config directory it was run with.\n[Service]\nEnvironment=SIGCTL_CONFIG=\(configDir)\n".utf8)
        let present = FileManager.default.contents(atPath: path)
        guard present != wanted else { return [] }
        if let wanted {
            try Files.makeDirectory((path as NSString).deletingLastPathComponent)
            try Files.writeAtomically(wanted, to: path, mode: 0o644)
        } else {
            unlink(path)
        }
        if facts.systemdRunning { try systemctl(["daemon-reload"]) }
        return [wanted == nil ? "removed \(path)" : "wrote \(path) (SIGCTL_CONFIG=\(configDir))"]
    }

    /// Stops and disables freshclam: through systemd where it runs, else its unit
    /// links and its init script.
    func disableFreshclam() throws -> String {
        var done: [String] = []
        if systemctlPath != nil {
            try systemctl(facts.systemdRunning ? ["disable", "--now", "clamav-freshclam.service"] : ["disable", "clamav-freshclam.service"])
            done.append(facts.systemdRunning ? "stopped and disabled clamav-freshclam.service" : "disabled clamav-freshclam.service")
        }
        let script = "/etc/init.d/clamav-freshclam"
        if root.isLive, !facts.systemdRunning, Files.exists(script) {
            try command(script, ["stop"])
            done.append("stopped it with \(script)")
            if let updateRC = Self.which("update-rc.d") {
                try command(updateRC, ["clamav-freshclam", "disable"])
                done.append("update-rc.d clamav-freshclam disable")
            }
        }
        guard !done.isEmpty else {
            throw CommandError("freshclam updates the database directory and sigctl cannot stop it here (no systemctl, no \(script))",
                               hint: "stop freshclam yourself, then run sigctl setup again")
        }
        return "freshclam: " + done.joined(separator: "; ")
    }

    var systemctlPath: String? { Self.which("systemctl") }

    func systemctl(_ arguments: [String]) throws {
        guard let path = systemctlPath else {
            throw CommandError("systemctl is not installed", hint: "use --schedule cron", exit: .usage)
        }
        try command(path, (root.isLive ? [] : ["--root=\(root.directory)"]) + arguments)
    }

    func command(_ path: String, _ arguments: [String]) throws {
        let scratch = try Files.makeTemporaryDirectory(in: NSTemporaryDirectory(), prefix: "sigctl-setup-")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let result = try context.runner.run(path, arguments, timeout: 120, scratch: scratch)
        guard result.status == 0, !result.signalled else {
            let shown = ([path] + arguments).joined(separator: " ")
            throw CommandError("\(shown) failed (exit \(result.status))\(result.errorTail.isEmpty ? "" : ": \(result.errorTail)")",
                               hint: "fix that and run sigctl setup again; your choice is already saved in the config")
        }
    }

    /// An executable on $PATH (or the usual system directories).
    static func which(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let directories = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        return directories.map { $0 + "/" + name }.first { access($0, X_OK) == 0 }
    }
}
