import Foundation

/// Exit codes shared by every command; `update` uses all of them.
public enum ExitStatus: Int32, Sendable, Codable {
    case success = 0
    /// Some feeds failed or were rejected; the rest were installed and confirmed.
    case partial = 1
    /// Nothing was installed because of failures.
    case failed = 2
    /// clamd did not confirm the reload.
    case reloadUnconfirmed = 3
    /// Another run holds the lock.
    case locked = 4
    case usage = 64
    case config = 78
}

/// An error with everything the admin needs: what happened and what to do.
public protocol UserFacingError: Error, CustomStringConvertible {
    var exitStatus: ExitStatus { get }
    /// What went wrong, without the hint.
    var summary: String { get }
    /// What to do about it, if there is something to say.
    var hint: String? { get }
}

extension UserFacingError {
    public var summary: String { description }
    public var hint: String? { nil }
}

/// A malformed or inconsistent configuration file.
public struct ConfigError: UserFacingError, Sendable {
    public let file: String
    public let line: Int?
    public let key: String?
    public let message: String

    public init(file: String, line: Int? = nil, key: String? = nil, _ message: String) {
        self.file = file
        self.line = line
        self.key = key
        self.message = message
    }

    public var exitStatus: ExitStatus { .config }

    public var description: String {
        var location = file
        if let line { location += ":\(line)" }
        let subject = key.map { " key '\($0)'" } ?? ""
        return "\(location):\(subject) \(message)"
    }
}

/// Another sigctl run holds the state lock.
public struct LockHeldError: UserFacingError, Sendable {
    public let path: String
    public let holder: String?
    public var exitStatus: ExitStatus { .locked }
    public var description: String {
        "another sigctl run holds the lock \(path)\(holder.map { " (\($0))" } ?? ""); this run did nothing"
    }
}

/// A command that could not do its job, with the reason and the next step.
public struct CommandError: UserFacingError, Sendable {
    public let message: String
    public let hint: String?
    public let exitStatus: ExitStatus

    public init(_ message: String, hint: String? = nil, exit: ExitStatus = .failed) {
        self.message = message
        self.hint = hint
        self.exitStatus = exit
    }

    public var summary: String { message }

    public var description: String {
        hint.map { "\(message); \($0)" } ?? message
    }
}
