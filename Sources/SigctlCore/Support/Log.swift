import Foundation
import Synchronization

/// Diagnostics on stderr. Results go to stdout through the commands, never through here.
public final class Log: Sendable {
    public enum Level: Int, Sendable, Comparable {
        case quiet = 0, normal = 1, verbose = 2, debug = 3
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
    }

    public let level: Level
    /// stderr is the systemd journal: each line starts with its priority ("<3>" error).
    let journal: Bool
    /// Errors, warnings and changes also go to syslog (facility mail).
    let syslog: SyslogWriter?
    private let lock = Mutex<Void>(())

    public init(level: Level, journal: Bool = false, syslog: SyslogWriter? = nil) {
        self.level = level
        self.journal = journal
        self.syslog = syslog
    }

    /// Always printed, even with --quiet: problems the admin must act on.
    public func error(_ message: String) { emit(message, at: .quiet, prefix: "sigctl: error: ", severity: .error) }
    public func warning(_ message: String) { emit(message, at: .normal, prefix: "sigctl: warning: ", severity: .warning) }
    public func info(_ message: String) { emit(message, at: .verbose, prefix: "sigctl: ", severity: .info) }
    public func debug(_ message: String) { emit(message, at: .debug, prefix: "sigctl: debug: ", severity: .debug) }

    /// A change (a feed updated, a set installed) for the mail log: syslog only; the
    /// command prints its result lines itself.
    public func change(_ message: String) { syslog?.send(Redact.text(message), severity: .notice) }

    private func emit(_ message: String, at required: Level, prefix: String, severity: SyslogWriter.Severity) {
        let text = Redact.text(message)
        if severity.rawValue <= SyslogWriter.Severity.warning.rawValue, level >= required {
            syslog?.send(severity == .error ? "error: " + text : "warning: " + text, severity: severity)
        }
        guard level >= required else { return }
        let mark = journal ? "<\(severity.rawValue)>" : ""
        let marked = mark + prefix + (journal ? text.replacingOccurrences(of: "\n", with: "\n" + mark) : text) + "\n"
        lock.withLock { _ in
            FileHandle.standardError.write(Data(marked.utf8))
        }
    }

    /// Raw text on stderr (progress lines), only when stderr is a terminal.
    public func progress(_ text: String) {
        guard Terminal.stderrIsTTY, level >= .normal else { return }
        lock.withLock { _ in FileHandle.standardError.write(Data(text.utf8)) }
    }
}

public enum Terminal {
    public static var stdinIsTTY: Bool { isatty(STDIN_FILENO) == 1 }
    public static var stderrIsTTY: Bool { isatty(STDERR_FILENO) == 1 }
}
