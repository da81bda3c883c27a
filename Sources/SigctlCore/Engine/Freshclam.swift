import CClamAV
import Foundation

/// What the libfreshclam child is asked to do.
public struct FreshclamRequest: Codable, Sendable {
    /// libfreshclam's working directory: a staging copy of the live official files and freshclam.dat.
    public var databaseDirectory: String
    public var tempDirectory: String
    public var logFile: String
    public var databases: [String]
    public var servers: [String]
    public var privateMirror: Bool
    /// The DNS name with the current versions; nil to check CVD headers over HTTP.
    public var dns: String?
    public var connectTimeout: Int
    public var requestTimeout: Int
    /// "http://host:port" or nil.
    public var proxy: String?
    /// Patch with cdiffs (a `.cld`), or download each new version's whole `.cvd`.
    public var scriptedUpdates: Bool

    public init(databaseDirectory: String, tempDirectory: String, logFile: String, databases: [String], servers: [String],
                privateMirror: Bool, dns: String?, connectTimeout: Int, requestTimeout: Int, proxy: String?,
                scriptedUpdates: Bool) {
        self.databaseDirectory = databaseDirectory
        self.tempDirectory = tempDirectory
        self.logFile = logFile
        self.databases = databases
        self.servers = servers
        self.privateMirror = privateMirror
        self.dns = dns
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.proxy = proxy
        self.scriptedUpdates = scriptedUpdates
    }
}

/// libfreshclam's answer for one database.
public struct FreshclamResult: Codable, Sendable {
    public var database: String
    /// The `fc_error_t` value.
    public var code: Int32
    /// `fc_strerror(code)`.
    public var message: String
    public var updated: Bool
    /// FC_ERETRYLATER or FC_EFORBIDDEN: the mirror put this client on cool-down.
    public var coolDown: Bool
}

public struct FreshclamReport: Codable, Sendable {
    public var results: [FreshclamResult] = []
    /// Set when libfreshclam could not even start (`fc_initialize`).
    public var error: String?
    public init() {}
}

/// ClamAV's own updater library. It keeps process-wide state and changes the
/// working directory, so sigctl only calls it in a child process (`sigctl __freshclam`).
public enum Freshclam {
    /// `fc_initialize`, then `fc_dns_query_update_info` when a DNS name is set,
    /// `fc_update_database` for each database, and `fc_cleanup`.
    public static func update(_ request: FreshclamRequest) -> FreshclamReport {
        var report = FreshclamReport()
        var owned: [UnsafeMutablePointer<CChar>] = []
        func cString(_ text: String?) -> UnsafePointer<CChar>? {
            guard let text, let copy = strdup(text) else { return nil }
            owned.append(copy)
            return UnsafePointer(copy)
        }
        defer { owned.forEach { free($0) } }

        var config = fc_config()
        config.msgFlags = UInt32(FC_CONFIG_MSG_QUIET | FC_CONFIG_MSG_NOWARN)
        config.logFlags = UInt32(FC_CONFIG_LOG_VERBOSE | FC_CONFIG_LOG_TIME)
        config.maxAttempts = 1 // one try per mirror and run: never hammer a mirror
        config.connectTimeout = UInt32(request.connectTimeout)
        config.requestTimeout = UInt32(request.requestTimeout)
        config.logFile = cString(request.logFile)
        config.databaseDirectory = cString(request.databaseDirectory)
        config.tempDirectory = cString(request.tempDirectory)
        // The parent parsed the setting; its URL form parses the same here.
        if let text = request.proxy, let proxy = try? Proxy.parse(text) {
            config.proxyServer = cString(proxy.freshclamServer)
            config.proxyPort = UInt16(proxy.port)
            if let user = proxy.user { config.proxyUsername = cString(user) }
            if let password = proxy.password { config.proxyPassword = cString(password) }
        }
        let initialised = fc_initialize(&config)
        guard initialised == FC_SUCCESS else {
            report.error = "fc_initialize failed: \(String(cString: fc_strerror(initialised)))"
            return report
        }
        defer { fc_cleanup() }

        var dnsInfo: UnsafeMutablePointer<CChar>? = nil
        var newVersion: UnsafeMutablePointer<CChar>? = nil
        if let dns = request.dns {
            if fc_dns_query_update_info(dns, &dnsInfo, &newVersion) != FC_SUCCESS { dnsInfo = nil }
        }
        defer {
            free(dnsInfo)
            free(newVersion)
        }

        var servers: [UnsafeMutablePointer<CChar>?] = request.servers.map { strdup($0) }
        defer { servers.forEach { free($0) } }
        for database in request.databases {
            var updated: Int32 = 0
            let code = servers.withUnsafeMutableBufferPointer { list in
                fc_update_database(database, list.baseAddress, UInt32(list.count), request.privateMirror ? 1 : 0,
                                   dnsInfo, request.scriptedUpdates ? 1 : 0, nil, &updated)
            }
            report.results.append(FreshclamResult(
                database: database, code: Int32(code.rawValue), message: String(cString: fc_strerror(code)),
                updated: updated != 0, coolDown: code == FC_ERETRYLATER || code == FC_EFORBIDDEN))
        }
        return report
    }

    /// `FC_SUCCESS` and `FC_UPTODATE` mean the database is current.
    public static func succeeded(_ result: FreshclamResult) -> Bool {
        result.code == Int32(FC_SUCCESS.rawValue) || result.code == Int32(FC_UPTODATE.rawValue)
    }
}
