import Foundation
import Testing
@testable import SigctlCore

/// Generated logs for the joins: the orders and boundaries real logs have.
@Suite struct HitsJoinTests {
    @Test func aQueueIDThatAppearsOnlyLaterStillJoins() {
        // amavis names queue 4F1A2B3C4D before Postfix's lines for it are read
        // (two syslog sources merged, or a Postfix line delayed).
        let (result, _) = scanLog("""
        Nov 23 10:00:00 mx amavis[901]: (00901-01) Blocked INFECTED (Win.Test.EICAR_HDB-1) {DiscardedInbound,Quarantined}, [203.0.113.9]:4711 [203.0.113.9] <worm@example.net> -> <alice@example.org>, quarantine: virus-x, Queue-ID: 4F1A2B3C4D, Message-ID: <m1@example.net>, mail_id: x, Hits: -, size: 900, 120 ms
        Nov 23 10:00:01 mx postfix/smtpd[300]: 4F1A2B3C4D: client=bad.example.net[203.0.113.9]
        Nov 23 10:00:01 mx postfix/cleanup[301]: 4F1A2B3C4D: message-id=<m1@example.net>
        Nov 23 10:00:01 mx postfix/qmgr[302]: 4F1A2B3C4D: from=<worm@example.net>, size=900, nrcpt=1 (queue active)
        Nov 23 10:00:02 mx postfix/qmgr[302]: 4F1A2B3C4D: removed

        """, modified: date(2026, 11, 23, 12))
        #expect(result.detections.count == 1)
        let d = result.detections[0]
        #expect(d.clientHost == "bad.example.net" && d.clientIP == "203.0.113.9")
        #expect(d.queueID == "4F1A2B3C4D" && d.messageID == "<m1@example.net>")
        #expect(d.action == .quarantined && d.log == .amavis)
    }

    @Test func interleavedMessagesKeepTheirOwnClientsSendersAndSignatures() {
        // Two infected and one clean message at once; clamav-milter with LogInfected Basic
        // (no queue id) is joined by time, sender and recipient; clamd's own FOUND lines
        // for the same scans are not counted twice.
        let (result, _) = scanLog("""
        Nov 23 10:00:00 mx postfix/smtpd[1]: AAAA11111: client=one.example[192.0.2.1]
        Nov 23 10:00:00 mx postfix/smtpd[2]: BBBB22222: client=two.example[192.0.2.2]
        Nov 23 10:00:00 mx postfix/smtpd[3]: CCCC33333: client=three.example[192.0.2.3]
        Nov 23 10:00:00 mx postfix/cleanup[4]: BBBB22222: message-id=<b@two>
        Nov 23 10:00:00 mx postfix/cleanup[5]: AAAA11111: message-id=<a@one>
        Nov 23 10:00:00 mx postfix/cleanup[6]: CCCC33333: message-id=<c@three>
        Nov 23 10:00:01 mx clamd[7]: instream(127.0.0.1@40001): Sig.Two FOUND
        Nov 23 10:00:01 mx clamav-milter[8]: Message from <b@two.example> to <bob@example.org> infected by Sig.Two
        Nov 23 10:00:01 mx clamd[7]: instream(127.0.0.1@40002): Sig.One FOUND
        Nov 23 10:00:01 mx clamav-milter[8]: Message from <a@one.example> to <alice@example.org> infected by Sig.One
        Nov 23 10:00:01 mx postfix/cleanup[5]: AAAA11111: milter-reject: END-OF-MESSAGE from one.example[192.0.2.1]: 5.7.1 Command rejected; from=<a@one.example> to=<alice@example.org> proto=ESMTP helo=<one>
        Nov 23 10:00:01 mx postfix/cleanup[4]: BBBB22222: milter-reject: END-OF-MESSAGE from two.example[192.0.2.2]: 5.7.1 Command rejected; from=<b@two.example> to=<bob@example.org> proto=ESMTP helo=<two>
        Nov 23 10:00:01 mx postfix/qmgr[9]: CCCC33333: from=<c@three.example>, size=10, nrcpt=1 (queue active)
        Nov 23 10:00:02 mx postfix/qmgr[9]: CCCC33333: removed

        """, modified: date(2026, 11, 23, 12))
        let byClient = Dictionary(uniqueKeysWithValues: result.detections.map { ($0.clientIP ?? "-", $0) })
        #expect(result.detections.count == 2)
        #expect(byClient["192.0.2.1"]?.signature == "Sig.One" && byClient["192.0.2.1"]?.messageID == "<a@one>")
        #expect(byClient["192.0.2.2"]?.signature == "Sig.Two" && byClient["192.0.2.2"]?.sender == "b@two.example")
        #expect(result.detections.allSatisfy { $0.action == .rejected && $0.log == .clamavMilter })
        #expect(result.clean.clean(clientIP: "192.0.2.3") >= 1)
    }

