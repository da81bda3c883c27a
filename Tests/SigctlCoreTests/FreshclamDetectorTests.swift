import Foundation
import Testing
@testable import SigctlCore

@Suite struct FreshclamDetectorTests {
    /// A fake /proc with one freshclam daemon started with `arguments`.
    func proc(_ dir: TempDir, arguments: [String]) -> String {
        dir.write("proc/4242/comm", "freshclam\n")
        dir.write("proc/4242/cmdline", arguments.joined(separator: "\0") + "\0")
        return dir.path + "/proc"
    }

    @Test func onlyAFreshclamUpdatingTheSameDirectoryIsAConflict() {
        let dir = TempDir()
        try? Files.makeDirectory(dir.path + "/db")
        try? Files.makeDirectory(dir.path + "/mirror")
        dir.write("other.conf", "DatabaseDirectory \(dir.path)/mirror\n")
        dir.write("same.conf", "DatabaseDirectory \(dir.path)/db\n")
        let elsewhere = proc(dir, arguments: ["/usr/bin/freshclam", "-d", "--config-file=\(dir.path)/other.conf"])
        #expect(FreshclamDetector.conflict(databaseDir: dir.path + "/db", enabledUnits: [], proc: elsewhere) == nil)
        let same = proc(dir, arguments: ["/usr/bin/freshclam", "-d", "--config-file", "\(dir.path)/same.conf"])
        #expect(FreshclamDetector.conflict(databaseDir: dir.path + "/db", enabledUnits: [], proc: same)?.contains("pid 4242") == true)
        let datadir = proc(dir, arguments: ["/usr/bin/freshclam", "--foreground", "--datadir=\(dir.path)/db"])
        #expect(FreshclamDetector.conflict(databaseDir: dir.path + "/db", enabledUnits: [], proc: datadir) != nil)
        // An enabled unit counts only with a configuration that updates the same directory.
        dir.write("unit.service", "[Service]\nExecStart=/usr/bin/freshclam -d --foreground=true --config-file=\(dir.path)/other.conf\n")
        #expect(FreshclamDetector.conflict(databaseDir: dir.path + "/db", enabledUnits: [dir.path + "/unit.service"],
                                           proc: dir.path + "/empty") == nil)
    }
}
