import Foundation

/// What `sigctl setup` finds on the system before it changes anything. All paths
/// are read under `root` ("/" normally; an offline image with `--root`).
public struct SystemFacts: Codable, Sendable, Equatable {
    /// A freshclam that updates sigctl's database directory now (daemon or enabled service).
    public var freshclamConflict: String?
    /// freshclam is installed (its config or its service unit exists), active or not.
    public var freshclamInstalled: Bool
    /// clamav-unofficial-sigs, if it is installed.
    public var unofficialSigs: UnofficialSigs?
    /// systemd is PID 1 (so `systemctl --now` works).
    public var systemdRunning: Bool
    public var timerEnabled: Bool
    public var cronFilePresent: Bool

    public struct UnofficialSigs: Codable, Sendable, Equatable {
        /// The cron file or timer that runs it, nil when it is installed but not scheduled.
        public var schedule: String?
        /// Files in the database directory that sigctl's enabled feeds also provide and
        /// sigctl did not install: sigctl refuses to replace them while they are there.
        public var collisions: [String]
    }

    public static let unofficialSchedules = ["etc/cron.d/clamav-unofficial-sigs",
                                             "etc/systemd/system/timers.target.wants/clamav-unofficial-sigs.timer"]
    public static let unofficialInstalls = ["usr/sbin/clamav-unofficial-sigs", "usr/local/sbin/clamav-unofficial-sigs.sh",
                                            "usr/local/bin/clamav-unofficial-sigs.sh", "etc/clamav-unofficial-sigs"]
    public static let timerLink = "etc/systemd/system/timers.target.wants/sigctl-update.timer"
    public static let cronFile = "etc/cron.d/sigctl"

    /// Looks at the system under `root`. Running processes are only looked at for the
    /// real system: an offline image has none.
    public static func probe(config: Configuration, root: SystemRoot) -> SystemFacts {
        let units = FreshclamDetector.serviceUnits.map(root.path)
        let freshclamConf = root.path(FreshclamDetector.defaultConf)
        let conflict = FreshclamDetector.conflict(databaseDir: config.settings.databaseDir, freshclamConf: freshclamConf,
                                                  enabledUnits: units, proc: root.isLive ? "/proc" : root.path("/nonexistent-proc"))
        let installed = Files.exists(freshclamConf) || Files.exists(root.path("/lib/systemd/system/clamav-freshclam.service"))
        return SystemFacts(freshclamConflict: conflict, freshclamInstalled: installed || conflict != nil,
                           unofficialSigs: unofficial(config: config, root: root),
                           systemdRunning: root.isLive && Files.isDirectory("/run/systemd/system"),
                           timerEnabled: Files.exists(root.path(timerLink)),
                           cronFilePresent: Files.exists(root.path(cronFile)))
    }

    static func unofficial(config: Configuration, root: SystemRoot) -> UnofficialSigs? {
        let schedule = unofficialSchedules.map(root.path).first(where: Files.exists)
        guard schedule != nil || unofficialInstalls.map(root.path).contains(where: Files.exists) else { return nil }
        let owned = Set((try? StateStore(directory: config.settings.stateDir).load())?.live?.owned ?? [])
        let provided = config.feeds.filter { $0.enabled && $0.official == nil }.flatMap(\.enabledFiles).map(\.name)
        let collisions = provided.filter { name in
            !owned.contains(name) && Files.exists(config.settings.databaseDir + "/" + name)
        }
        return UnofficialSigs(schedule: schedule, collisions: collisions.sorted())
    }
}

/// The system tree setup works on: "/" or an offline image (`--root`).
public struct SystemRoot: Sendable {
    public var directory: String
    public init(_ directory: String?) { self.directory = directory ?? "/" }
    public var isLive: Bool { directory == "/" }
    /// An absolute system path inside this root.
    public func path(_ absolute: String) -> String {
        let relative = absolute.hasPrefix("/") ? String(absolute.dropFirst()) : absolute
        return isLive ? "/" + relative : (directory as NSString).appendingPathComponent(relative)
    }
}
