import Foundation
import SigctlCore
import Testing

/// The command line itself: global options anywhere, one error style, the version,
/// and the man page and completions kept in step with `--help`.
@Suite struct CommandLineTests {
    @Test func globalOptionsWorkBeforeAndAfterTheSubcommand() throws {
        let box = try Sandbox()
        try box.writeSettings("clamd = \"none\"")
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "SIGCTL_CONFIG")
        let before = try runProgram(Paths.sigctl, ["--config", box.configDir, "-q", "status"], environment: environment)
        // Nothing installed yet: status says so with its critical exit code.
        #expect(before.status == 2, "\(before.stderr)")
        #expect(before.stdout.contains("database dir: \(box.dbDir)"))
        let after = try runProgram(Paths.sigctl, ["status", "--config", box.configDir, "-q"], environment: environment)
        #expect(after.status == 2 && after.stdout == before.stdout, "\(after.stderr)")
        // Given in both places, the one after the subcommand wins.
        let both = try runProgram(Paths.sigctl, ["--config", "/nonexistent", "status", "--config", box.configDir], environment: environment)
        #expect(both.status == 2 && both.stdout == before.stdout, "\(both.stderr)")
        let wrong = try runProgram(Paths.sigctl, ["--config", "/nonexistent/sigctl", "status"], environment: environment)
        #expect(wrong.status == 78)
        #expect(wrong.stderr.hasPrefix("sigctl: error: /nonexistent/sigctl"), "\(wrong.stderr)")
    }

    @Test func usageErrorsHaveSigctlsStyleAndSuggestTheCommand() throws {
        let typo = try runProgram(Paths.sigctl, ["statsu"])
        #expect(typo.status == 64)
        #expect(typo.stderr.hasPrefix("sigctl: error: unexpected argument 'statsu'"), "\(typo.stderr)")
        #expect(typo.stderr.contains("did you mean 'sigctl status'?"))
        let option = try runProgram(Paths.sigctl, ["status", "--bogus"])
        #expect(option.status == 64)
        #expect(option.stderr.hasPrefix("sigctl: error: unknown option '--bogus'"), "\(option.stderr)")
        #expect(!option.stderr.contains("Error:"))
        #expect(!option.stderr.contains("did you mean"))
    }

    @Test func versionNamesLibclamav() throws {
        let version = try runProgram(Paths.sigctl, ["--version"])
        #expect(version.status == 0)
        #expect(version.stdout == "sigctl \(sigctlVersion) (libclamav \(ClamAV.version))\n")
    }

    /// Every subcommand and every option `--help` knows is in the man page, and in the
    /// completion scripts the package ships (generated from the binary).
    @Test func manPageAndCompletionsCoverEveryCommandAndOption() throws {
        let dump = try runProgram(Paths.sigctl, ["--experimental-dump-help"])
        #expect(dump.status == 0)
        let root = try #require(try JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [String: Any])
        let command = try #require(root["command"] as? [String: Any])
        let manPage = try String(contentsOfFile: Paths.packageRoot + "/man/sigctl.1", encoding: .utf8)
        let bash = try runProgram(Paths.sigctl, ["--generate-completion-script", "bash"]).stdout
        let zsh = try runProgram(Paths.sigctl, ["--generate-completion-script", "zsh"]).stdout
        let fish = try runProgram(Paths.sigctl, ["--generate-completion-script", "fish"]).stdout
        func longNames(_ command: [String: Any]) -> [String] {
            ((command["arguments"] as? [[String: Any]]) ?? []).flatMap { argument -> [String] in
                guard argument["shouldDisplay"] as? Bool != false else { return [] }
                return ((argument["names"] as? [[String: Any]]) ?? []).compactMap { name in
                    name["kind"] as? String == "long" ? name["name"] as? String : nil
                }
            }
        }
        // roff writes a hyphen in an option name as "\-".
        func documented(_ option: String) -> Bool {
            manPage.contains("\\-\\-" + option.replacingOccurrences(of: "-", with: "\\-")) || manPage.contains("\\-\\-" + option)
        }
        var missing: [String] = []
        for name in longNames(command) where name != "help" && name != "version" {
            if !documented(name) { missing.append("--\(name) (global)") }
        }
        for sub in (command["subcommands"] as? [[String: Any]]) ?? [] {
            guard sub["shouldDisplay"] as? Bool != false, let name = sub["commandName"] as? String, name != "help" else { continue }
            if !manPage.contains(".SS sigctl \(name)") { missing.append("sigctl \(name)") }
            for completion in [bash, zsh, fish] where !completion.contains(name) { missing.append("\(name) in a completion script") }
            for option in longNames(sub) where option != "help" {
                if !documented(option) { missing.append("sigctl \(name) --\(option)") }
                if !bash.contains("--" + option) { missing.append("sigctl \(name) --\(option) in bash completion") }
            }
        }
        #expect(missing.isEmpty, "not documented in man/sigctl.1 or not completed: \(missing)")
    }
}

/// sigctl as the clamav user, as the package runs it.
@Suite struct RunAsClamavTests {
    @Test(.enabled(if: geteuid() == 0 && getpwnam("clamav") != nil, "needs root and a clamav user"))
    func aStateDirectoryOwnedByRootNamesBothUsersAndTheFix() throws {
        let box = try Sandbox()
        try box.writeSettings("clamd = \"none\"")
        try box.publish(feed: "f", file: "a.ndb", GeneratedSignatures.ndb("Test.AsClamav", count: 1).text)
        try box.writeFeed("f", files: ["a.ndb"])
        chmod(box.root, 0o755)
        for path in [box.configDir, box.configDir + "/feeds.d"] { chmod(path, 0o755) }
        try Files.makeDirectory(box.stateDir)
        chmod(box.stateDir, 0o755)
        let asClamav = ["--reuid=clamav", "--regid=clamav", "--init-groups", Paths.sigctl, "update", "--config", box.configDir]
        let refused = try runProgram("/usr/bin/setpriv", asClamav)
        #expect(refused.status == 2, "\(refused.stderr)")
        #expect(refused.stderr.contains("sigctl runs as clamav but cannot open \(box.stateDir)/lock: permission denied (\(box.stateDir) belongs to root)"),
                "\(refused.stderr)")
        #expect(refused.stderr.contains("chown -R clamav: \(box.stateDir)) or run sigctl as root"), "\(refused.stderr)")

        // Once the state directory and the database directory are clamav's, the same
        // run as clamav installs the feed.
        let clamav = getpwnam("clamav")!.pointee
        for path in [box.stateDir, box.dbDir] { chown(path, clamav.pw_uid, clamav.pw_gid) }
        let installed = try runProgram("/usr/bin/setpriv", asClamav)
        #expect(installed.status == 0, "\(installed.stderr)")
        var st = stat()
        #expect(stat(box.dbDir + "/a.ndb", &st) == 0 && st.st_uid == clamav.pw_uid)
    }
}
