import ArgumentParser
import Foundation
import SigctlCore

@main
struct Sigctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sigctl",
        abstract: "Keep ClamAV signature databases fresh, verified and live.",
        discussion: "The options above also work after the subcommand. See sigctl(1) for the configuration files and exit codes.",
        version: "sigctl \(sigctlVersion) (libclamav \(ClamAV.version))",
        subcommands: [Setup.self, Update.self, Status.self, Check.self, Feeds.self, Verify.self, Reload.self, Rollback.self, Publish.self, Test.self, Explain.self, Hits.self, Allow.self, VerifySetChild.self, ScanCorporaChild.self, FreshclamChild.self]
    )

    /// The global options given before the subcommand (`sigctl --config X update`).
    @OptionGroup var global: GlobalOptions

    /// Parses and runs the command; every error is printed in sigctl's one style,
    /// `sigctl: error: …`, with the documented exit code.
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if error is CleanExit || code == .success {
                print(fullMessage(for: error))
                Foundation.exit(code.rawValue)
            }
            if error is ExitCode { Foundation.exit(code.rawValue) }
            // A monitoring plugin answers every usage error with UNKNOWN on stdout.
            if firstWord(arguments) == Check._commandName {
                print("SIGCTL UNKNOWN - " + message(for: error).replacingOccurrences(of: "\n", with: " "))
                Foundation.exit(HealthLevel.unknown.rawValue)
            }
            // argument-parser's messages start with a capital; sigctl's do not.
            let text = message(for: error)
            var lines = ["sigctl: error: " + text.prefix(1).lowercased() + text.dropFirst()]
            if let word = firstWord(arguments), !subcommandNames.contains(word),
               let guess = Suggestion.closest(to: word, among: subcommandNames) {
                lines.append("did you mean 'sigctl \(guess)'?")
            }
            lines.append("See 'sigctl --help' or sigctl(1).")
            FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
            Foundation.exit(code.rawValue)
        }
    }

    /// The first argument that is neither an option nor an option's value: the subcommand.
    static func firstWord(_ arguments: [String]) -> String? {
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--config" { index += 2; continue }
            if !argument.hasPrefix("-") { return argument }
            index += 1
        }
        return nil
    }

    static var subcommandNames: [String] {
        configuration.subcommands.compactMap { command in
            command.configuration.shouldDisplay ? command._commandName : nil
        }
    }
}
