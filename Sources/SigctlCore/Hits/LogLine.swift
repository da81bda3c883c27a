import Foundation

/// One line of a mail log, split into the parts every format has: when, which host,
/// which program (and pid) and the message. Ranges index the line's bytes, which are
/// only valid while the line is being read.
struct LogLine {
    enum Layout {
        /// `Mmm dd hh:mm:ss host prog[pid]: msg`, `2026-11-23T10:00:00.123+01:00 host prog[pid]: msg`
        /// (rsyslog's precise stamps) or RFC 5424 (`<pri>1 stamp host app procid msgid sd msg`).
        case syslog
        /// Exim's own main log: `2026-11-23 10:00:00 [pid] msg`, in local time.
        case exim
        /// clamd's and clamav-milter's own log files (LogTime): `Mon Nov 23 10:00:00 2026 -> msg`.
        case clamav
    }

    var time: Int64
    var layout: Layout
    var host: Range<Int>?
    var program: Range<Int>
    var pid: Int
    var message: Range<Int>
}

/// What one line of input was.
enum ParsedLine {
    case line(LogLine)
    /// Not a log line of any format sigctl reads (a comment, a blank line, another log).
    case unknown
    /// It starts like a log line but its time stamp is not valid.
    case malformed
}

/// Splits log lines. Works on bytes: a log has millions of lines and most are skipped
/// before a string is made.
enum LogLineParser {
    static func parse(_ b: UnsafeBufferPointer<UInt8>, clock: inout LogClock) -> ParsedLine {
        guard b.count >= 16 else { return .unknown }
        var at = 0
        // RFC 5424, or a classic line that kept its <pri>.
        if b[0] == UInt8(ascii: "<") {
            var i = 1
            while i < min(b.count, 5), isDigit(b[i]) { i += 1 }
            guard i > 1, i < b.count, b[i] == UInt8(ascii: ">") else { return .unknown }
            at = i + 1
            if at + 2 < b.count, b[at] == UInt8(ascii: "1"), b[at + 1] == UInt8(ascii: " ") {
                return rfc5424(b, from: at + 2, clock: &clock)
            }
        }
        if isDigit(b[at]) {
            guard let (time, end, layout) = isoStamp(b, at: at, clock: &clock) else { return looksISO(b, at: at) ? .malformed : .unknown }
            if layout == .exim { return exim(b, time: time, from: end) }
            return tagged(b, time: time, from: end, layout: .syslog)
        }
        if let month = LogClock.month(b, at: at), at + 15 < b.count, b[at + 3] == UInt8(ascii: " ") {
            // Mmm dd hh:mm:ss, the day padded with a space or a zero, or not padded at all.
            var t = at + 4
            if isDigit(b[t]), b[t + 1] == UInt8(ascii: " ") { t -= 1 }
            guard t + 12 < b.count, let day = number(b, t, 2, padded: true), let h = number(b, t + 3, 2), let m = number(b, t + 6, 2),
                  let s = number(b, t + 9, 2), b[t + 2] == UInt8(ascii: " "), b[t + 5] == UInt8(ascii: ":"), b[t + 8] == UInt8(ascii: ":"),
                  (1...31).contains(day), h < 24, m < 60, s < 61, b[t + 11] == UInt8(ascii: " ") else { return .malformed }
            let time = clock.yearless(month: month, day: day, hour: h, minute: m, second: s)
            return tagged(b, time: time, from: t + 12, layout: .syslog)
        }
        // clamd/clamav-milter: "Mon Nov 23 10:00:00 2026 -> msg"
        if at == 0, b.count > 28, b[3] == UInt8(ascii: " "), let month = LogClock.month(b, at: 4) {
            guard let day = number(b, 8, 2, padded: true), let h = number(b, 11, 2), let m = number(b, 14, 2),
                  let s = number(b, 17, 2), let year = number(b, 20, 4), (1...31).contains(day), h < 24, m < 60, s < 61,
                  b.count > 27, b[24] == UInt8(ascii: " "), b[25] == UInt8(ascii: "-"), b[26] == UInt8(ascii: ">") else { return .malformed }
            let time = clock.local(year: year, month: month, day: day, hour: h, minute: m, second: s)
            let start = b.count > 27 && b[27] == UInt8(ascii: " ") ? 28 : 27
            return .line(LogLine(time: time, layout: .clamav, host: nil, program: 0..<0, pid: 0, message: start..<b.count))
        }
        return .unknown
    }

