import Foundation

/// Debian's tinyproxy on 127.0.0.1 (Tests/Support/tinyproxy_serve.py); its log shows
/// each request that went through it.
final class Tinyproxy {
    let workDir: String
    private var process: Process?
    let port: Int

    /// `connectPorts`: the ports CONNECT may reach (empty: every port).
    init(workDir: String, connectPorts: [Int] = []) throws {
        self.workDir = workDir
        (process, port) = try startAnnounced("tinyproxy_serve.py", ["--workdir", workDir] + connectPorts.flatMap { ["--connect-port", String($0)] })
    }

    deinit { stop() }

    func stop() {
        if let process { stopProcess(process) }
        process = nil
    }

    var url: String { "http://127.0.0.1:\(port)" }

    /// tinyproxy's request lines so far ("GET http://…", "CONNECT host:port"). tinyproxy
    /// logs a request before it forwards it, and the launcher copies each line at once,
    /// so a request sigctl got an answer to is in the file when sigctl has exited.
    var requests: [String] {
        let log = (try? String(contentsOfFile: workDir + "/tinyproxy.log", encoding: .utf8)) ?? ""
        return log.split(separator: "\n").compactMap { line in
            guard line.contains("Request (file descriptor"), let colon = line.range(of: "): ") else { return nil }
            return String(line[colon.upperBound...])
        }
    }

    var log: String { (try? String(contentsOfFile: workDir + "/tinyproxy.log", encoding: .utf8)) ?? "" }
}
