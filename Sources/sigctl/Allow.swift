import ArgumentParser
import Foundation
import SigctlCore

struct Allow: Subcommand {
    static let configuration = CommandConfiguration(
        abstract: "Stop a signature from firing: add it to sigctl's allow list (sigctl-allow.ign2), verified, installed and proven like any update.",
        discussion: "The entry survives feed updates. `sigctl allow --remove NAME` takes it out again. Exit codes as for update."
    )

    @OptionGroup var options: GlobalOptions
    @ParentCommand var parent: Sigctl

    @Argument(help: "The signature name, as reported (a trailing .UNOFFICIAL is ignored).")
    var signature: String

    @Option(help: "Why it is allowed (kept in sigctl's state and shown by status and explain).")
    var reason: String?

    @Flag(help: "Remove the signature from the allow list instead.")
    var remove = false

    @OptionGroup var output: OutputOptions

    /// `--json`: what changed, and the update run that installed it.
    struct Outcome: Encodable {
        var signature: String
        var action: String
        var changed: Bool
        var update: UpdateReport
    }

    func validate() throws {
        guard !signature.isEmpty, !signature.contains(":"), !signature.contains(where: \.isWhitespace) else {
            throw ValidationError("'\(signature)' is not a signature name")
        }
    }

    func run() throws {
        let log = global.log
        try execute(log, json: output.json) {
            let config = try global.load(log)
            let context = global.context(log)
            let name = definedName(signature)
            var options = UpdateOptions()
            options.fetch = false
            if remove {
                options.disallow = [name]
            } else {
                let who = ProcessInfo.processInfo.environment["SUDO_USER"] ?? ProcessInfo.processInfo.environment["USER"] ?? "uid \(getuid())"
                options.allow = [name: AllowEntry(reason: reason, by: who, at: context.clock.now())]
            }
            let report = try UpdateRunner(context: context, config: config, options: options).run()
            for error in report.errors { log.error(error) }
            for feed in report.feeds {
                for problem in feed.problems { log.error(Update.describe(problem, feed: feed.name)) }
            }
            if output.json {
                try printJSON(Outcome(signature: name, action: remove ? "remove" : "allow", changed: report.installed, update: report))
            } else if report.installed {
                let proof = report.reload.result == .confirmed ? "; clamd confirmed it" : report.reload.result == .skipped ? "; clamd not contacted" : ""
                print("\(remove ? "removed \(name) from" : "allowed \(name) in") sigctl's allow list; set \(report.generation ?? 0) installed\(proof)")
            } else if report.exitCode == 0 {
                print("\(name) was already \(remove ? "off" : "on") the allow list; nothing changed")
            }
            if report.exitCode != 0 { throw ExitCode(report.exitCode) }
        }
    }
}
