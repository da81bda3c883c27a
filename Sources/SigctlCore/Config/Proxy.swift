import Foundation

/// The `proxy` setting, read once and handed to each transport in the form it takes:
/// libcurl the URL, libfreshclam a server and a port, rsync `RSYNC_PROXY`.
public struct Proxy: Sendable, Equatable {
    /// "http", "https", "socks4", "socks4a", "socks5" or "socks5h".
    public let scheme: String
    public let host: String
    public let port: Int
    /// "user:password", percent-encoded as written.
    public let credentials: String?

    static let schemes: Set<String> = ["http", "https", "socks4", "socks4a", "socks5", "socks5h"]

    /// Accepts "host:port" (an HTTP proxy) and "scheme://[user:password@]host:port[/]".
    /// Errors name what is wrong, for the config error.
    public static func parse(_ text: String) throws(ProxyError) -> Proxy {
        let written = text.trimmingCharacters(in: .whitespaces)
        let withScheme = written.contains("://") ? written : "http://" + written
        guard let components = URLComponents(string: withScheme), let scheme = components.scheme?.lowercased(),
              let host = components.percentEncodedHost, !host.isEmpty else {
            throw ProxyError("\"\(written)\" is not a proxy address such as \"http://proxy.example.org:3128\"")
        }
        guard schemes.contains(scheme) else {
            throw ProxyError("\"\(scheme)://\" is not a proxy scheme libcurl knows; use http://, https://, socks4:// or socks5://")
        }
        guard let port = components.port, (1...65535).contains(port) else {
            throw ProxyError("\"\(written)\" names no port; write it as \"\(scheme)://\(host):3128\" (or the proxy's port)")
        }
        guard components.percentEncodedPath.isEmpty || components.percentEncodedPath == "/",
              components.percentEncodedQuery == nil else {
            throw ProxyError("\"\(written)\" has a path; a proxy is only scheme://host:port")
        }
        let credentials = components.percentEncodedUser.map { user in
            user + (components.percentEncodedPassword.map { ":" + $0 } ?? "")
        }
        return Proxy(scheme: scheme, host: host, port: port, credentials: credentials)
    }

    private var userinfo: String { credentials.map { $0 + "@" } ?? "" }

    /// For libcurl's CURLOPT_PROXY.
    public var url: String { "\(scheme)://\(userinfo)\(host):\(port)" }

    /// libfreshclam takes the server (with scheme and credentials, which it hands to
    /// libcurl) and the port apart.
    public var freshclamServer: String { "\(scheme)://\(userinfo)\(host)" }

    /// rsync tunnels through an HTTP proxy with CONNECT (`RSYNC_PROXY=[user:pass@]host:port`);
    /// it cannot use an HTTPS or SOCKS proxy (nil).
    public var rsyncProxy: String? { scheme == "http" ? "\(userinfo)\(host):\(port)" : nil }

    /// What logs and status show: never the password.
    public var redacted: String { "\(scheme)://\(credentials == nil ? "" : "…@")\(host):\(port)" }
}

public struct ProxyError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