    /// The tag (`prog[pid]:` or `prog:`) after the host, then the message.
    private static func tagged(_ b: UnsafeBufferPointer<UInt8>, time: Int64, from: Int, layout: LogLine.Layout) -> ParsedLine {
        var i = from
        while i < b.count, b[i] != UInt8(ascii: " ") { i += 1 }
        let host = from..<i
        i += 1
        guard i < b.count else { return .unknown }
        let programStart = i
        while i < b.count, b[i] != UInt8(ascii: "["), b[i] != UInt8(ascii: ":"), b[i] != UInt8(ascii: " ") { i += 1 }
        let program = programStart..<i
        var pid = 0
        if i < b.count, b[i] == UInt8(ascii: "[") {
            i += 1
            while i < b.count, isDigit(b[i]) { if pid < 1 << 40 { pid = pid * 10 + Int(b[i] - 48) }; i += 1 }
            guard i < b.count, b[i] == UInt8(ascii: "]") else { return .unknown }
            i += 1
        }
        guard i < b.count, b[i] == UInt8(ascii: ":") else {
            // No tag ("last message repeated 3 times"): nothing sigctl reads.
            return .unknown
        }
        i += 1
        if i < b.count, b[i] == UInt8(ascii: " ") { i += 1 }
        return .line(LogLine(time: time, layout: layout, host: host, program: program, pid: pid, message: i..<b.count))
    }

    /// Exim's main log: an optional `[pid] ` after the stamp, then the message.
    private static func exim(_ b: UnsafeBufferPointer<UInt8>, time: Int64, from: Int) -> ParsedLine {
        var i = from, pid = 0
        if i < b.count, b[i] == UInt8(ascii: "[") {
            var j = i + 1
            while j < b.count, isDigit(b[j]) { if pid < 1 << 40 { pid = pid * 10 + Int(b[j] - 48) }; j += 1 }
            if j < b.count, b[j] == UInt8(ascii: "]"), j + 1 < b.count, b[j + 1] == UInt8(ascii: " ") { i = j + 2 } else { pid = 0 }
        }
        return .line(LogLine(time: time, layout: .exim, host: nil, program: 0..<0, pid: pid, message: i..<b.count))
    }

    /// `<pri>1 2026-11-23T10:00:00.003Z host app procid msgid [sd] msg` (RFC 5424).
    private static func rfc5424(_ b: UnsafeBufferPointer<UInt8>, from: Int, clock: inout LogClock) -> ParsedLine {
        guard let (time, end, layout) = isoStamp(b, at: from, clock: &clock), layout == .syslog else { return .malformed }
        var i = end
        func field() -> Range<Int> {
            let start = i
            while i < b.count, b[i] != UInt8(ascii: " ") { i += 1 }
            defer { i += 1 }
            return start..<i
        }
        let host = field(), app = field(), procid = field()
        _ = field() // msgid
        guard i < b.count else { return .malformed }
        // Structured data: "-" or one or more [..] elements, with \] escaped inside.
        if b[i] == UInt8(ascii: "-") {
            i += 2
        } else {
            while i < b.count, b[i] == UInt8(ascii: "[") {
                i += 1
                while i < b.count, b[i] != UInt8(ascii: "]") { i += b[i] == UInt8(ascii: "\\") ? 2 : 1 }
                i += 1
            }
            i += 1
        }
        var pid = 0
        for k in procid { guard isDigit(b[k]), pid < 1 << 40 else { pid = 0; break }; pid = pid * 10 + Int(b[k] - 48) }
        // A message may start with a UTF-8 byte order mark.
        if i + 3 <= b.count, b[i] == 0xef, b[i + 1] == 0xbb, b[i + 2] == 0xbf { i += 3 }
        let nil5424 = { (r: Range<Int>) in r.count == 1 && b[r.lowerBound] == UInt8(ascii: "-") }
        return .line(LogLine(time: time, layout: .syslog, host: nil5424(host) ? nil : host, program: nil5424(app) ? 0..<0 : app,
                             pid: pid, message: min(i, b.count)..<b.count))
    }

