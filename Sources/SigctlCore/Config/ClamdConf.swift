import Foundation

/// Where clamd listens.
public enum ClamdAddress: Sendable, Equatable, CustomStringConvertible {
    case unix(String)
    case tcp(host: String, port: Int)

    public var description: String {
        switch self {
        case .unix(let path): return "unix:\(path)"
        case .tcp(let host, let port): return "tcp:\(host):\(port)"
        }
    }

    /// Parses "unix:/path" or "tcp:host:port".
    public static func parse(_ text: String) -> ClamdAddress? {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            return path.hasPrefix("/") ? .unix(path) : nil
        }
        if text.hasPrefix("tcp:") {
            let rest = text.dropFirst(4)
            guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]),
                  (1...65535).contains(port) else { return nil }
            let host = String(rest[..<colon])
            return host.isEmpty ? nil : .tcp(host: host, port: port)
        }
        return nil
    }
}

/// The parts of clamd.conf that decide how clamd loads the database and where it listens.
public struct ClamdConf: Sendable {
    public var path: String
    public var address: ClamdAddress?
    public var databaseDirectory: String?
    public var loadOptions = LoadOptions()
    public var concurrentDatabaseReload = true
    /// clamd parses mail (ScanMail, default yes); the reload canary is a mail message only then.
    public var scanMail = true

    /// Reads clamd.conf. Unknown directives are ignored: clamd owns that file.
    public static func read(_ path: String) throws -> ClamdConf {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(file: path, "cannot read clamd's configuration")
        }
        var conf = ClamdConf(path: path)
        var localSocket: String?
        var tcpSocket: Int?
        var tcpAddr: String?
        for (index, rawLine) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let parts = line.split(maxSplits: 1, whereSeparator: { $0 == " " || $0 == "\t" })
            let key = String(parts[0])
            let value = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : ""
            func flag() throws -> Bool {
                switch value.lowercased() {
                case "yes", "true", "1": return true
                case "no", "false", "0": return false
                default: throw ConfigError(file: path, line: index + 1, key: key, "expects yes or no, found '\(value)'")
                }
            }
            switch key {
            case "LocalSocket": if localSocket == nil { localSocket = value }
            case "TCPSocket": if tcpSocket == nil { tcpSocket = Int(value) }
            case "TCPAddr": if tcpAddr == nil { tcpAddr = value }
            case "DatabaseDirectory": conf.databaseDirectory = value
            case "PhishingSignatures": conf.loadOptions.phishingSignatures = try flag()
            case "PhishingScanURLs": conf.loadOptions.phishingScanURLs = try flag()
            case "Bytecode": conf.loadOptions.bytecode = try flag()
            case "BytecodeUnsigned": conf.loadOptions.bytecodeUnsigned = try flag()
            case "DetectPUA": conf.loadOptions.detectPUA = try flag()
            case "OfficialDatabaseOnly": conf.loadOptions.officialDatabaseOnly = try flag()
            case "ConcurrentDatabaseReload": conf.concurrentDatabaseReload = try flag()
            case "ScanMail": conf.scanMail = try flag()
            default: continue
            }
        }
        if let localSocket, localSocket.hasPrefix("/") {
            conf.address = .unix(localSocket)
        } else if let tcpSocket {
            conf.address = .tcp(host: tcpAddr ?? "127.0.0.1", port: tcpSocket)
        }
        return conf
    }
}
