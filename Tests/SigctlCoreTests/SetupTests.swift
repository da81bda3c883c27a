import Foundation
@testable import SigctlCore
import Testing

@Suite struct SetupTests {
    let shipped = """
    # ClamAV's official databases.
    # To keep freshclam instead, set enabled = false here.
    name = "clamav"
    kind = "official"
    enabled = true
    databases = ["main", "daily", "bytecode"]
    """

    @Test func feedSwitchRewritesOnlyTheTopLevelKey() {
        let off = FeedSwitch.rewrite(shipped, enabled: false)
        #expect(off == shipped.replacingOccurrences(of: "enabled = true\n", with: "enabled = false\n"))
        #expect(FeedSwitch.rewrite(off, enabled: false) == off, "idempotent")
        // No top-level key: it goes after kind, never into a [[files]] table.
        let withTable = "name = \"x\"\nkind = \"official\"\n\n[[files]]\nname = \"a.ndb\"\nenabled = true\n"
        #expect(FeedSwitch.rewrite(withTable, enabled: false)
            == "name = \"x\"\nkind = \"official\"\nenabled = false\n\n[[files]]\nname = \"a.ndb\"\nenabled = true\n")
        // Neither: after the leading comments.
        #expect(FeedSwitch.rewrite("# comment\nname = \"x\"\n", enabled: true) == "# comment\nenabled = true\nname = \"x\"\n")
        // A commented-out key is not the key.
        #expect(FeedSwitch.rewrite("# enabled = true\nkind = \"official\"\n", enabled: false)
            == "# enabled = true\nkind = \"official\"\nenabled = false\n")
    }

    @Test func feedSwitchKeepsTheFileModeAndReportsNoChange() throws {
        let dir = TempDir()
        let path = dir.write("clamav.toml", shipped)
        chmod(path, 0o640)
        #expect(try FeedSwitch.apply(path: path, enabled: true) == false)
        #expect(try FeedSwitch.apply(path: path, enabled: false) == true)
        var info = stat()
        stat(path, &info)
        #expect(info.st_mode & 0o777 == 0o640)
        #expect(dir.read("clamav.toml")?.contains("\nenabled = false\n") == true)
    }

    func facts(conflict: String? = nil, timer: Bool = false, cron: Bool = false) -> SystemFacts {
        SystemFacts(freshclamConflict: conflict, freshclamInstalled: conflict != nil, unofficialSigs: nil,
                    systemdRunning: false, timerEnabled: timer, cronFilePresent: cron)
    }

    @Test func planWritesTheChoiceFirstAndSwitchesSchedules() throws {
        let config = Configuration.make(feeds: [.official(enabled: false), .files("f", ["a.ndb"])])
        let root = SystemRoot("/img")
        let toCron = try SetupPlan.steps(official: .sigctl, schedule: .cron, facts: facts(conflict: "x", timer: true),
                                         config: config, root: root, cronText: "C")
        #expect(toCron == [.setOfficialFeed(feed: "clamav", path: "/etc/sigctl/feeds.d/clamav.toml", enabled: true),
                           .disableFreshclam, .installCron(path: "/img/etc/cron.d/sigctl", text: "C"), .disableTimer])
        let toTimer = try SetupPlan.steps(official: .freshclam, schedule: .timer, facts: facts(conflict: "x", cron: true),
                                          config: config, root: root, cronText: "C")
        #expect(toTimer == [.setOfficialFeed(feed: "clamav", path: "/etc/sigctl/feeds.d/clamav.toml", enabled: false),
                            .enableTimer(configDir: "/nonexistent/etc"), .removeCron(path: "/img/etc/cron.d/sigctl")],
                "freshclam keeps running when it keeps the official files")
        #expect(try SetupPlan.steps(official: .sigctl, schedule: .none, facts: facts(), config: config, root: SystemRoot(nil),
                                    cronText: "C").count == 1)
        #expect(throws: CommandError.self, "no official feed to enable") {
            try SetupPlan.steps(official: .sigctl, schedule: .cron, facts: facts(),
                                config: .make(feeds: [.files("f", ["a.ndb"])]), root: root, cronText: "C")
        }
    }

    @Test func cronLineQuotesAndEscapes() {
        let plain = CronFile.render(user: "clamav", binary: "/usr/bin/sigctl", configDir: "/etc/sigctl")
        #expect(plain.hasSuffix("\n*/15 * * * * clamav [ -x /usr/bin/sigctl ] && /usr/bin/sigctl update --syslog\n"))
        #expect(plain.contains("\nMAILTO=root\n"))
        let odd = CronFile.render(user: "root", binary: "/opt/my sigctl", configDir: "/srv/50%/conf")
        #expect(odd.hasSuffix("root [ -x '/opt/my sigctl' ] && '/opt/my sigctl' update --syslog --config '/srv/50\\%/conf'\n"))
    }

    @Test func systemRootPrefixesPaths() {
        #expect(SystemRoot(nil).path("/etc/cron.d/sigctl") == "/etc/cron.d/sigctl")
        #expect(SystemRoot("/img").path("/etc/cron.d/sigctl") == "/img/etc/cron.d/sigctl")
        #expect(SystemRoot("/img").path("etc/x") == "/img/etc/x")
    }
}
