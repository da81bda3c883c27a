import ArgumentParser
import Foundation
import SigctlCore

/// Hidden: runs libfreshclam for `update` in a separate process, because
/// libfreshclam changes the working directory and keeps global state.
struct FreshclamChild: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "__freshclam", shouldDisplay: false)

    @Option var request: String

    func run() throws {
        ChildGuard.dieWithParent()
        try Failpoints().reach("freshclam-child.started")
        let decoded = try JSONDecoder().decode(FreshclamRequest.self, from: Data(request.utf8))
        FileHandle.standardOutput.write(try JSONEncoder().encode(Freshclam.update(decoded)))
    }
}
