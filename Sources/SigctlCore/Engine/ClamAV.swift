import CClamAV
import Foundation
import Synchronization

/// A libclamav call that returned something other than `CL_SUCCESS`.
public struct ClamAVError: Error, CustomStringConvertible, Sendable {
    /// The libclamav function that failed, e.g. `cl_load`.
    public let function: String
    /// The `cl_error_t` code.
    public let code: Int32
    /// `cl_strerror(code)`.
    public let reason: String
    /// Error and warning lines libclamav printed through `cl_set_clcb_msg` while the call ran.
    public let messages: [String]

    public var description: String {
        var text = "\(function) failed: \(reason)"
        if !messages.isEmpty { text += " (" + messages.joined(separator: "; ") + ")" }
        return text
    }
}

/// Load options in clamd's terms. Each flag corresponds to the clamd.conf
/// directive of the same name and maps onto one `CL_DB_*` bit.
public struct LoadOptions: Sendable, Equatable, Codable {
    public var phishingSignatures = true
    public var phishingScanURLs = true
    public var bytecode = true
    public var bytecodeUnsigned = false
    public var detectPUA = false
    public var officialDatabaseOnly = false

    public init() {}

    var clFlags: UInt32 {
        var flags: UInt32 = 0
        if phishingSignatures { flags |= SIGCTL_CL_DB_PHISHING }
        if phishingScanURLs { flags |= SIGCTL_CL_DB_PHISHING_URLS }
        if bytecode { flags |= SIGCTL_CL_DB_BYTECODE }
        if bytecodeUnsigned { flags |= SIGCTL_CL_DB_BYTECODE_UNSIGNED }
        if detectPUA { flags |= SIGCTL_CL_DB_PUA }
        if officialDatabaseOnly { flags |= SIGCTL_CL_DB_OFFICIAL_ONLY }
        return flags
    }
}

/// Process-wide libclamav set-up and the message sink for `cl_set_clcb_msg`.
public enum ClamAV {
    private static let messages = Mutex<[String]>([])
    private static let initialised: Result<Void, ClamAVError> = {
        // The message callback must be installed before cl_init, or the
        // file and line of load errors are lost.
        cl_set_clcb_msg(ClamAV.messageCallback)
        let rc = cl_init(SIGCTL_CL_INIT_DEFAULT)
        if rc != CL_SUCCESS {
            return .failure(ClamAVError(function: "cl_init", code: Int32(rc.rawValue),
                                        reason: String(cString: cl_strerror(rc)), messages: []))
        }
        return .success(())
    }()

    /// Calls `cl_set_clcb_msg` and `cl_init` once per process.
    public static func initialise() throws {
        try initialised.get()
    }

    /// `cl_retver()`: the libclamav version string.
    public static var version: String { String(cString: cl_retver()) }

    /// The callback given to `cl_set_clcb_msg`. A static member, not a
    /// top-level function, so it is not inferred to be main-actor isolated:
    /// libclamav calls it from whatever thread runs the load.
    static let messageCallback: clcb_msg = { severity, fullmsg, msg, _ in
        guard severity == CL_MSG_ERROR || severity == CL_MSG_WARN else { return }
        guard let msg else { return }
        let line = String(cString: msg).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !line.isEmpty else { return }
        let prefix = severity == CL_MSG_ERROR ? "error: " : "warning: "
        ClamAV.messages.withLock { $0.append(prefix + line) }
        _ = fullmsg
    }

    /// Returns and clears the messages collected since the last call.
    static func drainMessages() -> [String] {
        messages.withLock { list in
            defer { list.removeAll() }
            return list
        }
    }

    static func check(_ rc: cl_error_t, _ function: String) throws {
        let messages = drainMessages()
        guard rc == CL_SUCCESS else {
            throw ClamAVError(function: function, code: Int32(rc.rawValue),
                              reason: String(cString: cl_strerror(rc)), messages: messages)
        }
    }

    /// Hashes a buffer with `cl_hash_data` (libclamav's OpenSSL digests).
    /// - Parameter algorithm: "md5", "sha1" or "sha256".
    public static func hash(_ algorithm: String, _ data: Data) throws -> String {
        try initialise()
        var out = [UInt8](repeating: 0, count: 64)
        var length: UInt32 = 0
        let ok: Bool = data.withUnsafeBytes { raw in
            out.withUnsafeMutableBufferPointer { buffer in
                cl_hash_data(algorithm, raw.baseAddress, raw.count, buffer.baseAddress, &length) != nil
            }
        }
        guard ok else {
            throw ClamAVError(function: "cl_hash_data", code: -1, reason: "unsupported digest \(algorithm)", messages: [])
        }
        return out.prefix(Int(length)).map { String(format: "%02x", $0) }.joined()
    }

