import ArgumentParser
import Foundation
import SigctlCore

struct Explain: Subcommand {
    static let configuration = CommandConfiguration(
        abstract: "Show which feed and file define a signature, its definition line, the feed's false-positive risk, and whether it is allowed."
    )

    @OptionGroup var options: GlobalOptions
    @ParentCommand var parent: Sigctl

    @Argument(help: "The signature name, as reported (a trailing .UNOFFICIAL is ignored).")
    var signature: String

    @OptionGroup var output: OutputOptions

    func run() throws {
        let log = global.log
        try execute(log, json: output.json) {
            let config = try global.load(log)
            let explanation = try SignatureLookup.explain(signature, config: config)
            let defined = explanation.definitions.contains { !$0.allowList }
            if output.json {
                try printJSON(explanation)
            } else if defined || explanation.allowed != nil || !explanation.definitions.isEmpty {
                print(explanation.signature)
                let definitions = explanation.definitions.filter { !$0.allowList }
                for definition in definitions {
                    let inner = definition.innerFile.map { " (\($0) inside it)" } ?? ""
                    var origin = "  defined in \(definition.file)\(inner)"
                    if let feed = explanation.feed { origin += ", feed \(feed)" }
                    if let risk = explanation.risk { origin += ", false-positive risk \(risk)" }
                    print(origin + ", line \(definition.line):")
                    print("    \(definition.text)")
                }
                for entry in explanation.definitions where entry.allowList {
                    print("  allow-listed in \(entry.file)\(entry.innerFile.map { " (\($0))" } ?? ""), line \(entry.line)")
                }
                if let set = explanation.liveSet { print("  live set: \(set)") }
                if let allowed = explanation.allowed {
                    print("  allowed with sigctl allow by \(allowed.by) at \(Timestamp.text(allowed.at))\(allowed.reason.map { ": \($0)" } ?? "")")
                } else {
                    print("  allowed: no")
                }
            }
            if !defined {
                throw CommandError("no database in \(config.settings.databaseDir) defines \(explanation.signature)",
                                   hint: "check the spelling; heuristic detections (Heuristics.*) come from libclamav itself", exit: .partial)
            }
        }
    }
}
