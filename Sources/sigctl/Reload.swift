import ArgumentParser
import SigctlCore

struct Reload: Subcommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify the live set, reload clamd and prove it with a new canary."
    )

    @OptionGroup var options: GlobalOptions
    @ParentCommand var parent: Sigctl

    @OptionGroup var output: OutputOptions

    func run() throws {
        let log = global.log
        try execute(log, json: output.json) {
            let config = try global.load(log)
            let report = try Maintenance(context: global.context(log), config: config).reload()
            try show(report, json: output.json, log: log)
        }
    }
}

/// Prints the outcome of reload and rollback, and exits with its code.
func show(_ report: MaintenanceReport, json: Bool, log: Log) throws {
    for note in report.notes { log.warning(note) }
    if json {
        try printJSON(report)
    } else if report.reload.result == .confirmed {
        print("set \(report.generation) live (\(report.signatures) signatures); clamd confirmed it in \(String(format: "%.2f", report.reload.seconds ?? 0))s")
    } else if report.reload.result == .skipped {
        print("set \(report.generation) live (\(report.signatures) signatures); clamd not contacted")
    } else {
        log.error("clamd did not confirm set \(report.generation): \(report.reload.message ?? report.reload.result.rawValue)")
    }
    if !json && !report.keptOfficial.isEmpty {
        print("official databases left as they are: \(report.keptOfficial.joined(separator: ", ")) (a rollback restores third-party files only; ClamAV's own databases move forward through libfreshclam)")
    }
    if report.exitCode != 0 { throw ExitCode(report.exitCode) }
}
