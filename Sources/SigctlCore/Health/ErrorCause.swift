import Foundation

/// The cause of a failed or rejected file, in a few stable words: the label of the
/// metrics' error counters and what `check` groups by.
public enum ErrorCause: String, Codable, Sendable, CaseIterable {
    /// DNS, connect, TLS, time-outs: the mirror could not be reached.
    case network
    /// The mirror answered with an HTTP error.
    case http
    /// A checksum or GPG signature did not match, or its sidecar or key was missing.
    case integrity
    /// The download itself was bad: an HTML page, truncated, blank lines, too big, older, collapsed.
    case content
    /// libclamav refused to load or compile it.
    case verification
    /// The feed may not ship it (allow lists, engine configuration, containers).
    case policy
    /// The false-positive gate (ham_corpus) flagged or could not check it.
    case ham_corpus
    /// A file of that name that sigctl did not install is in the way.
    case conflict
    case other

    /// Classifies a problem by its message. The rules go from the most specific words to
    /// the most general, so "HTTP 404 for the .sha256 sidecar" counts as integrity.
    public static func classify(_ status: ItemStatus, _ message: String) -> ErrorCause {
        let text = message.lowercased()
        func has(_ words: String...) -> Bool { words.contains { text.contains($0) } }
        if has("false-positive gate", "ham_corpus", "ham message") { return .ham_corpus }
        if has("sidecar", "checksum", "gpg", "signed by", "signing key", "fingerprint") { return .integrity }
        if has("would silence", "allow list", "how clamd scans", "cvd container", "may_silence", "may_configure") { return .policy }
        if has("verification failed", "no longer loads", "libclamav", "cl_load", "compile") { return .verification }
        if has("not installed by sigctl", "already holds", "not sigctl's", "in the way") { return .conflict }
        if text.range(of: "http [1-5][0-9][0-9]", options: .regularExpression) != nil { return .http }
        // rsync daemons' refusals are their HTTP statuses.
        if has("max connections", "unknown module", "not on this mirror") { return .http }
        if has("connect", "timed out", "time-out", "timeout", "resolve", "dns", "tls", "ssl", "certificate", "stalled", "refused", "reset by peer")
        { return .network }
        return status == .rejected ? .content : .other
    }
}
