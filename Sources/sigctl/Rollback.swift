import ArgumentParser
import SigctlCore

struct Rollback: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Restore an earlier installed set, verified, then reload clamd and prove it.",
        discussion: "Without --to, restores the newest set older than the live one. `sigctl status` lists the kept sets."
    )

    @OptionGroup var options: GlobalOptions
    @ParentCommand var parent: Sigctl
    /// The global options, given before or after the subcommand.
    var global: GlobalOptions { options.merged(with: parent.global) }

    @Option(name: .long, help: ArgumentHelp("The set to restore.", valueName: "N"))
    var to: Int?

    @OptionGroup var output: OutputOptions
    var json: Bool { output.json }

    func run() throws {
        let log = global.log
        try execute(log, json: json) {
            let config = try global.load(log)
            let report = try Maintenance(context: global.context(log), config: config).rollback(to: to)
            try show(report, json: json, log: log)
        }
    }
}
