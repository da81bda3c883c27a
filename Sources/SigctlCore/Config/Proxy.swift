import Foundation

/// The `proxy` setting, read once and handed to each transport in the form it takes:
/// libcurl the URL, libfreshclam a server, port and credentials, rsync `RSYNC_PROXY`.
public struct Proxy: Sendable, Equatable {
    /// "http", "https", "socks4", "socks4a", "socks5" or "socks5h".
    public let scheme: String
    /// As in a URL: an IPv6 literal keeps its brackets.
    public let host: String
    public let port: Int
    /// True when the setting named no port and libcurl's default is used.
    public let defaultedPort: Bool
    /// Percent-encoded, as written (for the URL).
    let encodedUser: String?
    let encodedPassword: String?

    static let schemes: Set<String> = ["http", "https", "socks4", "socks4a", "socks5", "socks5h"]

    /// Accepts "host[:port]" (an HTTP proxy) and "scheme://[user[:password]@]host[:port][/]".
    /// Without a port, libcurl's default for the scheme (1080, or 443 for https) is used
    /// and `defaultedPort` says so. Errors show the setting without its password.
    public static func parse(_ text: String) throws(ProxyError) -> Proxy {
        let written = text.trimmingCharacters(in: .whitespaces)
        let withScheme = written.contains("://") ? written : "http://" + written
        let shown = Redact.url(withScheme)
        guard let components = URLComponents(string: withScheme), let scheme = components.scheme?.lowercased(),
              let host = components.percentEncodedHost, !host.isEmpty else {
            throw ProxyError("\"\(shown)\" is not a proxy address such as \"http://proxy.example.org:3128\"")
        }
        guard schemes.contains(scheme) else {
            throw ProxyError("\"\(scheme)://\" is not a proxy scheme libcurl knows; use http://, https://, socks4:// or socks5://")
        }
        if let port = components.port, !(1...65535).contains(port) {
            throw ProxyError("\"\(shown)\" has no valid port (1-65535)")
        }
        guard components.percentEncodedPath.isEmpty || components.percentEncodedPath == "/",
              components.percentEncodedQuery == nil else {
            throw ProxyError("\"\(shown)\" has a path; a proxy is only scheme://host:port")
        }
        return Proxy(scheme: scheme, host: host, port: components.port ?? (scheme == "https" ? 443 : 1080),
                     defaultedPort: components.port == nil,
                     encodedUser: components.percentEncodedUser, encodedPassword: components.percentEncodedPassword)
    }

    /// The user and password, decoded (what the proxy checks).
    public var user: String? { encodedUser.map { $0.removingPercentEncoding ?? $0 } }
    public var password: String? { encodedPassword.map { $0.removingPercentEncoding ?? $0 } }

    private var userinfo: String {
        guard let encodedUser else { return "" }
        return encodedUser + (encodedPassword.map { ":" + $0 } ?? "") + "@"
    }

    /// For libcurl's CURLOPT_PROXY.
    public var url: String { "\(scheme)://\(userinfo)\(host):\(port)" }

    /// For libfreshclam, which takes the credentials apart (so its log never shows them).
    public var freshclamServer: String { "\(scheme)://\(host)" }

    /// `RSYNC_PROXY`: rsync tunnels through an HTTP proxy with CONNECT. It takes
    /// "[USER:PASS@]HOST:PORT" literally, splits it at the first colon, and knows no
    /// other kind of proxy. nil when rsync cannot use this one.
    public var rsyncProxy: String? {
        guard rsyncProblem == nil else { return nil }
        let credentials = user.map { "\($0):\(password ?? "")@" } ?? ""
        return "\(credentials)\(host):\(port)"
    }

    /// Why rsync cannot go through this proxy, or nil.
    public var rsyncProblem: String? {
        if scheme != "http" { return "rsync can only go through an HTTP proxy, and proxy is \(redacted)" }
        if host.hasPrefix("[") { return "rsync cannot reach a proxy by its IPv6 address (\(redacted)); name it by host name" }
        if user != nil && password == nil { return "rsync needs the proxy's user with a password (user:password@)" }
        if let user, let password, user.contains(":") || user.contains("@") || password.contains("@") {
            return "rsync cannot pass a proxy user or password that holds ':' or '@'"
        }
        return nil
    }

    /// What logs, errors and status show: never the user or password.
    public var redacted: String { "\(scheme)://\(encodedUser == nil ? "" : "…@")\(host):\(port)" }
}

public struct ProxyError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