    @Test func clamdAloneJoinsTheMilterRejectLoggedWithIt() {
        // clamav-milter with LogInfected Off (Debian's default): only clamd names the signature.
        // sigctl's own canary scans (update, status, check) are not mail and never claim a reject.
        let (result, _) = scanLog("""
        Nov 23 10:00:00 mx postfix/smtpd[1]: DDDD44444: client=w.example[198.51.100.4]
        Nov 23 10:00:00 mx clamd[7]: Mon Nov 23 10:00:00 2026 -> instream(127.0.0.1@40002): Sigctl.Canary.G7.0a1b2c3d.UNOFFICIAL FOUND
        Nov 23 10:00:01 mx clamd[7]: Mon Nov 23 10:00:01 2026 -> instream(127.0.0.1@40003): Sanesecurity.Foxhole.Zip_fs217.UNOFFICIAL FOUND
        Nov 23 10:00:01 mx postfix/cleanup[5]: DDDD44444: milter-hold: END-OF-MESSAGE from w.example[198.51.100.4]: milter triggers HOLD action; from=<x@w.example> to=<bob@example.org> proto=ESMTP helo=<w>
        Nov 23 10:05:00 mx postfix/smtpd[1]: EEEE55555: client=z.example[198.51.100.5]
        Nov 23 10:05:01 mx postfix/cleanup[5]: EEEE55555: milter-reject: END-OF-MESSAGE from z.example[198.51.100.5]: 5.7.1 Virus found; from=<y@z.example> to=<bob@example.org> proto=ESMTP helo=<z>

        """, modified: date(2026, 11, 23, 12))
        #expect(result.detections.count == 2)
        #expect(result.detections[0].signature == "Sanesecurity.Foxhole.Zip_fs217.UNOFFICIAL")
        #expect(result.detections[0].clientIP == "198.51.100.4" && result.detections[0].action == .quarantined)
        #expect(result.detections[0].log == .clamd)
        // A virus reject whose signature no line names is still a detection, without a signature.
        #expect(result.detections[1].signature == nil && result.detections[1].clientIP == "198.51.100.5")
    }

    @Test func aMessageAcrossMidnightJoinsAndBelongsToItsDay() {
        let (result, _) = scanLog("""
        Nov 22 23:59:59 mx postfix/smtpd[1]: FFFF66666: client=late.example[192.0.2.66]
        Nov 23 00:00:01 mx clamav-milter[8]: Message FFFF66666 from <l@late.example> to <bob@example.org> with subject 'hi' message-id '<l@late>' date 'x' infected by Sig.Late
        Nov 23 00:00:01 mx postfix/cleanup[5]: FFFF66666: milter-reject: END-OF-MESSAGE from late.example[192.0.2.66]: 5.7.1 Command rejected; from=<l@late.example> to=<bob@example.org> proto=ESMTP helo=<l>

        """, modified: date(2026, 11, 23, 12))
        #expect(result.detections.count == 1)
        let d = result.detections[0]
        #expect(d.clientHost == "late.example" && d.messageID == "<l@late>" && d.queueID == "FFFF66666")
        #expect(localParts(d.time) == (2026, 11, 23, 0))
        // --since midnight keeps it: lines shortly before the period still join.
        let midnight = date(2026, 11, 23, 0)
        let (since, _) = scanLog("""
        Nov 22 23:59:59 mx postfix/smtpd[1]: FFFF66666: client=late.example[192.0.2.66]
        Nov 23 00:00:01 mx clamav-milter[8]: Message FFFF66666 from <l@late.example> to <bob@example.org> with subject 'hi' message-id '<l@late>' date 'x' infected by Sig.Late

        """, modified: date(2026, 11, 23, 12), since: Int64(midnight.timeIntervalSince1970))
        #expect(since.detections.first?.clientIP == "192.0.2.66")
    }

