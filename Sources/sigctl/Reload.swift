import ArgumentParser
import SigctlCore

struct Reload: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify the live set, reload clamd and prove it with a new canary."
    )

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let log = global.log
        try execute(log) {
            let config = try global.load(log)
            let report = try Maintenance(config: config, log: log).reload()
            try show(report, json: json, log: log)
        }
    }
}

/// Prints the outcome of reload and rollback, and exits with its code.
func show(_ report: MaintenanceReport, json: Bool, log: Log) throws {
    if json {
        try printJSON(report)
    } else if report.reload.result == "confirmed" {
        print("set \(report.generation) live (\(report.signatures) signatures); clamd confirmed it in \(String(format: "%.2f", report.reload.seconds ?? 0))s")
    } else if report.reload.result == "skipped" {
        print("set \(report.generation) live (\(report.signatures) signatures); clamd not contacted")
    } else {
        log.error("clamd did not confirm set \(report.generation): \(report.reload.message ?? report.reload.result)")
    }
    if report.exitCode != 0 { throw ExitCode(report.exitCode) }
}
