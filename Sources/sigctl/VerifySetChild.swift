import ArgumentParser
import Foundation
import SigctlCore

/// Hidden: the verification child. Loads and compiles a directory the way
/// clamd would and prints a JSON report. Run by `update` and `verify` in a
/// separate process so a crash or an out-of-memory kill cannot take sigctl down.
struct VerifySetChild: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "__verify-set", shouldDisplay: false)

    @Option var dir: String
    @Option var options: String
    @Option(name: .customLong("memory-limit")) var memoryLimit: Int64 = 0
    @Option(name: .customLong("canary-blob")) var canaryBlob: String?
    @Option(name: .customLong("canary-name")) var canaryName: String?
    @Option(name: .customLong("live-dir")) var liveDir: String?
    @Option(name: .customLong("run-as")) var runAs: String?

    func run() throws {
        let loadOptions = (try? JSONDecoder().decode(LoadOptions.self, from: Data(options.utf8))) ?? LoadOptions()
        let ids = runAs?.split(separator: ":").compactMap { UInt32($0) }
        let report = VerifyChild.run(directory: dir, options: loadOptions, memoryLimit: memoryLimit,
                                     canaryBlob: canaryBlob, canaryName: canaryName, liveDirectory: liveDir,
                                     runAs: ids?.count == 2 ? (ids![0], ids![1]) : nil)
        let data = try JSONEncoder().encode(report)
        FileHandle.standardOutput.write(data)
        if !report.ok { throw ExitCode(1) }
    }
}