    @Test func syslogStampsWithoutAYearRollOverNewYear() {
        // The file was last written on 1 January 2027: December's lines are from 2026.
        let (result, _) = scanLog("""
        Dec 31 23:59:58 mx postfix/smtpd[1]: ABCD77777: client=ny.example[192.0.2.77]
        Dec 31 23:59:59 mx amavis[2]: (00002-01) Blocked INFECTED (Sig.Old) {DiscardedInbound}, [192.0.2.77]:1 [192.0.2.77] <a@ny.example> -> <b@example.org>, Queue-ID: ABCD77777, Message-ID: <ny1@x>, Hits: -, size: 1, 1 ms
        Jan  1 00:00:01 mx amavis[2]: (00002-02) Blocked INFECTED (Sig.New) {DiscardedInbound}, [192.0.2.78]:1 [192.0.2.78] <a@ny.example> -> <b@example.org>, Queue-ID: ABCD88888, Message-ID: <ny2@x>, Hits: -, size: 1, 1 ms

        """, modified: date(2027, 1, 1, 9))
        #expect(result.detections.count == 2)
        #expect(localParts(result.detections[0].time).year == 2026 && localParts(result.detections[0].time).month == 12)
        #expect(localParts(result.detections[1].time).year == 2027 && localParts(result.detections[1].time).month == 1)
        #expect(result.detections[0].clientHost == "ny.example")
        #expect(result.detections[1].time - result.detections[0].time == 2)
    }

    @Test func rfc5424LinesJoinLikeClassicOnes() {
        let (result, _) = scanLog("""
        <22>1 2026-11-23T10:00:00.100+01:00 mx postfix/smtpd 300 - - ABCD99999: client=r.example[2001:db8::9]
        <22>1 2026-11-23T10:00:00.200+01:00 mx postfix/cleanup 301 - - ABCD99999: message-id=<r@r.example>
        <22>1 2026-11-23T10:00:00.300+01:00 mx clamav-milter 8 - - Message ABCD99999 from <r@r.example> to <bob@example.org> with subject 's' message-id '<r@r.example>' date 'd' infected by Sig.R
        <22>1 2026-11-23T10:00:00.400+01:00 mx postfix/cleanup 301 - [x@1 y="z"] ABCD99999: milter-discard: END-OF-MESSAGE from r.example[2001:db8::9]: milter triggers DISCARD action; from=<r@r.example> to=<bob@example.org> proto=ESMTP helo=<r>

        """, modified: date(2026, 11, 23, 12))
        #expect(result.detections.count == 1)
        let d = result.detections[0]
        #expect(d.time == LogClock.utc(year: 2026, month: 11, day: 23, hour: 9, minute: 0, second: 0))
        #expect(d.clientIP == "2001:db8::9" && d.action == .discarded && d.host == "mx")
    }

    @Test func malformedAndOverlongLinesAreCountedAndReadingGoesOn() {
        let long = String(repeating: "x", count: 70_000)
        let (result, _) = scanLog("""
        Nov 31 25:61:00 mx postfix/smtpd[1]: broken stamp
        2026-11-23T10:00:00 no zone
        \(long)
        Nov 23 10:00:00 mx amavis[2]: (00002-01) Blocked INFECTED () {DiscardedInbound}, [192.0.2.1]:1 [192.0.2.1] <a@b> -> <c@d>
        Nov 23 10:00:00 mx clamd[3]: instream(127.0.0.1@1): has spaces in it FOUND
        random text from another program
        Nov 23 10:00:01 mx clamd[3]: /var/spool/x: Sig.After FOUND
        """, modified: date(2026, 11, 23, 12))
        #expect(result.inputs[0].malformed == 4)
        #expect(result.inputs[0].tooLong == 1)
        #expect(result.detections.map(\.signature) == ["Sig.After"])
    }

