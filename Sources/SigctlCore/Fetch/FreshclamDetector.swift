import Foundation

/// Detects a freshclam that also updates the database directory: two updaters
/// racing on one directory is a known cause of broken sets. A freshclam that
/// updates another directory (a private mirror, a second clamd) is no conflict.
public enum FreshclamDetector {
    public static let serviceUnits = ["/etc/systemd/system/multi-user.target.wants/clamav-freshclam.service",
                                      "/etc/systemd/system/timers.target.wants/clamav-freshclam.timer"]
    public static let defaultConf = "/etc/clamav/freshclam.conf"

    /// A description of the conflict, or nil when no freshclam updates `databaseDir`.
    public static func conflict(databaseDir: String, freshclamConf: String = defaultConf,
                                enabledUnits: [String] = serviceUnits, proc: String = "/proc") -> String? {
        let target = canonical(databaseDir)
        for daemon in runningDaemons(proc: proc) {
            let conf = daemon.config ?? freshclamConf
            let directory = daemon.datadir ?? databaseDirectory(conf)
            if canonical(directory) == target {
                return "a freshclam daemon (pid \(daemon.pid), \(conf)) is running and updates \(directory)"
            }
        }
        for unit in enabledUnits where Files.exists(unit) {
            let conf = unitConfig(unit) ?? freshclamConf
            let directory = databaseDirectory(conf)
            if canonical(directory) == target {
                return "the clamav-freshclam service is enabled (\(unit)) and \(conf) updates \(directory)"
            }
        }
        return nil
    }

    static func canonical(_ path: String) -> String {
        URL(fileURLWithPath: path).resolvingSymlinksInPath().standardizedFileURL.path
    }

    /// DatabaseDirectory of a freshclam.conf (freshclam's default when unset or unreadable).
    static func databaseDirectory(_ conf: String) -> String {
        var directory = "/var/lib/clamav"
        guard let data = FileManager.default.contents(atPath: conf) else { return directory }
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let parts = line.trimmingCharacters(in: .whitespaces).split(maxSplits: 1, whereSeparator: { $0 == " " || $0 == "\t" })
            if parts.count == 2, parts[0] == "DatabaseDirectory" { directory = parts[1].trimmingCharacters(in: .whitespaces) }
        }
        return directory
    }

    /// The --config-file of a unit's ExecStart (following the unit symlink), if it names one.
    static func unitConfig(_ unit: String) -> String? {
        guard let data = FileManager.default.contents(atPath: unit) else { return nil }
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where line.hasPrefix("ExecStart=") {
            return option("config-file", in: line.dropFirst("ExecStart=".count).split(separator: " ").map(String.init))
        }
        return nil
    }

    struct Daemon { var pid: Int; var config: String?; var datadir: String? }

    /// freshclam processes running as daemons, with the config and data directory their command line names.
    static func runningDaemons(proc: String) -> [Daemon] {
        var found: [Daemon] = []
        for entry in Files.list(proc) {
            guard let pid = Int(entry), pid != Int(getpid()),
                  let comm = FileManager.default.contents(atPath: "\(proc)/\(entry)/comm") else { continue }
            guard String(decoding: comm, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) == "freshclam" else { continue }
            let cmdline = FileManager.default.contents(atPath: "\(proc)/\(entry)/cmdline") ?? Data()
            let arguments = cmdline.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard arguments.contains(where: { $0 == "-d" || $0 == "--daemon" || $0.hasPrefix("--foreground") }) else { continue }
            found.append(Daemon(pid: pid, config: option("config-file", in: arguments), datadir: option("datadir", in: arguments)))
        }
        return found
    }

    /// `--name=value` or `--name value`.
    static func option(_ name: String, in arguments: [String]) -> String? {
        for (index, argument) in arguments.enumerated() {
            if argument.hasPrefix("--\(name)=") { return String(argument.dropFirst(name.count + 3)) }
            if argument == "--\(name)", index + 1 < arguments.count { return arguments[index + 1] }
        }
        return nil
    }
}
