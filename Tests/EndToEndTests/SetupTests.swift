import Foundation
import SigctlCore
import Testing

/// An offline system image for `sigctl setup --root`: Debian's freshclam enabled for
/// the sandbox's database directory, sigctl's units installed. The real systemctl
/// works on it (`systemctl --root`), as it would on an image being prepared.
struct SystemImage {
    let root: String
    let freshclamLink: String
    let timerLink: String
    let cronFile: String

    init(_ box: Sandbox) throws {
        root = box.root + "/image"
        freshclamLink = root + "/etc/systemd/system/multi-user.target.wants/clamav-freshclam.service"
        timerLink = root + "/etc/systemd/system/timers.target.wants/sigctl-update.timer"
        cronFile = root + "/etc/cron.d/sigctl"
        let units = root + "/lib/systemd/system"
        for dir in [units, root + "/etc/clamav", (freshclamLink as NSString).deletingLastPathComponent] {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        for unit in ["sigctl-update.service", "sigctl-update.timer"] {
            try FileManager.default.copyItem(atPath: Paths.packageRoot + "/contrib/systemd/" + unit, toPath: units + "/" + unit)
        }
        try "[Unit]\nDescription=ClamAV virus database updater\n[Service]\nExecStart=/usr/bin/freshclam -d --foreground=true\n[Install]\nWantedBy=multi-user.target\n"
            .write(toFile: units + "/clamav-freshclam.service", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: freshclamLink, withDestinationPath: "/lib/systemd/system/clamav-freshclam.service")
        try "DatabaseDirectory \(box.dbDir)\n".write(toFile: root + "/etc/clamav/freshclam.conf", atomically: true, encoding: .utf8)
    }

    static var haveSystemctl: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/systemctl") || FileManager.default.isExecutableFile(atPath: "/bin/systemctl") }
}

@Suite struct SetupTests {
    /// The shipped clamav.toml, so that setup edits the file admins get.
    func sandboxWithShippedOfficialFeed() throws -> Sandbox {
        let box = try Sandbox()
        try FileManager.default.copyItem(atPath: Paths.packageRoot + "/feeds.d/clamav.toml", toPath: box.configDir + "/feeds.d/clamav.toml")
        return box
    }

    func officialEnabled(_ box: Sandbox) throws -> String? {
        try String(contentsOfFile: box.configDir + "/feeds.d/clamav.toml", encoding: .utf8)
            .split(separator: "\n").first { $0.hasPrefix("enabled = ") }.map(String.init)
    }

