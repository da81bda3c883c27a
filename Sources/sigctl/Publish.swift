import ArgumentParser
import Foundation
import SigctlCore

struct Publish: Subcommand {
    static let configuration = CommandConfiguration(
        abstract: "Publish the live set, with a signed manifest, into a directory a web server serves to gateways."
    )

    @OptionGroup var options: GlobalOptions
    @ParentCommand var parent: Sigctl

    @OptionGroup var output: OutputOptions

    @Argument(help: "The publish tree (default: publish_dir from sigctl.toml).")
    var directory: String?

    @Flag(help: "Write a new manifest even when the tree already holds the live generation.")
    var force = false

    func run() throws {
        let log = global.log
        try execute(log, json: output.json) {
            let config = try global.load(log)
            let context = global.context(log)
            let lock = try RunLock(stateDir: config.settings.stateDir)
            defer { withExtendedLifetime(lock) {} }
            let state = try StateStore(directory: config.settings.stateDir).load()
            let given = directory.map { $0.hasPrefix("/") ? $0 : FileManager.default.currentDirectoryPath + "/" + $0 }
            let result = try Publisher(config: config, log: log, now: context.clock.now()).publish(state: state, into: given, force: force)
            for name in result.unsignedForFreshclam ?? [] {
                log.warning("\(result.directory)/\(name) was patched from cdiffs and carries no signature: freshclam gateways take it on trust of the web server; scripted_updates = false in the official feed publishes signed CVDs (the default when publish_dir is set)")
            }
            if output.json { return try printJSON(result) }
            if result.changed {
                print("published set \(result.generation) into \(result.directory): \(result.files ?? 0) files (\(result.written ?? 0) new), \(result.removed ?? 0) old files removed")
            } else {
                print("\(result.directory) already holds set \(result.generation); nothing to do (--force writes a new manifest)")
            }
        }
    }
}
