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

    /// The options by their clamd.conf directive names.
    public var directives: [String: Bool] {
        ["PhishingSignatures": phishingSignatures, "PhishingScanURLs": phishingScanURLs, "Bytecode": bytecode,
         "BytecodeUnsigned": bytecodeUnsigned, "DetectPUA": detectPUA, "OfficialDatabaseOnly": officialDatabaseOnly]
    }

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
        // A set with millions of signatures can warn about each: keep the first few hundred.
        ClamAV.messages.withLock { if $0.count < 500 { $0.append(prefix + line) } }
        _ = fullmsg
    }

    /// Returns and clears the messages collected since the last call.
    static func drainMessages() -> [String] {
        messages.withLock { list in
            defer { list.removeAll() }
            return list
        }
    }

    /// Throws the libclamav error for `rc`; on success returns the warnings printed since the last drain.
    @discardableResult
    static func check(_ rc: cl_error_t, _ function: String) throws -> [String] {
        let messages = drainMessages()
        guard rc == CL_SUCCESS else {
            throw ClamAVError(function: function, code: Int32(rc.rawValue),
                              reason: String(cString: cl_strerror(rc)), messages: messages)
        }
        return messages
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
        let fd = try Files.openRegular(path)
        defer { close(fd) }
        var length: UInt32 = 0
        guard let digest = cl_hash_file_fd(fd, algorithm, &length) else {
            throw ClamAVError(function: "cl_hash_file_fd", code: -1, reason: "cannot hash \(path)", messages: [])
        }
        defer { free(digest) }
        return UnsafeBufferPointer(start: digest, count: Int(length)).map { String(format: "%02x", $0) }.joined()
    }
}

extension ClamAV {
    /// `cl_cvdunpack`: unpacks a CVD/CLD/CUD into `directory`. With `verify`, a CVD's
    /// digital signature is checked too; a `.cld` that libfreshclam built from cdiffs
    /// carries no such signature (its header says `X`), so files already in the live
    /// set, which libclamav loaded, are unpacked without the check.
    public static func unpackContainer(_ file: String, into directory: String, verify: Bool) throws {
        try initialise()
        try check(cl_cvdunpack(file, directory, !verify), "cl_cvdunpack")
    }
}

extension ClamAV {
    /// `prctl(PR_SET_PDEATHSIG, SIGKILL)`, through the C shim (prctl is variadic).
    static func setParentDeathSignal() {
        _ = sigctl_die_with_parent()
    }
}
