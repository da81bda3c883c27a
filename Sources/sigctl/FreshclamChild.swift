import ArgumentParser
import Foundation
import SigctlCore

/// Hidden: runs libfreshclam for `update` in a separate process, because
/// libfreshclam changes the working directory and keeps global state.
struct FreshclamChild: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "__freshclam", shouldDisplay: false)

    @Option(name: .customLong("request-file")) var requestFile: String

    func run() throws {
        ChildGuard.dieWithParent()
        try Failpoints().reach("freshclam-child.started")
        let decoded = try JSONDecoder().decode(FreshclamRequest.self, from: FileManager.default.contents(atPath: requestFile) ?? Data())
        FileHandle.standardOutput.write(try JSONEncoder().encode(Freshclam.update(decoded)))
    }
}
