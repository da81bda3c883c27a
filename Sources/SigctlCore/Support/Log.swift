import Foundation
import Synchronization

/// Diagnostics on stderr. Results go to stdout through the commands, never through here.
public final class Log: Sendable {
    public enum Level: Int, Sendable, Comparable {
        case quiet = 0, normal = 1, verbose = 2, debug = 3
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
    }

    public let level: Level
    private let lock = Mutex<Void>(())

    public init(level: Level) { self.level = level }

    /// Always printed, even with --quiet: problems the admin must act on.
    public func error(_ message: String) { emit(message, at: .quiet, prefix: "sigctl: error: ") }
    public func warning(_ message: String) { emit(message, at: .normal, prefix: "sigctl: warning: ") }
    public func info(_ message: String) { emit(message, at: .verbose, prefix: "sigctl: ") }
    public func debug(_ message: String) { emit(message, at: .debug, prefix: "sigctl: debug: ") }

    private func emit(_ message: String, at required: Level, prefix: String) {
        guard level >= required else { return }
        lock.withLock { _ in
            FileHandle.standardError.write(Data((prefix + Redact.text(message) + "\n").utf8))
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
