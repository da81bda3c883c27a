import Foundation
import SigctlCore

/// Debian's nginx serving a publish tree on 127.0.0.1 (Tests/Support/nginx_serve.py
/// hands it a socket that listens before the port is announced).
final class Nginx {
    let root: String
    let workDir: String
    private var process: Process?
    private(set) var port = 0

    init(root: String, workDir: String) throws {
        self.root = root
        self.workDir = workDir
        try start()
    }

    deinit { stop() }

    func start() throws {
        (process, port) = try startAnnounced("nginx_serve.py", ["--root", root, "--workdir", workDir]
                                             + (port > 0 ? ["--port", String(port)] : []))
    }

    /// nginx down: its master exits and the port refuses connections.
    func stop() {
        if let process { stopProcess(process) }
        process = nil
    }

    var url: String { "http://127.0.0.1:\(port)/" }

    /// The access log: one (request line, status) per request.
    func requests() -> [(request: String, status: Int)] {
        guard let text = try? String(contentsOfFile: workDir + "/access.log", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: "\"")
            guard parts.count >= 3 else { return nil }
            let status = Int(parts[2].split(separator: " ").first ?? "") ?? 0
            return (String(parts[1]), status)
        }
    }
}

/// One publisher and N gateways: each gateway is a sandbox of its own with its own
/// clamd, state and database directory, and a `kind = "sigctl"` feed on nginx.
final class Fleet {
    let publisher: Sandbox
    let gateways: [Sandbox]
    let key: TestKey
    let nginx: Nginx
    var publishDir: String { publisher.root + "/publish" }

    init(gateways count: Int) throws {
        publisher = try Sandbox()
        // nginx's workers run as www-data: the tree must be readable by others, as on a real host.
        chmod(publisher.root, 0o711)
        key = try TestKey(directory: publisher.root + "/site-gnupg")
        try FileManager.default.createDirectory(atPath: publisher.root + "/publish", withIntermediateDirectories: true)
        try publisher.writeSettings("""
        clamd = "none"
        publish_dir = "\(publisher.root)/publish"
        publish_key = "\(key.fingerprint)"
        publish_gnupg_home = "\(key.home)"
        """)
        // The site key, where the gateways' feed finds it (gpg_key_url).
        try key.exportPublic().write(to: URL(fileURLWithPath: publisher.root + "/publish/site-key.gpg"))
        nginx = try Nginx(root: publisher.root + "/publish", workDir: publisher.root + "/nginx")
        var made: [Sandbox] = []
        for _ in 0..<count {
            let gateway = try Sandbox()
            try gateway.clamd.start()
            try gateway.writeFeed("fleet", """
            name = "fleet"
            kind = "sigctl"
            mirrors = ["\(nginx.url)"]
            interval = "0s"
            gpg_key_url = "\(nginx.url)site-key.gpg"
            gpg_fingerprint = "\(key.fingerprint)"

            """)
            made.append(gateway)
        }
        gateways = made
    }

    /// The manifest nginx serves now.
    func manifest() throws -> PublishManifest {
        try PublishManifest.decode(Data(contentsOf: URL(fileURLWithPath: publishDir + "/manifest.json")))
    }
}