    @Test func debiansSeparateLogsAreJoinedAcrossFiles() {
        // Postfix in its own file, clamd and clamav-milter in /var/log/clamav/ as Debian
        // configures them (LogTime, no syslog): the join crosses the files.
        let dir = TempDir()
        let postfix = dir.write("postfix.log", """
        Nov 23 10:00:00 gw postfix/smtpd[1]: 1A2B3C4D5E: client=a.example[192.0.2.10]
        Nov 23 10:00:01 gw postfix/cleanup[2]: 1A2B3C4D5E: milter-reject: END-OF-MESSAGE from a.example[192.0.2.10]: 5.7.1 Command rejected; from=<a@a.example> to=<bob@gw.test> proto=ESMTP helo=<a>
        Nov 23 10:00:05 gw postfix/smtpd[1]: 2B3C4D5E6F: client=b.example[192.0.2.11]
        Nov 23 10:00:06 gw postfix/cleanup[2]: 2B3C4D5E6F: milter-hold: END-OF-MESSAGE from b.example[192.0.2.11]: milter triggers HOLD action; from=<b@b.example> to=<bob@gw.test> proto=ESMTP helo=<b>
        Nov 23 10:01:00 gw postfix/smtpd[1]: 3C4D5E6F70: client=c.example[192.0.2.12]
        Nov 23 10:01:00 gw postfix/smtpd[3]: 4D5E6F7081: client=d.example[192.0.2.13]
        Nov 23 10:01:00 gw postfix/smtpd[4]: 5E6F708192: client=e.example[192.0.2.14]
        Nov 23 10:01:01 gw postfix/cleanup[2]: 3C4D5E6F70: milter-reject: END-OF-MESSAGE from c.example[192.0.2.12]: 5.7.1 Command rejected; from=<c@c.example> to=<bob@gw.test> proto=ESMTP helo=<c>
        Nov 23 10:01:01 gw postfix/cleanup[5]: 4D5E6F7081: milter-reject: END-OF-MESSAGE from d.example[192.0.2.13]: 5.7.1 Command rejected; from=<d@d.example> to=<bob@gw.test> proto=ESMTP helo=<d>
        Nov 23 10:01:01 gw postfix/cleanup[6]: 5E6F708192: milter-reject: END-OF-MESSAGE from e.example[192.0.2.14]: 5.7.1 Command rejected; from=<e@e.example> to=<bob@gw.test> proto=ESMTP helo=<e>

        """)
        let clamd = dir.write("clamav.log", """
        Mon Nov 23 10:00:01 2026 -> instream(127.0.0.1@50001): Sig.Alpha FOUND
        Mon Nov 23 10:00:06 2026 -> instream(127.0.0.1@50002): Sig.Beta FOUND
        Mon Nov 23 10:01:01 2026 -> instream(127.0.0.1@50003): Sig.Outbreak FOUND
        Mon Nov 23 10:01:01 2026 -> instream(127.0.0.1@50004): Sig.Outbreak FOUND
        Mon Nov 23 10:01:01 2026 -> instream(127.0.0.1@50005): Sig.Outbreak FOUND

        """)
        let milter = dir.write("clamav-milter.log", """
        Mon Nov 23 10:00:06 2026 -> Message 2B3C4D5E6F from <b@b.example> to <bob@gw.test> with subject 's' message-id '<b@b>' date 'd' infected by Sig.Beta

        """)
        let modified = HitsJoinTests().date(2026, 11, 23, 12)
        for path in [postfix, clamd, milter] {
            var times = [timespec(tv_sec: Int(modified.timeIntervalSince1970), tv_nsec: 0), timespec(tv_sec: Int(modified.timeIntervalSince1970), tv_nsec: 0)]
            utimensat(AT_FDCWD, path, &times, 0)
        }
        let result = HitScanner.scan([.file(postfix), .file(clamd), .file(milter)], since: nil, until: nil, now: Int64(Date().timeIntervalSince1970))
        let bySignature = Dictionary(grouping: result.detections, by: { $0.signature ?? "-" })
        #expect(result.detections.count == 5, "\(result.detections.map { ($0.signature ?? "-", $0.clientIP ?? "-") })")
        #expect(bySignature["Sig.Alpha"]?.first?.clientIP == "192.0.2.10" && bySignature["Sig.Alpha"]?.first?.action == .rejected)
        #expect(bySignature["Sig.Alpha"]?.first?.log == .clamd)
        // The milter's line (queue id) and clamd's line are one scan: one detection.
        #expect(bySignature["Sig.Beta"]?.count == 1)
        #expect(bySignature["Sig.Beta"]?.first?.clientIP == "192.0.2.11" && bySignature["Sig.Beta"]?.first?.messageID == "<b@b>")
        #expect(bySignature["Sig.Beta"]?.first?.action == .quarantined)
        // Three messages of one outbreak in one second are three detections.
        #expect(Set(bySignature["Sig.Outbreak"]?.compactMap(\.clientIP) ?? []) == ["192.0.2.12", "192.0.2.13", "192.0.2.14"])
    }

