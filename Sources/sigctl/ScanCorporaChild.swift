import ArgumentParser
import Foundation
import SigctlCore

/// Hidden: the corpus child. Compares what the live set and a candidate detect in the
/// ham and detect corpora and prints a JSON report. Run by `update` in a separate
/// process, so no engine ever lives in sigctl's own memory.
struct ScanCorporaChild: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "__scan-corpora", shouldDisplay: false)

    @Option var request: String
    @Option(name: .customLong("memory-limit")) var memoryLimit: Int64 = 0
    @Option(name: .customLong("run-as")) var runAs: String?

    func run() throws {
        let ids = runAs?.split(separator: ":").compactMap { UInt32($0) }
        var report = CorpusScanReport()
        if let data = FileManager.default.contents(atPath: request),
           let decoded = try? JSONDecoder().decode(CorpusScanRequest.self, from: data) {
            report = CorpusScanChild.run(decoded, memoryLimit: memoryLimit, runAs: ids?.count == 2 ? (ids![0], ids![1]) : nil)
        } else {
            report.error = "cannot read the request \(request)"
        }
        FileHandle.standardOutput.write(try JSONEncoder().encode(report))
        if !report.ok { throw ExitCode(1) }
    }
}