    /// Hashes a file by streaming it through `cl_hash_file_fd`.
    public static func hashFile(_ algorithm: String, path: String) throws -> String {
        try initialise()
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError.errno("open", path: path) }
        defer { close(fd) }
        var length: UInt32 = 0
        guard let digest = cl_hash_file_fd(fd, algorithm, &length) else {
            throw ClamAVError(function: "cl_hash_file_fd", code: -1, reason: "cannot hash \(path)", messages: [])
        }
        defer { free(digest) }
        return UnsafeBufferPointer(start: digest, count: Int(length)).map { String(format: "%02x", $0) }.joined()
    }
}

/// One libclamav engine (`struct cl_engine`). Freed with `cl_engine_free` in `deinit`.
/// Loading and compiling block for a long time: call them from a thread of
/// your own or a child process, never from the Swift concurrency pool.
public final class ClamEngine {
    let pointer: OpaquePointer
    public private(set) var signatures: UInt32 = 0

    /// `cl_engine_new()`.
    public init() throws {
        try ClamAV.initialise()
        guard let engine = cl_engine_new() else {
            throw ClamAVError(function: "cl_engine_new", code: Int32(CL_EMEM.rawValue),
                              reason: "cannot allocate an engine", messages: [])
        }
        self.pointer = engine
    }

    deinit { cl_engine_free(pointer) }

    /// `cl_load(path, engine, &signo, flags)`: loads a file or every database in a directory.
    /// Returns the number of signatures this call added.
    @discardableResult
    public func load(_ path: String, options: LoadOptions) throws -> UInt32 {
        _ = ClamAV.drainMessages()
        var count: UInt32 = 0
        let rc = cl_load(path, pointer, &count, options.clFlags)
        try ClamAV.check(rc, "cl_load")
        signatures += count
        return count
    }

    /// `cl_engine_compile(pointer)`: builds the matchers. PCRE and bytecode
    /// errors surface only here, never in `cl_load`.
    public func compile() throws {
        _ = ClamAV.drainMessages()
        try ClamAV.check(cl_engine_compile(pointer), "cl_engine_compile")
    }

    /// Messages libclamav printed (warnings) during the last successful call.
    public func takeWarnings() -> [String] { ClamAV.drainMessages() }

