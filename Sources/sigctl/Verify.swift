import ArgumentParser
import Foundation
import SigctlCore

struct Verify: Subcommand {
    static let configuration = CommandConfiguration(
        abstract: "Test-load database files or directories exactly as update does, and print signature counts or the exact error."
    )

    @OptionGroup var options: GlobalOptions
    @ParentCommand var parent: Sigctl

    @Argument(help: "Database files or directories.")
    var paths: [String]

    @OptionGroup var output: OutputOptions

    /// One path's result in `--json`.
    struct Checked: Encodable {
        var path: String
        var ok: Bool
        var signatures: Int?
        var loadSeconds: Double?
        var compileSeconds: Double?
        var error: String?
    }

    func run() throws {
        let log = global.log
        try execute(log, json: output.json) {
            let checker = try PathVerifier(context: global.context(log), config: try? global.load(log, showWarnings: false))
            let checked = paths.map { path in
                let result = checker.verify(path)
                let ok = result.error == nil
                return Checked(path: path, ok: ok, signatures: ok ? result.signatures : nil, loadSeconds: ok ? result.loadSeconds : nil,
                               compileSeconds: ok ? result.compileSeconds : nil, error: result.error)
            }
            if output.json {
                try printJSON(["paths": checked])
            } else {
                for result in checked {
                    if let error = result.error {
                        print("\(result.path): FAILED: \(error)")
                    } else {
                        print("\(result.path): OK, \(result.signatures ?? 0) signatures (load \(String(format: "%.2f", result.loadSeconds ?? 0))s, compile \(String(format: "%.2f", result.compileSeconds ?? 0))s)")
                    }
                }
            }
            if checked.contains(where: { !$0.ok }) { throw ExitCode(ExitStatus.failed.rawValue) }
        }
    }
}
