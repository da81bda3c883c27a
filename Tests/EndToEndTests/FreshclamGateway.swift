import Foundation

/// Debian's freshclam pointed at the publish tree with PrivateMirror, as on a gateway
/// that keeps freshclam. With a private mirror freshclam skips DNS and cdiffs, and asks
/// for each database's CLD before its CVD.
final class FreshclamGateway {
    let root: String
    /// What the last run printed, for failure messages.
    private(set) var output = ""

    init(root: String, port: Int) throws {
        self.root = root
        try FileManager.default.createDirectory(atPath: root + "/db", withIntermediateDirectories: true)
        try """
        DatabaseDirectory \(root)/db
        PrivateMirror http://127.0.0.1:\(port)
        DNSDatabaseInfo no
        DatabaseOwner root
        Foreground yes
        UpdateLogFile \(root)/freshclam.log
        PidFile \(root)/freshclam.pid

        """.write(toFile: root + "/freshclam.conf", atomically: true, encoding: .utf8)
    }

    /// Runs freshclam once; returns the gateway's files of the test database afterwards.
    func update() throws -> [String: Data] {
        let result = try runProgram("/usr/bin/freshclam", ["--config-file=\(root)/freshclam.conf", "--update-db=test"])
        output = "freshclam exit \(result.status): \(result.stdout) \(result.stderr)"
        var files: [String: Data] = [:]
        for name in ["test.cvd", "test.cld"] { files[name] = FileManager.default.contents(atPath: root + "/db/" + name) }
        return files
    }
}
