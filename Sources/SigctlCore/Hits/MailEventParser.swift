import Foundation

/// Reads the facts sigctl needs out of the lines of Postfix, clamav-milter, amavisd-new,
/// Exim and clamd. A line that is not one of those yields nil; a line that is, but does
/// not have the fields its kind always has, is `malformed`.
enum MailEventParser {
    enum Result {
        case event(MailEvent)
        case skip
        case malformed
    }

    static func parse(_ b: UnsafeBufferPointer<UInt8>, _ line: LogLine) -> Result {
        let m = line.message
        if line.layout == .clamav {
            return milterOrClamd(b, line, in: m)
        }
        guard let source = LogSource.of(b, line) else { return .skip }
        switch source {
        case .postfix(let service): return postfix(b, line, service: service)
        case .milter, .clamd: return milterOrClamd(b, line, in: m)
        case .amavis: return AmavisLine.parse(b, line)
        case .exim: return exim(b, line)
        }
    }

    // MARK: Postfix

    private static func postfix(_ b: UnsafeBufferPointer<UInt8>, _ line: LogLine, service: String) -> Result {
        let m = line.message
        // The queue id: letters and digits, then ": ".
        var i = m.lowerBound
        while i < m.upperBound, isAlnum(b[i]) { i += 1 }
        guard i - m.lowerBound >= 5, i + 1 < m.upperBound, b[i] == UInt8(ascii: ":"), b[i + 1] == UInt8(ascii: " ") else { return .skip }
        let queue = Bytes.string(b, m.lowerBound..<i)
        let rest = (i + 2)..<m.upperBound
        switch service {
        case "smtpd":
            guard Bytes.hasPrefix(b, rest, "client=") else { return .skip }
            // client=host[ip], perhaps followed by ", sasl_method=…".
            let value = (rest.lowerBound + 7)..<(Bytes.index(of: UInt8(ascii: ","), b, rest) ?? rest.upperBound)
            guard let open = Bytes.index(of: UInt8(ascii: "["), b, value),
                  let close = Bytes.lastIndex(of: UInt8(ascii: "]"), b, value), open < close else { return .malformed }
            let host = Bytes.string(b, value.lowerBound..<open)
            return .event(.client(queue: queue, host: host == "unknown" || host.isEmpty ? nil : host,
                                  ip: unprefixed(Bytes.string(b, (open + 1)..<close))))
        case "cleanup":
            if Bytes.hasPrefix(b, rest, "message-id=") {
                let id = Bytes.string(b, (rest.lowerBound + 11)..<rest.upperBound)
                return id.isEmpty ? .skip : .event(.messageID(queue: queue, id: id))
            }
            guard Bytes.hasPrefix(b, rest, "milter-") else { return .skip }
            return milterAction(Bytes.string(b, rest), queue: queue)
        case "qmgr":
            if Bytes.hasPrefix(b, rest, "from=<") {
                let value = (rest.lowerBound + 6)..<rest.upperBound
                guard let close = Bytes.find(b, value, ">, ") ?? Bytes.lastIndex(of: UInt8(ascii: ">"), b, value) else { return .malformed }
                return .event(.queued(queue: queue, sender: Bytes.string(b, value.lowerBound..<close)))
            }
            if rest.count == 7, Bytes.hasPrefix(b, rest, "removed") { return .event(.removed(queue: queue)) }
            return .skip
        default:
            return .skip
        }
    }