    @Test func amavisAndClamdNamingOneScanCountOnce() {
        let (result, _) = scanLog("""
        Nov 23 10:00:00 mx clamd[5]: /var/lib/amavis/tmp/amavis-20261123T100000-00900-x/parts/p002: Sig.Once FOUND
        Nov 23 10:00:00 mx amavis[900]: (00900-01) Blocked INFECTED (Sig.Once) {DiscardedInbound}, [192.0.2.1]:1 [192.0.2.1] <a@b.example> -> <c@d.example>, Queue-ID: 9A8B7C6D5E, Message-ID: <o@x>, Hits: -, size: 1, 1 ms
        Nov 23 10:00:02 mx clamd[5]: /var/lib/amavis/tmp/amavis-20261123T100002-00901-y/parts/p002: Sig.Once FOUND
        Nov 23 10:00:02 mx amavis[901]: (00901-01) Blocked INFECTED (Sig.Once) {DiscardedInbound}, [192.0.2.2]:1 [192.0.2.2] <e@f.example> -> <c@d.example>, Queue-ID: 9A8B7C6D5F, Message-ID: <p@x>, Hits: -, size: 1, 1 ms

        """, modified: date(2026, 11, 23, 12))
        #expect(result.detections.count == 2)
        #expect(result.detections.allSatisfy { $0.log == .amavis })
    }

    @Test func inputThatOnceCrashedOrSplitIsReadRight() {
        let (result, _) = scanLog("""
        Nov 23 10:00:00 mx x[99999999999999999999999999]: a pid too long for any integer
        Nov 23 10:00:00 mx amavis[1]: (xxxxxxxxxxxxxxxxxxxxxxxx)
        Nov 23 10:00:00 mx postfix/submission/smtpd[1]: SUB1234567: client=laptop.example[IPv6:2001:db8::7]
        Nov 23 10:00:01 mx clamav-milter[8]: Message SUB1234567 from <> to <bob@example.org> with subject 's' message-id '<s@s>' date 'd' infected by Sig.Sub
        Nov 23 10:00:01 mx postfix/cleanup[5]: SUB1234567: milter-reject: END-OF-MESSAGE from laptop.example[IPv6:2001:db8::7]: 5.7.1 Virus Sig.Sub found, write to postmaster@example.org; from=<> to=<bob@example.org> proto=ESMTP helo=<l>
        Nov 23 10:00:02 mx amavis[2]: (00002-01) Blocked INFECTED (Sig.Six) {DiscardedInbound}, MYNETS LOCAL [IPv6:2001:db8::8]:1 [IPv6:2001:db8::8] <a@b.example> -> <c@d.example>, Queue-ID: SUB7654321, Message-ID: <six@x>, Hits: -, size: 1, 1 ms

        """, modified: date(2026, 11, 23, 12))
        #expect(result.detections.count == 2, "\(result.detections.map { $0.signature ?? "-" })")
        let sub = result.detections.first { $0.signature == "Sig.Sub" }
        #expect(sub?.clientHost == "laptop.example" && sub?.clientIP == "2001:db8::7" && sub?.sender == nil)
        #expect(result.detections.first { $0.signature == "Sig.Six" }?.clientIP == "2001:db8::8")
    }

    @Test func aMessageToTwoRecipientsStillJoinsTheMilterLine() {
        // Postfix logs the first recipient, clamav-milter the last one.
        let (result, _) = scanLog("""
        Nov 23 10:00:00 mx postfix/smtpd[1]: TWO1234567: client=two.example[192.0.2.20]
        Nov 23 10:00:01 mx clamav-milter[8]: Message from <x@two.example> to <carol@example.org> infected by Sig.Two.Rcpt
        Nov 23 10:00:01 mx postfix/cleanup[5]: TWO1234567: milter-reject: END-OF-MESSAGE from two.example[192.0.2.20]: 5.7.1 Infected; from=<x@two.example> to=<bob@example.org> proto=ESMTP helo=<t>

        """, modified: date(2026, 11, 23, 12))
        #expect(result.detections.count == 1)
        #expect(result.detections.first?.clientIP == "192.0.2.20" && result.detections.first?.signature == "Sig.Two.Rcpt")
    }

