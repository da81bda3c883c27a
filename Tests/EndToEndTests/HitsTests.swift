import Foundation
import SigctlCore
import Testing

/// `sigctl hits` with the real binary, real installed sets and generated mail logs.
@Suite struct HitsTests {
    /// An RFC 3339 stamp (as rsyslog writes on Debian 12) `ago` seconds before now.
    static func stamp(_ ago: TimeInterval) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date().addingTimeInterval(-ago))
    }

    static func amavis(_ ago: TimeInterval, _ signature: String, ip: String, sender: String, queue: String) -> String {
        "\(stamp(ago)) mx amavis[900]: (00900-01) Blocked INFECTED (\(signature)) {DiscardedInbound,Quarantined}, [\(ip)]:4000 [\(ip)] <\(sender)> -> <alice@example.org>, Queue-ID: \(queue), Message-ID: <\(queue)@x>, mail_id: m, Hits: -, size: 1, 1 ms\n"
    }

    func lines(_ output: String) throws -> ([HitRecord], HitSummary) {
        struct Last: Decodable { var summary: HitSummary }
        let all = output.split(separator: "\n").map { Data($0.utf8) }
        let hits = try all.dropLast().map { try JSONDecoder.output.decode(HitRecord.self, from: $0) }
        return (hits, try JSONDecoder.output.decode(Last.self, from: all.last ?? Data()).summary)
    }

    @Test func eachHitNamesItsFeedFileAndRiskFromTheLiveOrAKeptSet() throws {
        let box = try Sandbox()
        try box.writeSettings("clamd = \"none\"")
        let mirror = box.mirror.url("alpha/")
        try box.writeFeed("alpha", """
            name = "alpha"
            mirrors = ["\(mirror)"]
            interval = "0s"
            integrity = "sha256"
            [[files]]
            name = "a.ndb"
            risk = "high"
            [[files]]
            name = "b.ndb"
            """)
        try box.writeFeed("beta", files: ["c.ndb"])
        let a1 = "Test.A-1:0:*:\(hex("alpha one"))\n", gone = "Test.Gone:0:*:\(hex("gone soon"))\n"
        try box.publish(feed: "alpha", file: "a.ndb", a1 + gone)
        try box.publish(feed: "alpha", file: "b.ndb", "Test.B-1:0:*:\(hex("bravo one"))\n")
        try box.publish(feed: "beta", file: "c.ndb", "Test.C-1:0:*:\(hex("charlie one"))\n")
        #expect(try box.update().0.status == 0)
        // Set 2: alpha drops Test.Gone; it stays in kept set 1.
        try box.publish(feed: "alpha", file: "a.ndb", a1)
        #expect(try box.update().0.status == 0)

        let log = box.root + "/mail.log"
        try (Self.amavis(300, "Test.A-1.UNOFFICIAL", ip: "192.0.2.1", sender: "x@one.example", queue: "AAA111111")
            + Self.amavis(250, "Test.A-1.UNOFFICIAL", ip: "192.0.2.2", sender: "y@two.example", queue: "AAA222222")
            + Self.amavis(200, "Test.Gone.UNOFFICIAL", ip: "192.0.2.3", sender: "z@three.example", queue: "AAA333333")
            + Self.amavis(150, "Test.C-1.UNOFFICIAL", ip: "192.0.2.4", sender: "w@four.example", queue: "AAA444444")
            + Self.amavis(100, "Heuristics.Phishing.Email.SpoofedDomain", ip: "192.0.2.5", sender: "v@five.example", queue: "AAA555555")
            + Self.amavis(50, "Some.Other.Scanner.Name", ip: "192.0.2.6", sender: "u@six.example", queue: "AAA666666"))
            .write(toFile: log, atomically: true, encoding: .utf8)

        let json = try box.sigctl(["hits", "--json", log])
        #expect(json.status == 0, "\(json.stderr)")
        let (hits, summary) = try lines(json.stdout)
        #expect(hits.count == 6 && summary.detections == 6)
        let bySignature = Dictionary(grouping: hits, by: { $0.signature ?? "" })
        let live = bySignature["Test.A-1.UNOFFICIAL"]?.first
        #expect(live?.feed == "alpha" && live?.file == "a.ndb" && live?.risk == "high" && live?.set == nil)
        let kept = bySignature["Test.Gone.UNOFFICIAL"]?.first
        #expect(kept?.feed == "alpha" && kept?.file == "a.ndb" && kept?.set == 1, "a signature the live set dropped keeps its feed")
        let beta = bySignature["Test.C-1.UNOFFICIAL"]?.first
        #expect(beta?.feed == "beta" && beta?.file == "c.ndb" && beta?.risk == "low")
        #expect(bySignature["Heuristics.Phishing.Email.SpoofedDomain"]?.first?.feed == nil)
        #expect(bySignature["Some.Other.Scanner.Name"]?.first?.file == nil)
        #expect(hits.allSatisfy { $0.log == .amavis && $0.action == .quarantined && $0.queueId != nil })
        #expect(summary.byFeed.first { $0.feed == "alpha" }?.idleFiles == ["b.ndb"])

        let text = try box.sigctl(["hits", log])
        #expect(text.status == 0)
        #expect(text.stdout.contains("alpha: 3"), "\(text.stdout)")
        #expect(text.stdout.contains("  a.ndb: 3"))
        #expect(text.stdout.contains("  caught nothing: b.ndb"))
        #expect(text.stdout.contains("beta: 1"))
        #expect(text.stdout.contains("(libclamav heuristics): 1"))
        #expect(text.stdout.contains("(not in any kept set): 1"))

        let onlyBeta = try box.sigctl(["hits", "--feed", "beta", "--json", log])
        #expect(try lines(onlyBeta.stdout).0.map(\.signature) == ["Test.C-1.UNOFFICIAL"])
        let noFeed = try box.sigctl(["hits", "--feed", "gamma", log])
        #expect(noFeed.status == 64 && noFeed.stderr.contains("there is no feed gamma"))
    }

    @Test func theSitesOwnClientsComeFirstAndHitsOnCleanSendersAreFlagged() throws {
        let box = try Sandbox()
        try box.writeSettings("clamd = \"none\"\nlocal_networks = [\"10.0.0.0/8\"]\ntrusted_domains = [\"partner.example\"]")
        var log = ""
        // Exim's main log: a newsletter sender with plenty of clean mail, then two hits on it.
        for i in 0..<30 {
            log += "\(Self.eximStamp(3600 - Double(i))) 1abcde-0000\(String(format: "%02d", i))-AB <= news@shop.example H=mail.shop.example [192.0.2.50]:2525 P=esmtp S=2000 id=n\(i)@shop\n"
        }
        for i in 0..<2 {
            log += "\(Self.eximStamp(1800 - Double(i))) 1abcdf-0000\(String(format: "%02d", i))-AB H=mail.shop.example [192.0.2.50]:2525 F=<news@shop.example> rejected after DATA: This message contains a virus (Test.Newsletter.FP).\n"
        }
        // A worm on the site's own network, forging a new sender each time.
        for i in 0..<5 {
            log += "\(Self.eximStamp(900 - Double(i))) 1abcdg-0000\(String(format: "%02d", i))-AB H=pc17.lan [10.1.2.3]:1025 F=<ceo\(i)@forged\(i).example> rejected after DATA: This message contains a virus (Test.Worm).\n"
        }
        log += "\(Self.eximStamp(60)) 1abcdh-000001-AB H=mx.partner.example [198.51.100.9]:25 F=<billing@partner.example> rejected after DATA: This message contains malware (Test.Invoice)\n"
        let path = box.root + "/mainlog"
        try log.write(toFile: path, atomically: true, encoding: .utf8)

        let clients = try box.sigctl(["hits", "--by", "client", path])
        #expect(clients.status == 0, "\(clients.stderr)")
        let rows = clients.stdout.split(separator: "\n").map(String.init)
        #expect(rows.count > 2 && rows[1].hasPrefix("5  10.1.2.3 (pc17.lan)  LOCAL NETWORK"), "\(clients.stdout)")
        #expect(rows[2].contains("5 sender address(es), Test.Worm"))

        let signatures = try box.sigctl(["hits", "--by", "signature", "--json", path])
        let summary = try lines(signatures.stdout).1
        let flagged = Dictionary(uniqueKeysWithValues: summary.bySignature.map { ($0.signature, $0) })
        #expect(flagged["Test.Newsletter.FP"]?.likelyFalsePositive == true)
        #expect(flagged["Test.Newsletter.FP"]?.reason?.contains("192.0.2.50 also sent about 30 clean messages") == true,
                "\(flagged["Test.Newsletter.FP"]?.reason ?? "")")
        #expect(flagged["Test.Invoice"]?.likelyFalsePositive == true)
        #expect(flagged["Test.Invoice"]?.reason?.contains("trusted_domains") == true)
        #expect(flagged["Test.Worm"]?.likelyFalsePositive == false)
        let text = try box.sigctl(["hits", "--by", "signature", path])
        #expect(text.stdout.contains("likely false positive: 2 of 2 hits: client 192.0.2.50 also sent about 30 clean messages"))
        let local = try lines(try box.sigctl(["hits", "--json", path]).stdout).0.filter(\.clientLocal)
        #expect(local.count == 5 && local.allSatisfy { $0.clientIP == "10.1.2.3" })
    }

    @Test func rotatedGzippedAndPipedLogsAreReadAndBrokenOnesSaySo() throws {
        let box = try Sandbox()
        let logs = box.root + "/log"
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        try box.writeSettings("clamd = \"none\"\nmail_logs = [\"\(logs)/mail.log\"]")
        func write(_ name: String, _ text: String, age: TimeInterval) throws {
            try text.write(toFile: logs + "/" + name, atomically: true, encoding: .utf8)
            let when = Int(Date().timeIntervalSince1970 - age)
            var times = [timespec(tv_sec: when, tv_nsec: 0), timespec(tv_sec: when, tv_nsec: 0)]
            utimensat(AT_FDCWD, logs + "/" + name, &times, 0)
        }
        // logrotate's layout: mail.log.2.gz (oldest), mail.log.1, mail.log.
        try write("mail.log.2", Self.amavis(3 * 86400, "Test.Oldest", ip: "192.0.2.1", sender: "a@x.example", queue: "ROT111111"), age: 3 * 86400)
        #expect(try runProgram("/bin/gzip", [logs + "/mail.log.2"]).status == 0)
        try write("mail.log.1", Self.amavis(86400 + 60, "Test.Older", ip: "192.0.2.2", sender: "b@x.example", queue: "ROT222222"), age: 86400)
        try write("mail.log", "garbage that is no log line\n" + Self.amavis(60, "Test.Newest", ip: "192.0.2.3", sender: "c@x.example", queue: "ROT333333")
                  + "Nov 31 99:00:00 mx postfix/smtpd[1]: broken\n", age: 30)

        let all = try box.sigctl(["hits", "--json", "-v"])
        #expect(all.status == 0, "\(all.stderr)")
        let (hits, summary) = try lines(all.stdout)
        #expect(hits.map(\.signature) == ["Test.Oldest", "Test.Older", "Test.Newest"])
        #expect(summary.inputs.map(\.name) == [logs + "/mail.log.2.gz", logs + "/mail.log.1", logs + "/mail.log"])
        #expect(summary.malformedLines == 1)
        #expect(all.stderr.contains("\(logs)/mail.log: 1 malformed line(s) skipped"))

        // --since 2h: the rotations last written before it are not even opened.
        let old = try box.sigctl(["hits", "--since", "2h", logs + "/mail.log.1"])
        #expect(old.stdout.contains("before the period; --since all reads them whole"), "\(old.stdout)")
        let recent = try box.sigctl(["hits", "--json", "--since", "2h"])
        let (recentHits, recentSummary) = try lines(recent.stdout)
        #expect(recentHits.map(\.signature) == ["Test.Newest"])
        #expect(recentSummary.inputs.filter(\.skipped).count == 2)

        // Standard input.
        let piped = try runProgram("/bin/sh", ["-c", "cat '\(logs)/mail.log.1' | SIGCTL_CONFIG='\(box.configDir)' '\(Paths.sigctl)' hits --json --since all -"])
        #expect(try lines(piped.stdout).0.map(\.signature) == ["Test.Older"], "\(piped.stderr)")

        // A .gz cut short: a warning naming it; the lines before the cut still count.
        var big = ""
        for i in 0..<2000 { big += Self.amavis(7200 - Double(i), "Test.Cut", ip: "192.0.2.9", sender: "d@x.example", queue: "CUT\(100000 + i)") }
        try write("cut", big, age: 60)
        #expect(try runProgram("/bin/gzip", [logs + "/cut"]).status == 0)
        let gz = try Data(contentsOf: URL(fileURLWithPath: logs + "/cut.gz"))
        try gz.prefix(gz.count / 2).write(to: URL(fileURLWithPath: logs + "/cut.gz"))
        let cut = try box.sigctl(["hits", "--json", logs + "/cut.gz"])
        #expect(cut.status == 0)
        #expect(cut.stderr.contains("sigctl: warning: \(logs)/cut.gz: inflate"), "\(cut.stderr)")
        let cutHits = try lines(cut.stdout).0
        #expect(cutHits.count > 100 && cutHits.count < 2000)

        // Usage errors.
        let missing = try box.sigctl(["hits", logs + "/nonexistent.log"])
        #expect(missing.status == 64 && missing.stderr.contains("nonexistent.log: no such log file"))
        let badSince = try box.sigctl(["hits", "--since", "last tuesday"])
        #expect(badSince.status == 64 && badSince.stderr.contains("--since last tuesday is not a time"))
        try box.writeSettings("clamd = \"none\"\nmail_logs = [\"\(logs)/absent.log\"]")
        let none = try box.sigctl(["hits"])
        #expect(none.status == 78 && none.stderr.contains("no mail log to read: \(logs)/absent.log does not exist"))
    }

    @Test func statusShowsTheLastDayPerFeedAndTheTextfileCountsIt() throws {
        let box = try Sandbox()
        let metrics = box.root + "/metrics"
        try FileManager.default.createDirectory(atPath: metrics, withIntermediateDirectories: true)
        try box.writeSettings("clamd = \"none\"\nmetrics_textfile = \"\(metrics)/sigctl.prom\"")
        try box.writeFeed("alpha", files: ["a.ndb"])
        try box.writeFeed("beta", files: ["b.ndb"])
        try box.publish(feed: "alpha", file: "a.ndb", "Test.Day-1:0:*:\(hex("day one"))\n")
        try box.publish(feed: "beta", file: "b.ndb", "Test.Day-2:0:*:\(hex("day two"))\n")
        #expect(try box.update().0.status == 0)

        // Unreadable (absent) logs: status says so and still answers.
        let before = try box.sigctl(["status"])
        #expect(before.stdout.contains("hits (24h):   not read: no mail log to read: \(box.root)/mail.log does not exist"), "\(before.stdout)")
        #expect(!FileManager.default.fileExists(atPath: metrics + "/sigctl_hits.prom"),
                "a user who cannot read the logs never replaces the series of one who can")

        try (Self.amavis(2 * 86400, "Test.Day-1.UNOFFICIAL", ip: "192.0.2.1", sender: "old@x.example", queue: "DAY000001")
            + Self.amavis(3600, "Test.Day-1.UNOFFICIAL", ip: "192.0.2.2", sender: "a@x.example", queue: "DAY000002")
            + Self.amavis(1800, "Test.Day-1.UNOFFICIAL", ip: "192.0.2.3", sender: "b@x.example", queue: "DAY000003"))
            .write(toFile: box.root + "/mail.log", atomically: true, encoding: .utf8)
        let status = try box.sigctl(["status"])
        #expect(status.stdout.contains("hits (24h):   2 detection(s): alpha 2, beta 0"), "\(status.stdout)")
        let json = try JSONDecoder.output.decode(StatusReport.self, from: Data(try box.sigctl(["status", "--json"]).stdout.utf8))
        #expect(json.hits?.perFeed == ["alpha": 2, "beta": 0] && json.hits?.error == nil)

        let textfile = try String(contentsOfFile: metrics + "/sigctl_hits.prom", encoding: .utf8)
        #expect(textfile.contains("sigctl_hits_24h{feed=\"alpha\"} 2\n") && textfile.contains("sigctl_hits_24h{feed=\"beta\"} 0\n"), "\(textfile)")
        if let promtool = MonitoringTests.promtool {
            let lint = try runProgram("/bin/sh", ["-c", "'\(promtool)' check metrics < '\(metrics)/sigctl_hits.prom'"])
            #expect(lint.status == 0 && lint.stdout.isEmpty && lint.stderr.isEmpty, "promtool: \(lint.stdout)\(lint.stderr)")
        }
        // `sigctl hits` over the configured logs refreshes it too; over given files it does not.
        try FileManager.default.removeItem(atPath: metrics + "/sigctl_hits.prom")
        _ = try box.sigctl(["hits", box.root + "/mail.log"])
        #expect(!FileManager.default.fileExists(atPath: metrics + "/sigctl_hits.prom"))
        _ = try box.sigctl(["hits"])
        #expect(try String(contentsOfFile: metrics + "/sigctl_hits.prom", encoding: .utf8).contains("sigctl_hits_24h{feed=\"alpha\"} 2\n"))
    }

    static let journalRemote = ["/lib/systemd/systemd-journal-remote", "/usr/lib/systemd/systemd-journal-remote"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// A real journal file, written by systemd-journal-remote from export-format entries.
    static func writeJournal(_ directory: String, _ entries: [(ago: TimeInterval, unit: String, ident: String, message: String)]) throws {
        var export = ""
        // journald appends in time order, and journalctl --since relies on it.
        for (i, e) in entries.sorted(by: { $0.ago > $1.ago }).enumerated() {
            let micro = Int64((Date().timeIntervalSince1970 - e.ago) * 1_000_000)
            export += "__CURSOR=s=0;i=\(i + 1)\n__REALTIME_TIMESTAMP=\(micro)\n__MONOTONIC_TIMESTAMP=\(micro)\n"
            export += "_BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=gw\n_SYSTEMD_UNIT=\(e.unit)\n"
            export += "SYSLOG_IDENTIFIER=\(e.ident)\n_PID=\(4000 + i)\nMESSAGE=\(e.message)\n\n"
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try export.write(toFile: directory + "/export.txt", atomically: true, encoding: .utf8)
        let made = try runProgram("/bin/sh", ["-c", "'\(journalRemote!)' -o '\(directory)/remote.journal' - < '\(directory)/export.txt'"])
        #expect(made.status == 0, "systemd-journal-remote: \(made.stderr)")
        try FileManager.default.removeItem(atPath: directory + "/export.txt")
    }

    @Test(.enabled(if: HitsTests.journalRemote != nil, "needs systemd-journal-remote (to write a journal file for journalctl)"))
    func journaldIsReadThroughJournalctl() throws {
        let box = try Sandbox()
        let journal = box.root + "/journal"
        try Self.writeJournal(journal, [
            (600, "postfix@-.service", "postfix/smtpd", "JRN1234567: client=j.example[203.0.113.77]"),
            (600, "postfix@-.service", "postfix/cleanup", "JRN1234567: message-id=<j@j.example>"),
            (599, "postfix@-.service", "postfix/cleanup", "JRN1234567: milter-reject: END-OF-MESSAGE from j.example[203.0.113.77]: 5.7.1 Blocked by ClamAV - FOUND VIRUS: Test.Journal.One; from=<j@j.example> to=<bob@example.org> proto=ESMTP helo=<j>"),
            (300, "sshd.service", "sshd", "Accepted publickey for root from 192.0.2.1 port 22: no mail here"),
            (200, "amavis.service", "amavis", "(00900-01) Blocked INFECTED (Test.Journal.Two) {DiscardedInbound}, [203.0.113.78]:1 [203.0.113.78] <k@k.example> -> <bob@example.org>, Queue-ID: JRN7654321, Message-ID: <k@k>, Hits: -, size: 1, 1 ms"),
            (10 * 86400, "amavis.service", "amavis", "(00900-02) Blocked INFECTED (Test.Journal.Old) {DiscardedInbound}, [203.0.113.79]:1 [203.0.113.79] <l@l.example> -> <bob@example.org>, Queue-ID: JRN7654322, Message-ID: <l@l>, Hits: -, size: 1, 1 ms"),
        ])
        try box.writeSettings("clamd = \"none\"\nmail_logs = [\"journald\"]\njournal_directory = \"\(journal)\"")
        let result = try box.sigctl(["hits", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let (hits, summary) = try lines(result.stdout)
        #expect(hits.map(\.signature) == ["Test.Journal.One", "Test.Journal.Two"], "--since 7d leaves the old one out")
        #expect(hits.first?.clientIP == "203.0.113.77" && hits.first?.clientHost == "j.example" && hits.first?.messageId == "<j@j.example>")
        #expect(hits.first?.host == "gw" && hits.first?.action == .rejected && hits.first?.log == .postfix)
        #expect(summary.inputs.map(\.name) == ["journald (\(journal))"])
        #expect(summary.lines == 4, "only the mail units' entries are read")
        let all = try lines(try box.sigctl(["hits", "--json", "--since", "all"]).stdout).0
        #expect(all.count == 3)

        // A journal without the mail units (a host whose MTA logs elsewhere) says so.
        let other = box.root + "/other-journal"
        try Self.writeJournal(other, [(60, "sshd.service", "sshd", "Accepted publickey for root")])
        try box.writeSettings("clamd = \"none\"\nmail_logs = [\"journald\"]\njournal_directory = \"\(other)\"")
        let empty = try box.sigctl(["hits"])
        #expect(empty.status == 2 && empty.stderr.contains("the journal has no entries of the mail units (postfix*,"), "\(empty.stderr)")
        #expect(empty.stderr.contains("set mail_logs (or journal_units)"))

        // journalctl's own error, named.
        try box.writeSettings("clamd = \"none\"\nmail_logs = [\"journald\"]\njournal_directory = \"\(box.root)/no-journal\"")
        let broken = try box.sigctl(["hits"])
        #expect(broken.status == 2 && broken.stderr.contains("cannot read journald (\(box.root)/no-journal): journalctl:"), "\(broken.stderr)")
    }

    static func eximStamp(_ ago: TimeInterval) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: Date().addingTimeInterval(-ago)) + " +0000"
    }
}
