import Foundation

/// Secrets in URLs (SecuriteInfo's personal download id, a `user:password@`, a
/// `?key=` query) never leave sigctl: every URL is redacted before it reaches
/// `state.json`, a log line, `--json` or cron mail.
///
/// Redacted are: userinfo; query values; and path segments that look like a
/// token (20 or more hex digits, or 32 or more letters, digits, `-` and `_`).
/// File names (a dot and an extension) are kept, so messages still say which file.
public enum Redact {
    static let marker = "REDACTED"
    static let urlPattern = try! NSRegularExpression(pattern: #"https?://[^\s"'<>;,()]+"#)

    /// A URL with its secrets replaced.
    public static func url(_ text: String) -> String {
        guard let schemeEnd = text.range(of: "://") else { return text }
        var rest = String(text[schemeEnd.upperBound...])
        var query = ""
        if let mark = rest.firstIndex(of: "?") {
            let parameters = rest[rest.index(after: mark)...].split(separator: "&", omittingEmptySubsequences: false).map { pair in
                pair.contains("=") ? pair.split(separator: "=", maxSplits: 1)[0] + "=" + marker : Substring(pair)
            }
            query = "?" + parameters.joined(separator: "&")
            rest = String(rest[..<mark])
        }
        var segments = rest.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if let at = segments[0].lastIndex(of: "@") { segments[0] = marker + "@" + segments[0][segments[0].index(after: at)...] }
        for index in segments.indices.dropFirst() where looksLikeToken(segments[index]) { segments[index] = marker }
        return String(text[..<schemeEnd.upperBound]) + segments.joined(separator: "/") + query
    }

    /// Free text with every URL in it redacted.
    public static func text(_ text: String) -> String {
        guard text.contains("://") else { return text }
        var result = ""
        var last = text.startIndex
        for match in urlPattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
            guard let range = Range(match.range, in: text) else { continue }
            result += text[last..<range.lowerBound]
            result += url(String(text[range]))
            last = range.upperBound
        }
        return result + text[last...]
    }

    static func looksLikeToken(_ segment: String) -> Bool {
        if segment.count >= 20 && segment.allSatisfy(\.isHexDigit) { return true }
        return segment.count >= 32 && segment.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }
}
