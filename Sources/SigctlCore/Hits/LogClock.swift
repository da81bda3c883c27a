import Foundation

/// Turns the time stamps of mail logs into seconds since the epoch, fast: a log has
/// millions of lines, so the civil date is computed by arithmetic and the local
/// zone's offset is looked up once per hour of log time.
struct LogClock {
    /// The latest time the log can hold (its file's mtime, or now for a pipe). Syslog's
    /// classic stamps have no year: a stamp later than this (plus a day of clock skew)
    /// belongs to the year before, which is how a log that spans New Year reads right.
    let reference: Int64
    private let referenceYear: Int
    private var offsets: [Int64: Int64] = [:]

    init(reference: Int64) {
        self.reference = reference
        var t = time_t(reference), parts = tm()
        localtime_r(&t, &parts)
        referenceYear = Int(parts.tm_year) + 1900
    }

    /// Days from 1970-01-01 to a civil date (proleptic Gregorian).
    static func days(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let m = Int64(month)
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func utc(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) -> Int64 {
        days(year: year, month: month, day: day) * 86400 + Int64(hour * 3600 + minute * 60 + second)
    }

    /// A wall-clock time in the machine's zone (TZ) as seconds since the epoch.
    mutating func local(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) -> Int64 {
        let wall = Self.utc(year: year, month: month, day: day, hour: hour, minute: minute, second: 0)
        let key = wall / 3600
        let offset: Int64
        if let known = offsets[key] {
            offset = known
        } else {
            // The offset in force at that wall time: guess with the offset at the wall
            // time read as UTC, then correct once (right except inside a DST jump).
            func gmtoff(_ at: Int64) -> Int64 {
                var t = time_t(at), parts = tm()
                localtime_r(&t, &parts)
                return Int64(parts.tm_gmtoff)
            }
            let first = gmtoff(wall)
            offset = gmtoff(wall - first)
            if offsets.count > 100_000 { offsets.removeAll(keepingCapacity: true) }
            offsets[key] = offset
        }
        return wall - offset + Int64(second)
    }

    /// A classic syslog stamp (month, day, time; no year), placed in the year that puts
    /// it at or before the reference time.
    mutating func yearless(month: Int, day: Int, hour: Int, minute: Int, second: Int) -> Int64 {
        let t = local(year: referenceYear, month: month, day: day, hour: hour, minute: minute, second: second)
        if t > reference + 86400 {
            return local(year: referenceYear - 1, month: month, day: day, hour: hour, minute: minute, second: second)
        }
        return t
    }

    static let monthNames: [UInt32] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        .map { name in name.utf8.reduce(UInt32(0)) { $0 << 8 | UInt32($1) } }

    /// 1–12 for a three-letter English month name at `at`, or nil.
    static func month(_ bytes: UnsafeBufferPointer<UInt8>, at: Int) -> Int? {
        guard at + 3 <= bytes.count else { return nil }
        let key = UInt32(bytes[at]) << 16 | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2])
        return monthNames.firstIndex(of: key).map { $0 + 1 }
    }
}
