import ArgumentParser
import SigctlCore

@main
struct Sigctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sigctl",
        abstract: "Keep ClamAV signature databases fresh, verified and live.",
        discussion: "See sigctl(1) for the configuration files and exit codes.",
        version: sigctlVersion,
        subcommands: [Update.self, Status.self, Feeds.self, Verify.self, Reload.self, Rollback.self, Test.self, Explain.self, Allow.self, VerifySetChild.self, ScanCorporaChild.self, FreshclamChild.self]
    )
}
