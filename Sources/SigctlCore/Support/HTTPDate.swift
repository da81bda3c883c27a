import Foundation

/// HTTP dates ("Sun, 06 Nov 1994 08:49:37 GMT"): Last-Modified, Retry-After, and the
/// Last-Modified sigctl records for files that came another way (rsync's mtime).
public enum HTTPDate {
    static func formatter() -> DateFormatter {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter
    }

    public static func parse(_ value: String) -> Date? {
        formatter().date(from: value.trimmingCharacters(in: .whitespaces))
    }

    public static func text(_ date: Date) -> String {
        let formatter = formatter()
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter.string(from: date)
    }
}