    @Test func twoGatewaysOnOneLogServerKeepTheirOwnMessages() {
        let (result, _) = scanLog("""
        Nov 23 10:00:00 mx1 postfix/smtpd[1]: HOST111111: client=a.example[192.0.2.31]
        Nov 23 10:00:00 mx2 postfix/smtpd[1]: HOST111111: client=b.example[192.0.2.32]
        Nov 23 10:00:01 mx2 clamd[7]: instream(127.0.0.1@1): Sig.Mx2 FOUND
        Nov 23 10:00:01 mx1 postfix/cleanup[5]: HOST111111: milter-reject: END-OF-MESSAGE from a.example[192.0.2.31]: 5.7.1 Command rejected; from=<a@a.example> to=<bob@example.org> proto=ESMTP helo=<a>
        Nov 23 10:00:01 mx2 postfix/cleanup[5]: HOST111111: milter-reject: END-OF-MESSAGE from b.example[192.0.2.32]: 5.7.1 Command rejected; from=<b@b.example> to=<bob@example.org> proto=ESMTP helo=<b>

        """, modified: date(2026, 11, 23, 12))
        #expect(result.detections.count == 1)
        #expect(result.detections.first?.clientIP == "192.0.2.32" && result.detections.first?.host == "mx2")
    }

    @Test func clamdsLinesForEachPartAmavisUnpackedAreItsOneVerdict() {
        let (result, _) = scanLog("""
        Nov 23 10:00:00 mx clamd[5]: /var/lib/amavis/tmp/amavis-20261123T100000-00900-x/parts/p002: Sig.Zip FOUND
        Nov 23 10:00:00 mx clamd[5]: /var/lib/amavis/tmp/amavis-20261123T100000-00900-x/parts/p003: Sig.Zip FOUND
        Nov 23 10:00:00 mx clamd[5]: /var/lib/amavis/tmp/amavis-20261123T100000-00900-x/parts/p004: Sig.Zip FOUND
        Nov 23 10:00:01 mx amavis[900]: (00900-01) Blocked INFECTED (Sig.Zip) {DiscardedInbound}, [192.0.2.1]:1 [192.0.2.1] <a@b.example> -> <c@d.example>, Queue-ID: ZIP1234567, Message-ID: <z@x>, Hits: -, size: 1, 1 ms

        """, modified: date(2026, 11, 23, 12))
        #expect(result.detections.count == 1)
    }

    @Test func hoursOfTrafficAreSweptAsTheyGoAndAStrayStampEndsNothing() {
        // Three hours, a message every 10 s (clean) and an infected one every 10 minutes,
        // with a line from a host whose clock is a year ahead in the middle: every
        // detection still joins, so facts were neither dropped early nor lost.
        var log = ""
        var clock = LogClock(reference: 0)
        let start = clock.local(year: 2026, month: 11, day: 23, hour: 8, minute: 0, second: 0)
        func stamp(_ t: Int64) -> String {
            var time = time_t(t), parts = tm()
            localtime_r(&time, &parts)
            let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][Int(parts.tm_mon)]
            return String(format: "%@ %2d %02d:%02d:%02d", month, Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
        }
        for i in 0..<1080 {
            let t = start + Int64(i * 10), q = String(format: "Q%09d", i)
            log += "\(stamp(t)) mx postfix/smtpd[1]: \(q): client=c\(i).example[198.51.100.\(i % 250 + 1)]\n"
            if i == 540 { log += "<22>1 2027-11-23T10:00:00Z mx postfix/qmgr 9 - - ZZZ999999: removed\n" }
            if i % 60 == 30 {
                log += "\(stamp(t + 1)) mx clamd[7]: instream(127.0.0.1@1): Sig.Hourly FOUND\n"
                log += "\(stamp(t + 1)) mx postfix/cleanup[5]: \(q): milter-reject: END-OF-MESSAGE from c\(i).example[198.51.100.\(i % 250 + 1)]: 5.7.1 Command rejected; from=<x@y.example> to=<bob@example.org> proto=ESMTP helo=<c>\n"
            } else {
                log += "\(stamp(t + 1)) mx postfix/qmgr[9]: \(q): from=<x@y.example>, size=1, nrcpt=1 (queue active)\n"
                log += "\(stamp(t + 2)) mx postfix/qmgr[9]: \(q): removed\n"
            }
        }
        let (result, _) = scanLog(log, modified: date(2026, 11, 23, 12))
        #expect(result.detections.count == 18)
        #expect(result.detections.allSatisfy { $0.clientIP != nil && $0.queueID != nil })
    }

    func date(_ y: Int, _ m: Int, _ d: Int, _ h: Int) -> Date {
        var clock = LogClock(reference: 0)
        return Date(timeIntervalSince1970: TimeInterval(clock.local(year: y, month: m, day: d, hour: h, minute: 0, second: 0)))
    }
}