    @Test(.enabled(if: SystemImage.haveSystemctl, "needs systemctl (Debian's systemd package)"))
    func choiceIsWrittenBeforeAnythingIsScheduled() throws {
        let box = try sandboxWithShippedOfficialFeed()
        let image = try SystemImage(box)
        let shipped = try String(contentsOfFile: box.configDir + "/feeds.d/clamav.toml", encoding: .utf8)

        // Not told, not asked (no terminal): freshclam is there, so setup refuses and changes nothing.
        let refused = try box.sigctl(["setup", "--root", image.root])
        #expect(refused.status == 64, "\(refused.stderr)")
        #expect(refused.stderr.contains("sigctl: error: freshclam is installed, so setup needs to be told who updates the official databases; run sigctl setup --official sigctl"), "\(refused.stderr)")
        #expect(try String(contentsOfFile: box.configDir + "/feeds.d/clamav.toml", encoding: .utf8) == shipped)
        #expect(!Files.exists(image.cronFile) && !Files.exists(image.timerLink))

        // sigctl takes the official files: freshclam's unit is disabled, then the timer enabled
        // with a drop-in naming this config directory.
        let toSigctl = try box.sigctl(["setup", "--root", image.root, "--official", "sigctl", "--schedule", "timer"])
        #expect(toSigctl.status == 0, "\(toSigctl.stderr)")
        #expect(toSigctl.stdout.contains("changed: freshclam: disabled clamav-freshclam.service"), "\(toSigctl.stdout)")
        #expect(!Files.exists(image.freshclamLink), "systemctl --root removed freshclam's link")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: image.timerLink) == "/lib/systemd/system/sigctl-update.timer")
        let dropIn = try String(contentsOfFile: image.root + "/etc/systemd/system/sigctl-update.service.d/sigctl-config.conf", encoding: .utf8)
        let configDir = URL(fileURLWithPath: box.configDir).standardizedFileURL.path
        #expect(dropIn.contains("Environment=SIGCTL_CONFIG=\(configDir)\n"), "\(dropIn)")
        #expect(try officialEnabled(box) == "enabled = true")
        #expect(try String(contentsOfFile: box.configDir + "/feeds.d/clamav.toml", encoding: .utf8).hasPrefix("# ClamAV's official"), "comments kept")

        // Again: nothing to change.
        let again = try box.sigctl(["setup", "--root", image.root, "--official", "sigctl", "--schedule", "timer"])
        #expect(again.status == 0 && again.stdout.contains("nothing to change"), "\(again.stdout)\(again.stderr)")

        // Back to freshclam, by cron: the timer goes, the cron file comes, and setup warns
        // that the freshclam it disabled no longer runs.
        let toFreshclam = try box.sigctl(["setup", "--root", image.root, "--official", "freshclam", "--schedule", "cron"])
        #expect(toFreshclam.status == 0, "\(toFreshclam.stderr)")
        #expect(try officialEnabled(box) == "enabled = false")
        #expect(!Files.exists(image.timerLink))
        #expect(toFreshclam.stderr.contains("freshclam is installed but nothing shows it updating \(box.dbDir)"), "\(toFreshclam.stderr)")
        let cron = try String(contentsOfFile: image.cronFile, encoding: .utf8)
        let line = try #require(cron.split(separator: "\n").first { $0.hasPrefix("*/15 * * * * ") })
        #expect(line.hasSuffix("update --syslog --config \(configDir)"), "\(line)")
        #expect(line.split(separator: " ")[5] == "clamav", "no state directory yet: clamav, as after the package's install: \(line)")
        // Once the state directory exists, its owner (root here) is the user.
        try FileManager.default.createDirectory(atPath: box.stateDir, withIntermediateDirectories: true)
        _ = try box.sigctl(["setup", "--root", image.root, "--official", "freshclam", "--schedule", "cron"])
        #expect(try String(contentsOfFile: image.cronFile, encoding: .utf8).contains("\n*/15 * * * * root "))
    }

    @Test(.enabled(if: SystemImage.haveSystemctl && geteuid() == 0 && getpwnam("clamav") != nil,
                   "needs systemctl, root and a clamav user"))
    func theInstalledCronLineRunsAnUpdateAsClamav() throws {
        let box = try sandboxWithShippedOfficialFeed()
        let image = try SystemImage(box)
        try box.clamd.start()
        let sigs = GeneratedSignatures.ndb("Test.Setup", count: 2)
        try box.publish(feed: "f", file: "a.ndb", sigs.text)
        try box.writeFeed("f", files: ["a.ndb"])
        // As the package leaves it: the state directory (postinst) and the database
        // directory (clamav-daemon) belong to clamav; the config is readable.
        let clamav = getpwnam("clamav")!.pointee
        chmod(box.root, 0o755)
        for path in [box.configDir, box.configDir + "/feeds.d"] { chmod(path, 0o755) }
        try Files.makeDirectory(box.stateDir)
        for path in [box.stateDir, box.dbDir] { chown(path, clamav.pw_uid, clamav.pw_gid) }
        let result = try box.sigctl(["setup", "--root", image.root, "--official", "freshclam", "--schedule", "cron"])
        #expect(result.status == 0, "\(result.stderr)")
        let line = try #require(try String(contentsOfFile: image.cronFile, encoding: .utf8).split(separator: "\n").last)
        let fields = line.split(separator: " ", maxSplits: 6).map(String.init)
        #expect(fields[5] == "clamav", "the owner of the state directory: \(line)")
        // Run the command as cron would: as that user, by /bin/sh, with no SIGCTL_CONFIG
        // and stdin not a terminal.
        let receiver = try SyslogReceiver(in: box.root)
        chown(receiver.path, clamav.pw_uid, clamav.pw_gid)
        var environment = ProcessInfo.processInfo.environment
        environment["SIGCTL_CONFIG"] = nil
        environment["SIGCTL_SYSLOG_SOCKET"] = receiver.path
        let run = try runProgram("/usr/bin/setpriv", ["--reuid=clamav", "--regid=clamav", "--init-groups", "/bin/sh", "-c", fields[6]],
                                 environment: environment)
        #expect(run.status == 0, "\(fields[6]): \(run.stderr)")
        #expect(run.stdout.isEmpty && run.stderr.isEmpty, "report = errors: cron mails nothing: \(run.stdout)\(run.stderr)")
        #expect(receiver.messages().contains { $0.contains("]: set 1 installed: ") && $0.contains("clamd confirmed it") })
        var st = stat()
        #expect(stat(box.dbDir + "/a.ndb", &st) == 0 && st.st_uid == clamav.pw_uid)
        #expect(try box.clamd.scan(sigs.samples["Test.Setup-1"]!) == "Test.Setup-1.UNOFFICIAL")
    }

