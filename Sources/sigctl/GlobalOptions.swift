import ArgumentParser
import Foundation
import SigctlCore

/// Options every subcommand takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Config directory (default: $SIGCTL_CONFIG, else /etc/sigctl).", valueName: "dir"))
    var config: String?

    @Flag(name: .shortAndLong, help: "Say more on stderr (twice for debug output).")
    var verbose: Int

    @Flag(name: .shortAndLong, help: "No warnings or progress on stderr; errors and results still print.")
    var quiet = false

    @Flag(help: "Also send errors, warnings and changes to syslog (facility mail, tag sigctl), as the cron file does.")
    var syslog = false

    /// These options merged with the same ones given before the subcommand.
    func merged(with outer: GlobalOptions) -> GlobalOptions {
        var merged = self
        merged.config = config ?? outer.config
        merged.verbose = verbose + outer.verbose
        merged.quiet = quiet || outer.quiet
        merged.syslog = syslog || outer.syslog
        return merged
    }

    var log: Log {
        Log(level: quiet ? .quiet : verbose >= 2 ? .debug : verbose == 1 ? .verbose : .normal,
            journal: JournalStream.isStderr, syslog: syslog ? SyslogWriter.fromEnvironment() : nil)
    }

    /// The real world, for one command.
    func context(_ log: Log) -> SigctlContext { .live(log: log) }

    /// Reads the configuration and prints its warnings.
    func load(_ log: Log, showWarnings: Bool = true) throws -> Configuration {
        let config = try ConfigLoader.load(directory: ConfigLoader.directory(option: self.config))
        if showWarnings { config.warnings.forEach(log.warning) }
        return config
    }
}

/// A sigctl subcommand: the global options given after it, and the root command
/// holding those given before it.
protocol Subcommand: ParsableCommand {
    var options: GlobalOptions { get }
    var parent: Sigctl { get }
}

extension Subcommand {
    /// The global options, given before or after the subcommand (after wins).
    var global: GlobalOptions { options.merged(with: parent.global) }
}

/// Runs a command body and turns sigctl's errors into one line on stderr and the
/// documented exit code; with `json`, also into an error document on stdout, so a
/// script reading stdout always gets JSON.
func execute(_ log: Log, json: Bool = false, _ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as ExitCode {
        throw error
    } catch {
        let problem = error as? UserFacingError
        let status = problem?.exitStatus ?? .failed
        log.error(problem?.description ?? "\(error)")
        if json { printJSONError(problem?.summary ?? "\(error)", hint: problem?.hint, exit: status.rawValue) }
        throw ExitCode(status.rawValue)
    }
}

/// Prints a value on stdout in sigctl's JSON schema.
func printJSON<T: Encodable>(_ value: T) throws {
    FileHandle.standardOutput.write(try JSONOutput.encode(value))
}

func printJSONError(_ message: String, hint: String?, exit: Int32) {
    FileHandle.standardOutput.write(JSONOutput.error(message, hint: hint, exitCode: exit))
}

/// `--json`, for every command that prints a result.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print JSON in sigctl's schema (see JSON OUTPUT in sigctl(1)); errors too.")
    var json = false
}