    /// `milter-reject: END-OF-MESSAGE from host[ip]: 5.7.1 text; from=<s> to=<r> proto=… helo=<…>`
    private static func milterAction(_ text: String, queue: String) -> Result {
        let action: HitAction
        if text.hasPrefix("milter-reject: ") { action = .rejected }
        else if text.hasPrefix("milter-hold: ") { action = .quarantined }
        else if text.hasPrefix("milter-discard: ") { action = .discarded }
        else { return .skip }
        // Only the end of DATA, where a virus scan answers; earlier stages are other milters' business.
        guard let stage = text.range(of: ": END-OF-MESSAGE from ") else { return .skip }
        let afterFrom = text[stage.upperBound...]
        guard let endpointEnd = afterFrom.range(of: "]: ") else { return .malformed }
        let (host, ip) = hostAndIP(afterFrom[..<text.index(after: endpointEnd.lowerBound)])
        let tail = afterFrom[endpointEnd.upperBound...]
        let envelope = tail.range(of: "; from=<", options: .backwards)
        let reply = String(envelope.map { tail[..<$0.lowerBound] } ?? tail)
        var sender: String?, recipient: String?
        if let envelope {
            let fields = tail[envelope.upperBound...]
            sender = fields.range(of: ">").map { String(fields[..<$0.lowerBound]) }
            if let to = fields.range(of: " to=<") {
                let after = fields[to.upperBound...]
                recipient = after.range(of: ">").map { String(after[..<$0.lowerBound]) }
            }
        }
        return .event(.milterAction(queue: queue, action: action, clientHost: host, clientIP: ip, sender: sender,
                                    recipient: recipient, reply: reply))
    }

    // MARK: clamav-milter and clamd

    private static func milterOrClamd(_ b: UnsafeBufferPointer<UInt8>, _ line: LogLine, in range: Range<Int>) -> Result {
        var m = range
        // A syslog line that carries clamd's own stamp too: "Wed Sep  6 18:32:45 2023 -> …".
        if m.count > 28, b[m.lowerBound + 3] == UInt8(ascii: " "), LogClock.month(b, at: m.lowerBound + 4) != nil,
           b[m.lowerBound + 25] == UInt8(ascii: "-"), b[m.lowerBound + 26] == UInt8(ascii: ">") {
            m = (m.lowerBound + 28)..<m.upperBound
        }
        if Bytes.hasPrefix(b, m, "Message "), Bytes.find(b, m, " infected by ") != nil {
            return milterInfected(Bytes.string(b, m), line: line, b: b)
        }
        if m.count > 7, Bytes.hasPrefix(b, (m.upperBound - 6)..<m.upperBound, " FOUND") {
            let text = Bytes.string(b, m.lowerBound..<(m.upperBound - 6))
            guard let colon = text.range(of: ": ", options: .backwards) else { return .malformed }
            var name = text[colon.upperBound...]
            // ExtendedDetectionInfo: "Name(md5:size)".
            if name.hasSuffix(")"), let open = name.lastIndex(of: "(") { name = name[..<open] }
            guard !name.isEmpty, !name.contains(" ") else { return .malformed }
            var infection = Infection(time: line.time, signatures: [String(name)], log: .clamd, host: host(b, line))
            infection.amavisPart = text[..<colon.lowerBound].contains("/amavis")
            return .event(.infected(infection))
        }
        return .skip
    }

    /// `Message from <s> to <r> infected by X` (LogInfected Basic) or `Message QID from <s>
    /// to <r> with subject '…' message-id '<…>' date '…' infected by X` (Full).
    private static func milterInfected(_ text: String, line: LogLine, b: UnsafeBufferPointer<UInt8>) -> Result {
        // The subject comes before the signature and may say anything: the last " infected by " counts.
        guard let by = text.range(of: " infected by ", options: .backwards) else { return .malformed }
        let signature = text[by.upperBound...]
        guard !signature.isEmpty, !signature.contains(" ") else { return .malformed }
        var words = text[..<by.lowerBound].dropFirst("Message ".count)
        var queue: String?
        if !words.hasPrefix("from <") {
            let id = words.prefix { $0 != " " }
            if id != "UNKNOWN" && id != "NOQUEUE" { queue = String(id) }
            words = words.dropFirst(id.count + 1)
        }
        guard words.hasPrefix("from <"), let toMark = words.range(of: "> to <") else { return .malformed }
        let sender = String(words[words.index(words.startIndex, offsetBy: 6)..<toMark.lowerBound])
        let after = words[toMark.upperBound...]
        let recipient = after.prefix { $0 != ">" }
        var messageID: String?
        if let idMark = after.range(of: " message-id '"), let end = after[idMark.upperBound...].range(of: "' date '", options: .backwards) {
            messageID = String(after[idMark.upperBound..<end.lowerBound])
        }
        let clean = { (s: String) in s == "UNKNOWN" ? nil : s }
        return .event(.infected(Infection(time: line.time, signatures: [String(signature)], log: .clamavMilter, host: host(b, line),
                                          queue: queue, messageID: messageID.flatMap { $0.isEmpty ? nil : $0 },
                                          sender: clean(sender), recipients: clean(String(recipient)).map { [$0] } ?? [])))
    }

