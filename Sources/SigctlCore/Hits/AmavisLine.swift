import Foundation

/// amavisd-new's result lines, read on bytes (a busy gateway logs one per message):
/// `(12345-01) Blocked INFECTED (X,Y) {DiscardedInbound,Quarantined}, LOCAL [ip]:port [ip]
/// <s> -> <r>,<r>, quarantine: …, Queue-ID: QID, Message-ID: <id>, …`, and
/// `Passed CLEAN {RelayedInbound}, [ip]:port [ip] <s> -> <r>, …`, which is counted as clean mail.
enum AmavisLine {
    static func parse(_ b: UnsafeBufferPointer<UInt8>, _ line: LogLine) -> MailEventParser.Result {
        let m = line.message
        guard m.count > 20, b[m.lowerBound] == UInt8(ascii: "("),
              let close = Bytes.index(of: UInt8(ascii: ")"), b, m.lowerBound..<min(m.upperBound, m.lowerBound + 40)),
              close + 2 < m.upperBound else { return .skip }
        let verdict = (close + 2)..<m.upperBound
        let blocked = Bytes.hasPrefix(b, verdict, "Blocked ")
        guard blocked || Bytes.hasPrefix(b, verdict, "Passed ") else { return .skip }
        var at = verdict.lowerBound + (blocked ? 8 : 7)
        let infected = Bytes.hasPrefix(b, at..<m.upperBound, "INFECTED")
        var signatures: [String] = []
        if infected {
            at += 8
            guard Bytes.hasPrefix(b, at..<m.upperBound, " ("), let end = Bytes.index(of: UInt8(ascii: ")"), b, at..<m.upperBound) else {
                return .malformed
            }
            signatures = Bytes.string(b, (at + 2)..<end).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }
            guard !signatures.isEmpty else { return .malformed }
            at = end + 1
        } else if blocked {
            return .skip // spam, banned files, bad headers: not a signature's business
        }
        var flags = at..<at
        if Bytes.hasPrefix(b, at..<m.upperBound, " {"), let end = Bytes.index(of: UInt8(ascii: "}"), b, at..<m.upperBound) {
            flags = (at + 2)..<end
            at = end + 1
        }
        let rest = at..<m.upperBound
        // The client: the first [ip] (with or without :port) before the envelope.
        let arrow = Bytes.find(b, rest, " -> ")
        let before = rest.lowerBound..<(arrow ?? rest.upperBound)
        var clientIP: String?
        if let open = Bytes.index(of: UInt8(ascii: "["), b, before), let end = Bytes.index(of: UInt8(ascii: "]"), b, open..<before.upperBound) {
            clientIP = MailEventParser.unprefixed(Bytes.string(b, (open + 1)..<end))
        }
        var sender: String?, recipients: [String] = []
        if let arrow, let lt = Bytes.lastIndex(of: UInt8(ascii: "<"), b, before) {
            let gt = Bytes.index(of: UInt8(ascii: ">"), b, lt..<before.upperBound) ?? before.upperBound
            sender = Bytes.string(b, (lt + 1)..<gt)
            var i = arrow + 4
            while i < m.upperBound, b[i] == UInt8(ascii: "<"), let gt = Bytes.index(of: UInt8(ascii: ">"), b, i..<m.upperBound) {
                recipients.append(Bytes.string(b, (i + 1)..<gt))
                i = gt + 1
                guard i + 1 < m.upperBound, b[i] == UInt8(ascii: ","), b[i + 1] == UInt8(ascii: "<") else { break }
                i += 1
            }
        }
        if sender == "" { sender = nil }
        guard infected else { return .event(.clean(clientIP: clientIP, sender: sender)) }
        let action: HitAction
        if !blocked { action = .passed }
        else if Bytes.find(b, flags, "Quarantined") != nil { action = .quarantined }
        else if Bytes.find(b, flags, "Rejected") != nil || Bytes.find(b, flags, "Bounced") != nil { action = .rejected }
        else { action = .discarded }
        return .event(.infected(Infection(time: line.time, signatures: signatures, log: .amavis, host: MailEventParser.host(b, line),
                                          queue: field(b, rest, ", Queue-ID: "), messageID: field(b, rest, ", Message-ID: "),
                                          clientIP: clientIP, sender: sender, recipients: recipients, action: action)))
    }

    /// The value after `key` up to the next ", " (amavis's "Key: value" list).
    private static func field(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, _ key: StaticString) -> String? {
        guard let at = Bytes.find(b, r, key) else { return nil }
        let start = at + key.utf8CodeUnitCount
        let end = Bytes.find(b, start..<r.upperBound, ", ") ?? r.upperBound
        return end > start ? Bytes.string(b, start..<end) : nil
    }
}
