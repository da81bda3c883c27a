import Foundation

/// `--since`/`--until`: a duration back from now ("24h", "7d"), a date ("2026-11-20",
/// local midnight), a local time ("2026-11-20T08:30", "2026-11-20 08:30:00"), or an
/// ISO 8601 time with its zone ("2026-11-20T08:30:00Z").
public enum Period {
    public static func parse(_ text: String, now: Date) -> Int64? {
        let nowSeconds = Int64(now.timeIntervalSince1970)
        if let seconds = DurationParser.seconds(text) { return nowSeconds - Int64(seconds) }
        var clock = LogClock(reference: nowSeconds)
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBufferPointer { b -> Int64? in
            guard b.count >= 10, let year = LogLineParser.number(b, 0, 4), b[4] == UInt8(ascii: "-"),
                  let month = LogLineParser.number(b, 5, 2), b[7] == UInt8(ascii: "-"), let day = LogLineParser.number(b, 8, 2),
                  (1...12).contains(month), (1...31).contains(day) else { return nil }
            if b.count == 10 { return clock.local(year: year, month: month, day: day, hour: 0, minute: 0, second: 0) }
            guard b.count >= 16, b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: " "), let h = LogLineParser.number(b, 11, 2),
                  b[13] == UInt8(ascii: ":"), let m = LogLineParser.number(b, 14, 2), h < 24, m < 60 else { return nil }
            var s = 0, at = 16
            if b.count >= 19, b[16] == UInt8(ascii: ":") {
                guard let sec = LogLineParser.number(b, 17, 2), sec < 61 else { return nil }
                s = sec
                at = 19
            }
            if at == b.count { return clock.local(year: year, month: month, day: day, hour: h, minute: m, second: s) }
            let utc = LogClock.utc(year: year, month: month, day: day, hour: h, minute: m, second: s)
            let zone = text.dropFirst(at)
            if zone == "Z" { return utc }
            guard zone.count == 6, let sign = zone.first, sign == "+" || sign == "-",
                  let oh = Int(zone.dropFirst().prefix(2)), zone.dropFirst(3).first == ":", let om = Int(zone.suffix(2)) else { return nil }
            return utc - Int64((oh * 3600 + om * 60) * (sign == "-" ? -1 : 1))
        }
    }
}