    @Test(.enabled(if: SystemImage.haveSystemctl && FileManager.default.isExecutableFile(atPath: "/usr/bin/script"),
                   "needs systemctl and script(1)"))
    func asksOnATerminal() throws {
        let box = try sandboxWithShippedOfficialFeed()
        let image = try SystemImage(box)
        // script(1) gives setup a terminal; the answers come through it: a prefix, then the default.
        let shell = "SIGCTL_CONFIG='\(box.configDir)' '\(Paths.sigctl)' setup --root '\(image.root)'"
        let input = box.root + "/answers"
        try "fresh\n\n".write(toFile: input, atomically: true, encoding: .utf8)
        let run = try runProgram("/bin/sh", ["-c", "script -qec \"\(shell)\" /dev/null < '\(input)'"])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("freshclam: the clamav-freshclam service is enabled"), "what it found: \(run.stdout)")
        #expect(run.stdout.contains("[sigctl/freshclam]") && run.stdout.contains("[cron/timer/none] (default cron)"), "\(run.stdout)")
        #expect(try officialEnabled(box) == "enabled = false")
        #expect(Files.exists(image.cronFile), "no systemd running in an image: cron is the default")
        #expect(Files.exists(image.freshclamLink), "freshclam keeps its files and stays enabled")
    }

    @Test(.enabled(if: SystemImage.haveSystemctl, "needs systemctl (Debian's systemd package)"))
    func freshclamThatCannotBeStoppedBlocksScheduling() throws {
        let box = try sandboxWithShippedOfficialFeed()
        let image = try SystemImage(box)
        // A copy instead of a link: systemctl disable leaves it, so freshclam would still run.
        try FileManager.default.removeItem(atPath: image.freshclamLink)
        try FileManager.default.copyItem(atPath: image.root + "/lib/systemd/system/clamav-freshclam.service", toPath: image.freshclamLink)
        let result = try box.sigctl(["setup", "--root", image.root, "--official", "sigctl", "--schedule", "cron"])
        #expect(result.status == 2, "\(result.stdout)\(result.stderr)")
        #expect(result.stderr.contains("sigctl: error: sigctl now owns the official databases, but the clamav-freshclam service is enabled"), "\(result.stderr)")
        #expect(result.stderr.contains("nothing is scheduled"), "\(result.stderr)")
        #expect(!Files.exists(image.cronFile))
    }

    @Test(.enabled(if: SystemImage.haveSystemctl, "needs systemctl (Debian's systemd package)"))
    func clamavUnofficialSigsIsReportedWithItsFiles() throws {
        let box = try sandboxWithShippedOfficialFeed()
        let image = try SystemImage(box)
        try box.writeFeed("f", files: ["a.ndb", "b.ndb"])
        try FileManager.default.createDirectory(atPath: image.root + "/etc/cron.d", withIntermediateDirectories: true)
        try "0 * * * * clamav /usr/sbin/clamav-unofficial-sigs\n".write(toFile: image.root + "/etc/cron.d/clamav-unofficial-sigs", atomically: true, encoding: .utf8)
        try "Other.Updater-1:0:*:00112233\n".write(toFile: box.dbDir + "/b.ndb", atomically: true, encoding: .utf8)
        let result = try box.sigctl(["setup", "--root", image.root, "--official", "freshclam", "--schedule", "none", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("clamav-unofficial-sigs is scheduled (\(image.root)/etc/cron.d/clamav-unofficial-sigs)"), "\(result.stderr)")
        #expect(result.stderr.contains("1 file(s) in \(box.dbDir) that sigctl's feeds provide were installed by another updater (b.ndb)"), "\(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(json["official"] as? String == "freshclam" && json["schedule"] as? String == "none", "\(result.stdout)")
    }
}
