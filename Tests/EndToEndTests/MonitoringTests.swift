import Foundation
import SigctlCore
import Testing

/// `sigctl check` (a Nagios/Icinga plugin), `status`'s exit codes and the Prometheus textfile.
@Suite struct MonitoringTests {
    static let promtool = ["/usr/bin/promtool", "/usr/local/bin/promtool"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// The plugin's first line: "SIGCTL STATE - summary | perfdata".
    func firstLine(_ result: RunResult) -> String { String(result.stdout.split(separator: "\n").first ?? "") }

    @Test func checkAndStatusFollowEachState() throws {
        let box = try Sandbox()
        try box.clamd.start()
        let sigs = GeneratedSignatures.ndb("Test.Check", count: 3)
        try box.publish(feed: "f", file: "a.ndb", sigs.text)
        try box.writeFeed("f", files: ["a.ndb"])

        // Nothing installed yet.
        let before = try box.sigctl(["check"])
        #expect(before.status == 2, "\(before.stdout)")
        #expect(firstLine(before).hasPrefix("SIGCTL CRITICAL - no signature set installed by sigctl yet (run sigctl update) | "), "\(before.stdout)")
        #expect(try box.sigctl(["status"]).status == 2)

        // Installed and served.
        #expect(try box.update().0.status == 0)
        let ok = try box.sigctl(["check"])
        #expect(ok.status == 0, "\(ok.stdout)")
        let line = firstLine(ok)
        #expect(line.hasPrefix("SIGCTL OK - set 1 ("), "\(line)")
        #expect(line.contains("served by clamd; 1 feed(s) fresh | "), "\(line)")
        for datum in ["'generation'=1;;;0", "'last_success'=", "'age_f'=", "'backoffs'=0;;;0"] {
            #expect(line.contains(datum), "\(datum) in \(line)")
        }
        #expect(line.contains(";21600;86400;0"), "the run thresholds in seconds: \(line)")
        let status = try box.sigctl(["status"])
        #expect(status.status == 0 && status.stdout.contains("\nhealth:       OK\n"), "\(status.stdout)")

        // Thresholds: newest signatures older than 0s are critical.
        let stale = try box.sigctl(["check", "--age-critical", "0s", "--age-warning", "0s"])
        #expect(stale.status == 2 && firstLine(stale).hasPrefix("SIGCTL CRITICAL - f: the newest signatures are "), "\(stale.stdout)")

        // clamd down: critical, and status says so with exit 2.
        box.clamd.stop()
        let down = try box.sigctl(["check"])
        #expect(down.status == 2, "\(down.stdout)")
        #expect(firstLine(down).hasPrefix("SIGCTL CRITICAL - clamd (unix:\(box.socket)) is not answering"), "\(down.stdout)")
        let statusDown = try box.sigctl(["status"])
        #expect(statusDown.status == 2 && statusDown.stdout.contains("health:       CRITICAL: clamd"), "\(statusDown.stdout)")
        try box.clamd.start()
        #expect(try box.sigctl(["check"]).status == 0)

        // A mirror asking to wait: a warning, with the back-off in perfdata; status's next
        // check is the end of the back-off, not the interval.
        try box.mirror.setFaults(["/f/a.ndb": ["status": 429, "retry_after": 3600]])
        try box.publish(feed: "f", file: "a.ndb", GeneratedSignatures.ndb("Test.Check", count: 4).text)
        _ = try box.update(["--force"])
        let waiting = try box.sigctl(["check"])
        #expect(waiting.status == 1, "\(waiting.stdout)")
        #expect(firstLine(waiting).hasPrefix("SIGCTL WARNING - "), "\(waiting.stdout)")
        #expect(waiting.stdout.contains("f: backing off from 127.0.0.1:\(box.mirror.port) until "), "\(waiting.stdout)")
        #expect(firstLine(waiting).contains("'backoffs'=1;;;0"), "\(waiting.stdout)")
        let statusWaiting = try box.sigctl(["status", "--json"])
        #expect(statusWaiting.status == 1)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(statusWaiting.stdout.utf8)) as? [String: Any])
        let feed = try #require((json["feeds"] as? [[String: Any]])?.first)
        let next = try #require(feed["next_check"] as? String)
        let until = try #require(try box.state().hosts["127.0.0.1:\(box.mirror.port)"]?.until)
        let nextDate = try #require(ISO8601DateFormatter().date(from: next))
        #expect(abs(nextDate.timeIntervalSince(until)) < 1, "next check \(next) is the back-off's end \(until)")
    }

    @Test func pluginConventionsForBadInput() throws {
        let box = try Sandbox()
        try box.writeSettings("clamd = \"none\"\nkeep_generations = \"x\"")
        let broken = try box.sigctl(["check"])
        #expect(broken.status == 3 && firstLine(broken).hasPrefix("SIGCTL UNKNOWN - "), "\(broken.stdout)\(broken.stderr)")
        #expect(broken.stdout.contains("keep_generations"), "\(broken.stdout)")
        let usage = try box.sigctl(["check", "--age-warning", "soon"])
        #expect(usage.status == 3, "\(usage.stdout)\(usage.stderr)")
        #expect(firstLine(usage).hasPrefix("SIGCTL UNKNOWN - ") && usage.stdout.contains("soon"), "\(usage.stdout)")
    }

    @Test func clamdNoneIsNotReportedAsUnconfirmed() throws {
        let box = try Sandbox()
        try box.writeSettings("clamd = \"none\"")
        try box.publish(feed: "f", file: "a.ndb", GeneratedSignatures.ndb("Test.None", count: 1).text)
        try box.writeFeed("f", files: ["a.ndb"])
        #expect(try box.update().0.status == 0)
        let status = try box.sigctl(["status"])
        #expect(status.status == 0, "\(status.stdout)")
        #expect(status.stdout.contains("not checked with clamd (clamd = \"none\")") && !status.stdout.contains("NOT confirmed"), "\(status.stdout)")
        let check = try box.sigctl(["check"])
        #expect(check.status == 0 && firstLine(check).contains("installed (clamd not checked: clamd = \"none\")"), "\(check.stdout)")
    }

    @Test func textfileIsWrittenAfterEveryRunAndPassesPromtool() throws {
        let box = try Sandbox()
        let directory = box.root + "/textfile"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/sigctl.prom"
        try box.writeSettings("metrics_textfile = \"\(path)\"")
        try box.clamd.start()
        try box.publish(feed: "f", file: "a.ndb", GeneratedSignatures.ndb("Test.Metrics", count: 2).text)
        try box.writeFeed("f", files: ["a.ndb", "missing.ndb"])
        let (run, _) = try box.update()
        #expect(run.status == 1, "missing.ndb is a 404: \(run.stderr)")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        for line in ["sigctl_live_generation 1\n", "sigctl_live_confirmed 1\n", "sigctl_feed_signatures{feed=\"f\"} 2\n",
                     "sigctl_feed_enabled{feed=\"f\"} 1\n", "sigctl_errors_total{feed=\"f\",cause=\"http\"} 1\n",
                     "sigctl_errors_total{feed=\"f\",cause=\"network\"} 0\n", "sigctl_last_run_exit_code 1\n",
                     "sigctl_reload_failures_total 0\n", "# TYPE sigctl_errors_total counter\n"] {
            #expect(text.contains(line), "\(line) in:\n\(text)")
        }
        #expect(text.contains("sigctl_reload_duration_seconds "), "\(text)")
        #expect(text.contains("sigctl_info{version=\"\(sigctlVersion)\",libclamav=\""))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["sigctl.prom"], "no temporary file left")
        if let promtool = Self.promtool {
            let lint = try runProgram("/bin/sh", ["-c", "'\(promtool)' check metrics < '\(path)'"])
            #expect(lint.status == 0 && lint.stdout.isEmpty && lint.stderr.isEmpty, "promtool: \(lint.stdout)\(lint.stderr)")
        }

        // The next run counts again; a rollback or reload rewrites the file too.
        _ = try box.update()
        #expect(try String(contentsOfFile: path, encoding: .utf8).contains("sigctl_errors_total{feed=\"f\",cause=\"http\"} 2\n"))
        try FileManager.default.removeItem(atPath: path)
        #expect(try box.sigctl(["reload"]).status == 0)
        #expect(FileManager.default.fileExists(atPath: path), "written after reload")

        // A directory sigctl cannot write: one error naming the path and the fix; the update itself stands.
        try box.writeSettings("metrics_textfile = \"\(box.root)/no-such-dir/sigctl.prom\"")
        let failed = try box.sigctl(["update"])
        #expect(failed.stderr.contains("sigctl: error: cannot write metrics_textfile \(box.root)/no-such-dir/sigctl.prom: "), "\(failed.stderr)")
        #expect(failed.stderr.contains("no-such-dir writable for root (chgrp root "), "\(failed.stderr)")

        // Not a .prom file: a config error.
        try box.writeSettings("metrics_textfile = \"\(directory)/sigctl.txt\"")
        let config = try box.sigctl(["update"])
        #expect(config.status == 78 && config.stderr.contains("metrics_textfile"), "\(config.stderr)")
    }

    @Test(.enabled(if: MonitoringTests.promtool != nil, "needs promtool (Debian's prometheus package)"))
    func promtoolRejectsABrokenTextfile() throws {
        // The lint above can fail: promtool objects to a malformed exposition.
        let box = try Sandbox()
        let path = box.root + "/bad.prom"
        try "# TYPE x counter\nx{a=\"b} 1\n".write(toFile: path, atomically: true, encoding: .utf8)
        let lint = try runProgram("/bin/sh", ["-c", "'\(Self.promtool!)' check metrics < '\(path)'"])
        #expect(lint.status != 0)
    }
}