    // MARK: Exim

    /// `1abcDE-000123-XY <= sender H=host (helo) [ip]:port … id=<mid>` counts as clean mail;
    /// `… H=host [ip] F=<sender> rejected after DATA: This message contains a virus (X).` is a detection.
    private static func exim(_ b: UnsafeBufferPointer<UInt8>, _ line: LogLine) -> Result {
        let m = line.message
        if Bytes.find(b, m, " rejected after DATA") == nil {
            guard let arrow = Bytes.find(b, m, " <= "), arrow - m.lowerBound < 30 else { return .skip }
            let text = Bytes.string(b, (arrow + 4)..<m.upperBound)
            let sender = text.prefix { $0 != " " }
            return .event(.clean(clientIP: eximHost(text).ip, sender: sender == "<>" ? nil : String(sender)))
        }
        guard Bytes.find(b, m, "temporarily rejected") == nil else { return .skip }
        let text = Bytes.string(b, m)
        guard let at = text.range(of: " rejected after DATA") else { return .malformed }
        let reason = text[at.lowerBound...]
        let lower = reason.lowercased()
        guard lower.contains("virus") || lower.contains("malware") else { return .skip }
        var tail = reason
        while let last = tail.last, last == "." || last == " " { tail = tail.dropLast() }
        guard tail.hasSuffix(")"), let open = tail.lastIndex(of: "(") else { return .malformed }
        let name = tail[tail.index(after: open)..<tail.index(before: tail.endIndex)]
        guard !name.isEmpty, !name.contains(" ") else { return .malformed }
        let id = text.prefix { $0 != " " }
        let isID = id.count >= 16 && id.contains("-") && !id.contains("=")
        let (clientHost, ip) = eximHost(Substring(text))
        var sender: String?
        if let f = text.range(of: " F=") {
            var value = text[f.upperBound...].prefix { $0 != " " }
            if value.hasPrefix("<") && value.hasSuffix(">") { value = value.dropFirst().dropLast() }
            sender = value.isEmpty ? nil : String(value)
        }
        return .event(.infected(Infection(time: line.time, signatures: [String(name)], log: .exim, host: host(b, line),
                                          queue: isID ? String(id) : nil, clientHost: clientHost, clientIP: ip, sender: sender,
                                          action: .rejected)))
    }

    /// `H=host (helo) [ip]:port`, `H=(helo) [ip]` or `H=[ip]`.
    private static func eximHost<S: StringProtocol>(_ text: S) -> (host: String?, ip: String?) {
        guard let h = text.range(of: "H=") else { return (nil, nil) }
        let after = text[h.upperBound...]
        var host: String?
        if let first = after.first, first != "(" && first != "[" { host = String(after.prefix { $0 != " " }) }
        guard let open = after.firstIndex(of: "["), let close = after[open...].firstIndex(of: "]") else { return (host, nil) }
        return (host, unprefixed(after[after.index(after: open)..<close]))
    }

    // MARK: Helpers

    /// An address as amavis and Exim write IPv6 ones, "IPv6:2001:db8::1", without the prefix.
    static func unprefixed<S: StringProtocol>(_ text: S) -> String {
        text.lowercased().hasPrefix("ipv6:") ? String(text.dropFirst(5)) : String(text)
    }

    /// `host[ip]` as Postfix writes a client; "unknown" is no host name.
    static func hostAndIP<S: StringProtocol>(_ text: S) -> (String?, String?) {
        guard let open = text.firstIndex(of: "["), let close = text.lastIndex(of: "]"), open < close else {
            return (text.isEmpty ? nil : String(text), nil)
        }
        let host = String(text[..<open])
        return (host == "unknown" || host.isEmpty ? nil : host, unprefixed(text[text.index(after: open)..<close]))
    }

    static func host(_ b: UnsafeBufferPointer<UInt8>, _ line: LogLine) -> String? {
        line.host.map { Bytes.string(b, $0) }
    }

    @inline(__always) private static func isAlnum(_ c: UInt8) -> Bool {
        (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
    }
}
