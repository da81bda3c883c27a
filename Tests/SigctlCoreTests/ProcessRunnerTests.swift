import Foundation
import Testing
@testable import SigctlCore

@Suite struct ProcessRunnerTests {
    @Test func stdoutIsReturnedAndStderrKeptForTheMessage() throws {
        let dir = TempDir()
        let result = try SpawnRunner().run("/bin/sh", ["-c", "echo report; echo 'libclamav: out of memory' >&2; exit 3"],
                                           timeout: 30, scratch: dir.path)
        #expect(result.status == 3)
        #expect(!result.signalled)
        #expect(String(decoding: result.output, as: UTF8.self) == "report\n")
        #expect(result.errorTail == "libclamav: out of memory")
        #expect(Files.list(dir.path).isEmpty, "the output files are removed")
    }

    @Test func aTimeOutKillsTheChildsWholeProcessGroup() throws {
        let dir = TempDir()
        let pidFile = dir.path + "/grandchild.pid"
        let result = try SpawnRunner().run("/bin/sh", ["-c", "sleep 300 & echo $! > \(pidFile); wait"], timeout: 1, scratch: dir.path + "/s")
        #expect(result.timedOut)
        #expect(result.signalled)
        let grandchild = try #require(Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(ProcessExit.wait(grandchild, timeout: 5), "the grandchild in the child's process group was killed too")
    }
}