    /// `cl_scanfile` with every parser on: returns the first signature name that matched, or nil.
    public func scanFile(_ path: String) throws -> String? {
        var options = cl_scan_options()
        options.parse = ~UInt32(0)
        var virname: UnsafePointer<CChar>? = nil
        var scanned: UInt = 0
        let rc = cl_scanfile(path, &virname, &scanned, pointer, &options)
        if rc == CL_VIRUS { return virname.map { String(cString: $0) } }
        try ClamAV.check(rc, "cl_scanfile")
        return nil
    }
}

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

    public init(databaseDirectory: String, tempDirectory: String, logFile: String, databases: [String], servers: [String],
                privateMirror: Bool, dns: String?, connectTimeout: Int, requestTimeout: Int, proxy: String?) {
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
        if let proxy = request.proxy, let colon = proxy.lastIndex(of: ":"), let port = UInt16(proxy[proxy.index(after: colon)...]) {
            config.proxyServer = cString(String(proxy[..<colon]))
            config.proxyPort = port
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
                                   dnsInfo, 1, nil, &updated)
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

/// Collects the layers and matches of one scan. libclamav calls the engine's
/// callbacks with this object as their context, from the scanning thread.
final class ScanRecorder {
    struct Layer {
        var path: String
        var type: String
        var filename: String?
        var children = 0
    }
    var stack: [Layer] = []
    var matches: [MatchReport] = []
    private var seen: Set<MatchReport> = []

    func enter(level: Int, type: String, name: String?, normalized: Bool) {
        if stack.count > level { stack.removeLast(stack.count - level) }
        guard let parent = stack.last else {
            stack.append(Layer(path: "1", type: type, filename: name))
            return
        }
        // A file libclamav made by normalising its parent (HTML without tags, script
        // text) is not a part of the message: its matches belong to the parent.
        if normalized {
            stack.append(parent)
            return
        }
        stack[stack.count - 1].children += 1
        let internalName = name.map { $0.hasPrefix("clamav-") && $0.hasSuffix(".tmp") } ?? true
        stack.append(Layer(path: parent.path + "/\(parent.children + 1)", type: type,
                           filename: internalName || name == "unknown" ? nil : name))
    }

    func leave() {
        if !stack.isEmpty { stack.removeLast() }
    }

    func found(_ signature: String) {
        let layer = stack.last ?? Layer(path: "1", type: "CL_TYPE_ANY")
        let match = MatchReport(signature: signature, feed: nil, file: nil, part: layer.path, type: layer.type, filename: layer.filename)
        if seen.insert(match).inserted { matches.append(match) }
    }
}

/// Maps signature names to the database file that defined them, filled by `cl_engine_set_clcb_sigload`.
final class SignatureIndex {
    var current = ""
    var files: [String: String] = [:]
}

extension ClamEngine {
    /// `cl_engine_set_clcb_sigload` + `cl_load` per file: loads `files` in order and
    /// returns which file defined each signature name.
    public func loadIndexed(_ files: [String], options: LoadOptions) throws -> [String: String] {
        let index = SignatureIndex()
        let context = Unmanaged.passRetained(index)
        defer { context.release() }
        cl_engine_set_clcb_sigload(pointer, ClamEngine.sigloadCallback, context.toOpaque())
        defer { cl_engine_set_clcb_sigload(pointer, nil, nil) }
        for file in files {
            index.current = (file as NSString).lastPathComponent
            try load(file, options: options)
        }
        return index.files
    }

    /// Turns the engine into a test scanner: no result cache (every part is scanned and
    /// reported) and the layer callbacks that place each match in its MIME part.
    /// Call after `compile()`.
    public func enablePartReports() {
        cl_engine_set_num(pointer, CL_ENGINE_DISABLE_CACHE, 1)
        cl_engine_set_clcb_file_inspection(pointer, ClamEngine.inspectionCallback)
        cl_engine_set_clcb_post_scan(pointer, ClamEngine.postScanCallback)
        cl_engine_set_clcb_virus_found(pointer, ClamEngine.virusFoundCallback)
    }

    /// `cl_fmap_open_memory` + `cl_scanmap_callback`: scans bytes held in memory.
    /// Thread-safe on a compiled engine: each call has its own recorder.
    /// The matches carry no feed or file: the caller knows which file defines what.
    public func scan(_ data: Data, name: String, allMatches: Bool) throws -> [MatchReport] {
        let recorder = ScanRecorder()
        let context = Unmanaged.passRetained(recorder)
        defer { context.release() }
        var options = cl_scan_options()
        options.general = UInt32(CL_SCAN_GENERAL_HEURISTICS) | (allMatches ? UInt32(CL_SCAN_GENERAL_ALLMATCHES) : 0)
        options.parse = ~UInt32(0)
        var virname: UnsafePointer<CChar>? = nil
        var scanned: UInt = 0
        let rc: cl_error_t = try data.withUnsafeBytes { raw in
            guard let map = cl_fmap_open_memory(raw.baseAddress, raw.count) else {
                throw ClamAVError(function: "cl_fmap_open_memory", code: Int32(CL_EMEM.rawValue), reason: "cannot map the message", messages: [])
            }
            defer { cl_fmap_close(map) }
            return cl_scanmap_callback(map, name, &virname, &scanned, pointer, &options, context.toOpaque())
        }
        if rc == CL_VIRUS || rc == CL_CLEAN {
            if rc == CL_VIRUS, recorder.matches.isEmpty, let virname {
                recorder.found(String(cString: virname))
            }
            return recorder.matches
        }
        try ClamAV.check(rc, "cl_scanmap_callback")
        return recorder.matches
    }

    static let sigloadCallback: clcb_sigload = { _, name, _, context in
        guard let name, let context else { return 0 }
        let index = Unmanaged<SignatureIndex>.fromOpaque(context).takeUnretainedValue()
        let key = String(cString: name)
        if index.files[key] == nil { index.files[key] = index.current }
        return 0
    }

    static let inspectionCallback: clcb_file_inspection = { _, type, _, _, name, _, _, level, attributes, context in
        guard let context else { return CL_CLEAN }
        let recorder = Unmanaged<ScanRecorder>.fromOpaque(context).takeUnretainedValue()
        recorder.enter(level: Int(level), type: type.map { String(cString: $0) } ?? "CL_TYPE_ANY",
                       name: name.map { String(cString: $0) },
                       normalized: attributes & UInt32(LAYER_ATTRIBUTES_NORMALIZED) != 0)
        return CL_CLEAN
    }

    static let postScanCallback: clcb_post_scan = { _, _, _, context in
        guard let context else { return CL_CLEAN }
        Unmanaged<ScanRecorder>.fromOpaque(context).takeUnretainedValue().leave()
        return CL_CLEAN
    }

    static let virusFoundCallback: clcb_virus_found = { _, name, context in
        guard let context, let name else { return }
        Unmanaged<ScanRecorder>.fromOpaque(context).takeUnretainedValue().found(String(cString: name))
    }
}

extension ClamAV {
    /// `cl_cvdunpack(file, dir, false)`: unpacks a CVD/CLD (checking its signature) into `directory`.
    public static func unpackContainer(_ file: String, into directory: String) throws {
        try initialise()
        try check(cl_cvdunpack(file, directory, false), "cl_cvdunpack")
    }
}

extension ClamAV {
    /// `prctl(PR_SET_PDEATHSIG, SIGKILL)`, through the C shim (prctl is variadic).
    static func setParentDeathSignal() {
        _ = sigctl_die_with_parent()
    }
}
