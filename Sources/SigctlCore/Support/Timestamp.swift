import Foundation

/// The one way sigctl writes a time for people: ISO 8601 in local time with the zone's
/// offset ("2026-11-23T16:05:09+01:00"), so times in one screen or log compare directly.
public enum Timestamp {
    public static func text(_ date: Date) -> String { formatter.string(from: date) }

    /// One formatter for every time sigctl prints (`--json` writes many); it is thread-safe.
    nonisolated(unsafe) private static let formatter: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone.current
        formatter.formatOptions = [.withInternetDateTime]
        return formatter
    }()

    /// `text`, or "never".
    public static func text(_ date: Date?) -> String { date.map(text) ?? "never" }
}
