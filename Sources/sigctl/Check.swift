import ArgumentParser
import Foundation
import SigctlCore

struct Check: Subcommand {
    static let configuration = CommandConfiguration(
        abstract: "A Nagios/Icinga plugin: is clamd serving sigctl's set, are the feeds fresh, did the last runs succeed?",
        discussion: """
        Prints one status line with performance data, then one line per finding. Exits 0 OK, 1 WARNING, 2 CRITICAL, \
        3 UNKNOWN (the configuration or the state cannot be read). Read-only: it takes no lock. Run it as the user \
        sigctl runs as (state.json is that user's): with NRPE, `sudo -u clamav sigctl check`.
        """
    )

    @OptionGroup var options: GlobalOptions
    @ParentCommand var parent: Sigctl

    @Option(help: ArgumentHelp("Warn when a feed's newest signatures are this old.", valueName: "duration"))
    var ageWarning = "3d"
    @Option(help: ArgumentHelp("Critical when a feed's newest signatures are this old.", valueName: "duration"))
    var ageCritical = "7d"
    @Option(help: ArgumentHelp("Warn when the last successful update run is this long ago.", valueName: "duration"))
    var runWarning = "6h"
    @Option(help: ArgumentHelp("Critical when the last successful update run is this long ago.", valueName: "duration"))
    var runCritical = "1d"

    @OptionGroup var output: OutputOptions

    func validate() throws {
        for (name, value) in [("--age-warning", ageWarning), ("--age-critical", ageCritical), ("--run-warning", runWarning), ("--run-critical", runCritical)]
        where DurationParser.seconds(value) == nil {
            throw ValidationError("\(name) '\(value)' is not a duration such as 6h or 3d")
        }
    }

    func run() throws {
        let log = global.log
        var thresholds = HealthThresholds()
        thresholds.ageWarning = DurationParser.seconds(ageWarning)!
        thresholds.ageCritical = DurationParser.seconds(ageCritical)!
        thresholds.runWarning = DurationParser.seconds(runWarning)!
        thresholds.runCritical = DurationParser.seconds(runCritical)!
        let health: HealthReport
        do {
            let config = try global.load(log, showWarnings: false)
            let context = global.context(log)
            let report = try StatusReport.gather(context: context, config: config)
            health = HealthCheck.evaluate(report, thresholds: thresholds, now: context.clock.now())
        } catch {
            // A plugin that cannot judge says UNKNOWN, never CRITICAL.
            health = .unknown("\(error)")
        }
        if output.json {
            try printJSON(health)
        } else {
            print(HealthCheck.pluginText(health))
        }
        throw ExitCode(health.level.rawValue)
    }
}
