import Foundation

/// One run of Debian's `rsync` binary against one rsync:// mirror: the named files
/// (and their sidecars) into a fresh directory in sigctl's state directory, using the
/// previous copy as the basis for delta transfers. Never into the live directory,
/// never `--delete`, never following links.
struct RsyncClient {
    let settings: Settings
    let runner: any ProcessRunner
    let scratch: String
    var executable = "/usr/bin/rsync"

    /// What the daemon said when the whole transfer failed.
    enum Failure: Error, Equatable {
        /// "max connections reached": the mirror is busy; treated like HTTP 429.
        case busy(String)
        /// The module (or path) is not on this mirror.
        case noModule(String)
        /// Connection refused, unreachable, or the connect time-out.
        case unreachable(String)
        /// The transfer stalled past stall_timeout, or sigctl's own time limit.
        case timedOut(String)
        case other(String)

        var message: String {
            switch self {
            case .busy(let m), .noModule(let m), .unreachable(let m), .timedOut(let m), .other(let m): return m
            }
        }
    }

    struct Result {
        /// Names the daemon said it does not have.
        var missing: Set<String> = []
        /// Names rsync reported transferred (new or changed) in this run.
        var transferred: Set<String> = []
        /// Bytes received from the daemon, as rsync counted them.
        var received: Int64 = 0
        /// rsync's first complaint when some files did not arrive (exit 23 or 24).
        var problem: String?
    }

    /// Fetches `names` from `mirror` into `destination`; `basis` holds the previous copy.
    func fetch(_ names: [String], mirror: String, into destination: String, basis: String?) throws(Failure) -> Result {
        let base = mirror.hasSuffix("/") ? mirror : mirror + "/"
        var arguments = [
            "--no-motd", "--times", "--checksum", "--no-links", "--no-perms", "--no-owner", "--no-group",
            "--timeout=\(settings.stallTimeout)", "--contimeout=\(settings.connectTimeout)",
            "--max-size=\(settings.maxFileSize)", "--out-format=transferred %n", "--stats",
        ]
        if let basis { arguments.append("--link-dest=\(basis)") }
        arguments += names.map { base + $0 }
        arguments.append(destination.hasSuffix("/") ? destination : destination + "/")
        // rsync keeps its own time limits; this one only stops a hung child.
        let limit = settings.connectTimeout + settings.stallTimeout * 4 + 600
        // Through the configured proxy, as every other transport: rsync tunnels with CONNECT.
        var environment: [String: String] = [:]
        if let proxy = settings.proxy {
            guard let tunnel = proxy.rsyncProxy else {
                throw .unreachable((proxy.rsyncProblem ?? "rsync cannot use the proxy") + "; use an HTTP proxy, or set transport = \"http\" for this feed")
            }
            environment["RSYNC_PROXY"] = tunnel
        }
        let child: ChildResult
        do {
            child = try runner.run(executable, arguments, environment: environment, timeout: limit, scratch: scratch)
        } catch {
            throw .other("cannot run rsync (\(error)); install Debian's rsync package")
        }
        let stdout = String(decoding: child.output, as: UTF8.self)
        var result = Result()
        for line in stdout.split(separator: "\n") where line.hasPrefix("transferred ") {
            result.transferred.insert(String(line.dropFirst("transferred ".count)))
        }
        if let line = stdout.split(separator: "\n").first(where: { $0.hasPrefix("Total bytes received:") }) {
            result.received = Int64(line.split(separator: ":").last?.filter(\.isNumber) ?? "") ?? 0
        }
        for line in child.errors.split(separator: "\n") where line.contains("link_stat") && line.contains("No such file") {
            if let name = Self.quotedName(line) { result.missing.insert(name) }
        }
        if child.timedOut { throw .timedOut("rsync did not finish within \(limit)s") }
        switch child.status {
        case 0, 23, 24:
            // 23/24: some files were missing or vanished; the others arrived (unchanged
            // ones as links to the basis, so "nothing transferred" is no failure).
            if child.status != 0 { result.problem = Self.errorLine(child.errors) }
            return result
        default:
            var line = Self.errorLine(child.errors) ?? "rsync exited with status \(child.status)"
            // Every connection goes to the proxy first: say which, as for HTTP.
            if let proxy = settings.proxy { line += " (through the proxy \(proxy.redacted))" }
            if line.contains("max connections") { throw .busy(line) }
            if line.contains("Unknown module") || line.contains("unknown module") { throw .noModule(line) }
            switch child.status {
            case 10: throw .unreachable(line)
            case 35: throw .unreachable("no connection within connect_timeout (\(settings.connectTimeout)s): \(line)")
            case 30: throw .timedOut("the transfer stalled for stall_timeout (\(settings.stallTimeout)s): \(line)")
            default: throw .other(line)
            }
        }
    }

    /// The daemon's own error ("@ERROR: …") or rsync's first complaint.
    static func errorLine(_ errors: String) -> String? {
        let lines = errors.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        if let daemon = lines.first(where: { $0.hasPrefix("@ERROR") }) {
            return String(daemon.dropFirst("@ERROR:".count)).trimmingCharacters(in: .whitespaces)
        }
        // The proxy's answer to CONNECT ("bad response from proxy -- HTTP/1.0 403 …") has no prefix.
        if let proxy = lines.first(where: { $0.hasPrefix("bad response from proxy") || $0.hasPrefix("failed to write to proxy") }) {
            return proxy
        }
        guard var line = lines.first(where: { $0.hasPrefix("rsync:") || $0.hasPrefix("rsync error:") }) else { return nil }
        // "rsync: [Receiver] failed to connect …" → "failed to connect …"
        if line.hasPrefix("rsync: ") { line = String(line.dropFirst("rsync: ".count)) }
        if line.hasPrefix("["), let close = line.firstIndex(of: "]") {
            line = line[line.index(after: close)...].trimmingCharacters(in: .whitespaces)
        }
        return line
    }

    /// The file name inside `link_stat "/path/NAME" (in module) failed`.
    static func quotedName(_ line: Substring) -> String? {
        guard let open = line.firstIndex(of: "\""), let close = line[line.index(after: open)...].firstIndex(of: "\"") else { return nil }
        let path = line[line.index(after: open)..<close]
        return path.split(separator: "/").last.map(String.init)
    }
}
