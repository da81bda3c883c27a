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

/// Runs a command body and turns sigctl's errors into one line on stderr and the documented exit code.
func execute(_ log: Log, _ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as UserFacingError {
        log.error(error.description)
        throw ExitCode(error.exitStatus.rawValue)
    } catch let error as ExitCode {
        throw error
    } catch {
        log.error("\(error)")
        throw ExitCode(ExitStatus.failed.rawValue)
    }
}

/// Prints a value as JSON on stdout.
func printJSON<T: Encodable>(_ value: T) throws {
    let data = try JSONEncoder.sigctl.encode(value)
    FileHandle.standardOutput.write(data + Data("\n".utf8))
}
