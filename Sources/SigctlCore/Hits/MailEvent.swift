import Foundation

/// What the mail system did with a message a signature fired on.
public enum HitAction: String, Codable, Sendable, CaseIterable {
    case rejected, discarded, quarantined, passed
}

/// Which log named the signature: the `log` of a hit.
public enum HitLog: String, Codable, Sendable {
    /// Postfix's cleanup line, whose reject text names the signature (clamav-milter's RejectMsg with %v).
    case postfix
    case clamavMilter = "clamav-milter"
    case amavis
    case exim
    case clamd
}

/// A line that names one or more signatures.
struct Infection {
    var time: Int64
    var signatures: [String]
    var log: HitLog
    var host: String?
    var queue: String?
    var messageID: String?
    var clientHost: String?
    var clientIP: String?
    var sender: String?
    var recipients: [String] = []
    var action: HitAction?
    /// clamd's line for a part amavis unpacked (its path is in amavis's directory).
    var amavisPart = false
}

/// The facts one log line gives about a message or a detection.
enum MailEvent {
    /// postfix/smtpd: `QID: client=host[ip]`.
    case client(queue: String, host: String?, ip: String?)
    /// postfix/cleanup: `QID: message-id=<id>`.
    case messageID(queue: String, id: String)
    /// postfix/qmgr: `QID: from=<sender>, size=…` (the message was accepted).
    case queued(queue: String, sender: String)
    /// postfix/qmgr: `QID: removed`.
    case removed(queue: String)
    /// postfix/cleanup: `QID: milter-reject|milter-hold|milter-discard: END-OF-MESSAGE from host[ip]: …; from=<s> to=<r> …`.
    case milterAction(queue: String, action: HitAction, clientHost: String?, clientIP: String?, sender: String?, recipient: String?, reply: String)
    /// A line naming signatures (clamav-milter, amavis, Exim, clamd).
    case infected(Infection)
    /// Mail that passed a scan clean (amavis `Passed CLEAN`) or arrived (Exim `<=`): only counted.
    case clean(clientIP: String?, sender: String?)
}

/// Which daemon wrote a line, from its syslog tag (or the file's layout).
enum LogSource {
    case postfix(service: String)
    case amavis, exim, clamd, milter

    static func of(_ b: UnsafeBufferPointer<UInt8>, _ line: LogLine) -> LogSource? {
        switch line.layout {
        case .exim: return .exim
        case .clamav: return nil // decided by the message
        case .syslog: break
        }
        let p = line.program
        guard p.count >= 4 else { return nil }
        let first = b[p.lowerBound]
        if first == UInt8(ascii: "p"), Bytes.hasPrefix(b, p, "postfix") {
            // postfix/smtpd, postfix-in/cleanup, postfix/submission/smtpd: the service is the last part.
            guard let slash = p.lastIndex(where: { b[$0] == UInt8(ascii: "/") }) else { return nil }
            return .postfix(service: Bytes.string(b, (slash + 1)..<p.upperBound))
        }
        if Bytes.hasPrefix(b, p, "clamav-milter") { return .milter }
        if Bytes.hasPrefix(b, p, "clamd") { return .clamd }
        if Bytes.hasPrefix(b, p, "exim") { return .exim }
        if Bytes.find(b, p, "amavis") != nil { return .amavis }
        return nil
    }
}

/// Small helpers over a line's bytes.
enum Bytes {
    static func string(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: b[r]), as: UTF8.self)
    }

    /// Where `byte` first occurs within `r`.
    static func index(of byte: UInt8, _ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Int? {
        guard !r.isEmpty, let base = b.baseAddress, let hit = memchr(base + r.lowerBound, Int32(byte), r.count) else { return nil }
        return UnsafeRawPointer(hit) - UnsafeRawPointer(base)
    }

    /// Where `byte` last occurs within `r`.
    static func lastIndex(of byte: UInt8, _ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Int? {
        var i = r.upperBound
        while i > r.lowerBound {
            i -= 1
            if b[i] == byte { return i }
        }
        return nil
    }

    static func hasPrefix(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, _ prefix: StaticString) -> Bool {
        let n = prefix.utf8CodeUnitCount
        guard r.count >= n else { return false }
        return memcmp(b.baseAddress! + r.lowerBound, prefix.utf8Start, n) == 0
    }

    /// Where `needle` starts within `r`, or nil (memchr for its first byte, then memcmp).
    static func find(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, _ needle: StaticString) -> Int? {
        let n = needle.utf8CodeUnitCount
        guard n > 0, r.count >= n, let base = b.baseAddress else { return nil }
        let first = Int32(needle.utf8Start.pointee)
        var at = r.lowerBound
        let last = r.upperBound - n
        while at <= last {
            guard let hit = memchr(base + at, first, last - at + 1) else { return nil }
            let i = UnsafeRawPointer(hit) - UnsafeRawPointer(base)
            if memcmp(base + i, needle.utf8Start, n) == 0 { return i }
            at = i + 1
        }
        return nil
    }
}
