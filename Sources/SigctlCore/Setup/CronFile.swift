import Foundation

/// The /etc/cron.d file `sigctl setup --schedule cron` installs.
public enum CronFile {
    /// The file's text: every 15 minutes, as `user`, `binary update --syslog`, with
    /// `--config` when the config is not in the default place (cron has no environment).
    public static func render(user: String, binary: String, configDir: String) -> String {
        let program = shellQuoted(binary)
        var command = "[ -x \(program) ] && \(program) update --syslog"
        if configDir != ConfigLoader.defaultDirectory { command += " --config \(shellQuoted(configDir))" }
        // cron turns an unescaped % into a newline, even inside quotes.
        command = command.replacingOccurrences(of: "%", with: "\\%")
        return """
        # /etc/cron.d/sigctl - written by `sigctl setup --schedule cron`.
        #
        # Runs `sigctl update` as \(user) every 15 minutes. Each feed is fetched only
        # when its own interval (feeds.d/*.toml) has passed, so most runs just check
        # the clock. sigctl first waits a random time from the `sleep` setting.
        #
        # Cron mails what a run prints: only errors with report = "errors" (the
        # default in sigctl.toml), also each change with "changes". --syslog sends
        # errors, warnings and changes to syslog (facility mail, tag sigctl). A run
        # that finds another one still working exits 4 and prints nothing.
        # Use this file or sigctl-update.timer, not both: `sigctl setup` switches.

        SHELL=/bin/sh
        PATH=/usr/sbin:/usr/bin:/sbin:/bin
        MAILTO=root

        */15 * * * * \(user) \(command)

        """
    }

    /// `text` quoted for /bin/sh when it holds anything but safe characters.
    static func shellQuoted(_ text: String) -> String {
        let safe = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=:,@")
        if !text.isEmpty, text.unicodeScalars.allSatisfy(safe.contains) { return text }
        return "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// The user cron runs sigctl as: the owner of the state directory (the package
    /// makes it clamav's), else clamav when that user exists, else root.
    public static func defaultUser(stateDir: String) -> String {
        var info = stat()
        if stat(stateDir, &info) == 0 { return PermissionProblem.userName(info.st_uid) }
        return getpwnam("clamav") != nil ? "clamav" : "root"
    }
}
