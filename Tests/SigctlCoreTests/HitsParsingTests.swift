import Foundation
import Testing
@testable import SigctlCore

/// Reads a log written to a temporary file, as `hits` does.
func scanLog(_ text: String, modified: Date? = nil, since: Int64? = nil, in dir: TempDir = TempDir()) -> (ScanResult, TempDir) {
    let path = dir.write("mail.log", text)
    if let modified {
        var times = [timespec(tv_sec: Int(modified.timeIntervalSince1970), tv_nsec: 0),
                     timespec(tv_sec: Int(modified.timeIntervalSince1970), tv_nsec: 0)]
        utimensat(AT_FDCWD, path, &times, 0)
    }
    return (HitScanner.scan([.file(path)], since: since, until: nil, now: Int64(Date().timeIntervalSince1970)), dir)
}

/// The local wall-clock parts of a time, to check placement without fixing the zone.
func localParts(_ t: Int64) -> (year: Int, month: Int, day: Int, hour: Int) {
    var time = time_t(t), parts = tm()
    localtime_r(&time, &parts)
    return (Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday), Int(parts.tm_hour))
}

/// The real public samples in Tests/Fixtures/maillogs (see its README for sources and licences).
@Suite struct HitsRealSampleTests {
    static let samples = packageRoot + "/Tests/Fixtures/maillogs"

    func scan(_ name: String) -> ScanResult {
        HitScanner.scan([.file(Self.samples + "/" + name)], since: nil, until: nil, now: Int64(Date().timeIntervalSince1970))
    }

    @Test func postfixWithClamavMilterJoinsTheMilterLineAndTheReject() {
        let result = scan("imscp/mail.log")
        #expect(result.detections.count == 1)
        let d = result.detections[0]
        #expect(d.signature == "Eicar-Test-Signature")
        #expect(d.log == .clamavMilter)
        #expect(d.clientIP == "192.168.5.100")
        #expect(d.clientHost == nil) // Postfix logged it as "unknown"
        #expect(d.sender == "nuxwin@domain.tld")
        #expect(d.recipients == ["nuxwin@domain.tld"])
        #expect(d.queueID == "0A618260345")
        #expect(d.messageID == "<54E6A8BF.3080504@domain.tld>")
        #expect(d.action == .rejected)
        #expect(result.inputs[0].malformed == 0)
    }

    @Test func amavisBlockedAndPassedInfectedAreDetectionsAndCleanIsCounted() {
        let logwatch = scan("logwatch/amavis.log")
        #expect(logwatch.detections.map(\.signature) == ["HTML.Phishing.Bank-43", "Trojan.Downloader.Small-9993"])
        #expect(logwatch.detections.map(\.clientIP) == ["198.168.0.1", "10.0.0.2"])
        #expect(logwatch.detections.map(\.sender) == ["bogus@example.com", "bogus@example.net"])
        #expect(logwatch.detections.map(\.messageID) == ["<509@acm.org>", "<9009@acm.org>"])
        #expect(logwatch.detections.allSatisfy { $0.log == .amavis && $0.action == .discarded })
        // Two Passed CLEAN lines, one from 10.0.0.1.
        #expect(logwatch.clean.clean(clientIP: "10.0.0.1") >= 1)
        #expect(logwatch.inputs[0].malformed == 0)

        let zentyal = scan("zentyal/amavis.log")
        #expect(zentyal.detections.map(\.signature) == ["Eicar-Test-Signature", "Eicar-Test-Signature"])
        #expect(zentyal.detections.map(\.action) == [.discarded, .passed])
        #expect(zentyal.detections.allSatisfy { $0.sender == "spam@zentyal.org" && $0.recipients == ["macaco@monos.org"] && $0.clientIP == nil })
    }

    @Test func eximRejectAfterDataNamesTheClientAndTheSignature() {
        let result = scan("fail2ban/exim-spam")
        #expect(result.detections.count == 1)
        let d = result.detections[0]
        #expect(d.signature == "Sanesecurity.Junk.39934.UNOFFICIAL")
        #expect(d.clientIP == "83.235.177.148")
        #expect(d.clientHost == "egeftech.static.otenet.gr")
        #expect(d.sender == "auguriesvbd40@google.com")
        #expect(d.queueID == "1Unmew-0000ea-SE")
        #expect(d.log == .exim && d.action == .rejected)
        #expect(localParts(d.time) == (2013, 6, 15, 11))
    }

