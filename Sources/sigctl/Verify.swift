import ArgumentParser
import Foundation
import SigctlCore

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Test-load database files or directories exactly as update does, and print signature counts or the exact error."
    )

    @OptionGroup var options: GlobalOptions
    @ParentCommand var parent: Sigctl
    /// The global options, given before or after the subcommand.
    var global: GlobalOptions { options.merged(with: parent.global) }

    @Argument(help: "Database files or directories.")
    var paths: [String]

    func run() throws {
        let log = global.log
        try execute(log) {
            let checker = try PathVerifier(context: global.context(log), config: try? global.load(log, showWarnings: false))
            var failed = false
            for path in paths {
                let result = checker.verify(path)
                if let error = result.error {
                    failed = true
                    print("\(path): FAILED: \(error)")
                } else {
                    print("\(path): OK, \(result.signatures) signatures (load \(String(format: "%.2f", result.loadSeconds))s, compile \(String(format: "%.2f", result.compileSeconds))s)")
                }
            }
            if failed { throw ExitCode(ExitStatus.failed.rawValue) }
        }
    }
}
