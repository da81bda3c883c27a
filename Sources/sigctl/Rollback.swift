import ArgumentParser
import SigctlCore

struct Rollback: Subcommand {
    static let configuration = CommandConfiguration(
        abstract: "Restore an earlier installed set, verified, then reload clamd and prove it.",
        discussion: "Without --to, restores the newest set older than the live one. `sigctl status` lists the kept sets."
    )

    @OptionGroup var options: GlobalOptions
    @ParentCommand var parent: Sigctl

    @Option(name: .long, help: ArgumentHelp("The set to restore.", valueName: "N"))
    var to: Int?

    @OptionGroup var output: OutputOptions

    func run() throws {
        let log = global.log
        try execute(log, json: output.json) {
            let config = try global.load(log)
            let report = try Maintenance(context: global.context(log), config: config).rollback(to: to)
            try show(report, json: output.json, log: log)
        }
    }
}