    @Test func clamdsFoundLineInsideSyslog() {
        let result = scan("clamd/clamd.log")
        #expect(result.detections.map(\.signature) == ["Win.Test.EICAR_HDB-1"])
        #expect(result.detections[0].log == .clamd)
    }

    @Test func logsWithoutVirusesGiveNoneAndNothingIsFatal() {
        for name in ["fail2ban/postfix", "fail2ban/exim"] {
            let result = scan(name)
            #expect(result.detections.isEmpty, "\(name)")
            #expect(result.inputs[0].error == nil)
            #expect(result.inputs[0].lines > 100)
        }
    }
}

@Suite struct HitsLineTests {
    @Test func stampsOfEveryLayout() {
        var clock = LogClock(reference: LogClock.utc(year: 2026, month: 11, day: 23, hour: 12, minute: 0, second: 0))
        func time(_ line: String) -> Int64? {
            Array(line.utf8).withUnsafeBufferPointer { b in
                if case .line(let l) = LogLineParser.parse(b, clock: &clock) { return l.time }
                return nil
            }
        }
        let utc = LogClock.utc(year: 2026, month: 11, day: 23, hour: 10, minute: 0, second: 0)
        #expect(time("2026-11-23T11:00:00.123456+01:00 mx postfix/qmgr[1]: ABCDEF123: removed") == utc)
        #expect(time("<22>1 2026-11-23T10:00:00.003Z mx postfix/smtpd 4242 - - ABCDEF123: client=a[192.0.2.1]") == utc)
        #expect(time("<22>1 2026-11-23T09:00:00-01:00 mx clamd - - [meta x=\"a\\]b\"] x: Eicar FOUND") == utc)
        #expect(time("2026-11-23 10:00:00 +0000 1abcDE-000123-XY <= a@b H=[192.0.2.1]") == utc)
        // Local-time layouts agree with each other whatever the zone.
        let bsd = time("Nov 23 10:00:00 mx postfix/qmgr[1]: ABCDEF123: removed")
        #expect(bsd != nil)
        #expect(time("Nov 23 10:00:01 mx postfix/qmgr[1]: x") == bsd! + 1)
        #expect(time("Mon Nov 23 10:00:00 2026 -> /tmp/x: Eicar FOUND") == bsd)
        #expect(time("2026-11-23 10:00:00 [123] 1abcDE-000123-XY <= a@b") == bsd)
        #expect(time("Nov  3 10:00:00 mx a: b")! + 20 * 86400 == bsd)
        #expect(time("Nov 3 10:00:00 mx a: b")! + 20 * 86400 == bsd)
        #expect(time("Nov 03 10:00:00 mx a: b")! + 20 * 86400 == bsd)
        #expect(Array("Nov 31 25:00:00 mx a: b".utf8).withUnsafeBufferPointer { b in
            if case .malformed = LogLineParser.parse(b, clock: &clock) { return true }
            return false
        })
    }

    @Test func periodsParse() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let dayAgo: Int64? = Period.parse("24h", now: now)
        #expect(dayAgo == Int64(1_800_000_000 - 86400))
        #expect(Period.parse("2026-11-20T08:30:00Z", now: now) == LogClock.utc(year: 2026, month: 11, day: 20, hour: 8, minute: 30, second: 0))
        #expect(Period.parse("2026-11-20T08:30:00+01:00", now: now) == LogClock.utc(year: 2026, month: 11, day: 20, hour: 7, minute: 30, second: 0))
        let midnight = Period.parse("2026-11-20", now: now)!
        #expect(localParts(midnight) == (2026, 11, 20, 0))
        #expect(Period.parse("2026-11-20 08:30", now: now) == midnight + 8 * 3600 + 1800)
        #expect(Period.parse("yesterday", now: now) == nil)
        #expect(Period.parse("2026-13-01", now: now) == nil)
    }

    @Test func networksContainTheirAddresses() {
        let v4 = IPNetwork("192.0.2.0/24")!, v6 = IPNetwork("2001:db8::/32")!, one = IPNetwork("198.51.100.7")!
        #expect(v4.contains("192.0.2.200") && !v4.contains("192.0.3.1"))
        #expect(v6.contains("2001:db8:1::5") && v6.contains("ipv6:2001:db8::1") && !v6.contains("2001:db9::1"))
        #expect(one.contains("198.51.100.7") && !one.contains("198.51.100.8"))
        #expect(!v4.contains("not-an-ip"))
        #expect(IPNetwork("192.0.2.0/33") == nil && IPNetwork("example.org") == nil)
    }
}