    /// `YYYY-MM-DDThh:mm:ss[.frac](Z|±hh:mm)` (syslog) or `YYYY-MM-DD hh:mm:ss[.frac][ ±hhmm]` (Exim).
    /// Returns the time, where the text after the stamp and its separating space starts,
    /// and which of the two it was.
    private static func isoStamp(_ b: UnsafeBufferPointer<UInt8>, at: Int, clock: inout LogClock) -> (Int64, Int, LogLine.Layout)? {
        guard at + 19 <= b.count, let year = number(b, at, 4), b[at + 4] == UInt8(ascii: "-"), let month = number(b, at + 5, 2),
              b[at + 7] == UInt8(ascii: "-"), let day = number(b, at + 8, 2), let h = number(b, at + 11, 2),
              b[at + 13] == UInt8(ascii: ":"), let m = number(b, at + 14, 2), b[at + 16] == UInt8(ascii: ":"),
              let s = number(b, at + 17, 2), (1...12).contains(month), (1...31).contains(day), h < 24, m < 60, s < 61 else { return nil }
        let separator = b[at + 10]
        guard separator == UInt8(ascii: "T") || separator == UInt8(ascii: " ") else { return nil }
        var i = at + 19
        if i < b.count, b[i] == UInt8(ascii: ".") || b[i] == UInt8(ascii: ",") {
            i += 1
            while i < b.count, isDigit(b[i]) { i += 1 }
        }
        if separator == UInt8(ascii: "T") {
            guard i < b.count else { return nil }
            var offset = 0
            if b[i] == UInt8(ascii: "Z") {
                i += 1
            } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-"), let oh = number(b, i + 1, 2),
                      i + 5 < b.count, b[i + 3] == UInt8(ascii: ":"), let om = number(b, i + 4, 2) {
                offset = (oh * 3600 + om * 60) * (b[i] == UInt8(ascii: "-") ? -1 : 1)
                i += 6
            } else {
                return nil
            }
            guard i < b.count, b[i] == UInt8(ascii: " ") else { return nil }
            let time = LogClock.utc(year: year, month: month, day: day, hour: h, minute: m, second: s) - Int64(offset)
            return (time, i + 1, .syslog)
        }
        guard i < b.count, b[i] == UInt8(ascii: " ") else { return nil }
        i += 1
        // Exim with log_timezone: " +0100" after the time.
        if i + 5 < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-"), let oh = number(b, i + 1, 2),
           let om = number(b, i + 3, 2), b[i + 5] == UInt8(ascii: " ") {
            let offset = (oh * 3600 + om * 60) * (b[i] == UInt8(ascii: "-") ? -1 : 1)
            let time = LogClock.utc(year: year, month: month, day: day, hour: h, minute: m, second: s) - Int64(offset)
            return (time, i + 6, .exim)
        }
        return (clock.local(year: year, month: month, day: day, hour: h, minute: m, second: s), i, .exim)
    }

    private static func looksISO(_ b: UnsafeBufferPointer<UInt8>, at: Int) -> Bool {
        at + 10 < b.count && number(b, at, 4) != nil && b[at + 4] == UInt8(ascii: "-") && b[at + 7] == UInt8(ascii: "-")
    }

    @inline(__always) static func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }

    /// `count` decimal digits at `at` (the first may be a space when `padded`).
    @inline(__always)
    static func number(_ b: UnsafeBufferPointer<UInt8>, _ at: Int, _ count: Int, padded: Bool = false) -> Int? {
        guard at + count <= b.count else { return nil }
        var value = 0
        for k in at..<(at + count) {
            let c = b[k]
            if padded, k == at, c == UInt8(ascii: " ") { continue }
            guard isDigit(c) else { return nil }
            value = value * 10 + Int(c - 48)
        }
        return value
    }
}
