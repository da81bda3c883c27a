import CCurl
import Foundation

/// One HTTP GET, as sigctl needs it.
public struct HTTPRequest: Sendable {
    public var url: String
    /// Extra request headers, each "Name: value".
    public var headers: [String] = []
    public var userAgent: String
    public var connectTimeout: Int = 30
    /// Abort when fewer than 1 byte a second arrives for this many seconds.
    public var stallTimeout: Int = 60
    /// Abort once the body grows past this many bytes.
    public var maxBytes: Int64 = 256 << 20
    public var proxy: String? = nil
    /// Ask for the body from this offset (`Range: bytes=N-`); the answer may be 206 or a full 200.
    public var resumeFrom: Int64 = 0

    public init(url: String, userAgent: String) {
        self.url = url
        self.userAgent = userAgent
    }
}

/// The final response of a transfer (after redirects).
public struct HTTPResponse: Sendable {
    public var status: Int
    /// Header names in lower case; the last occurrence wins.
    public var headers: [String: String]
    /// Body bytes written to the output during this transfer.
    public var bodyBytes: Int64
}

/// A libcurl transfer that failed below HTTP (DNS, connect, reset, timeout, size cap).
public struct CurlError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable { case timeout, connect, partial, tooLarge, write, other }
    public let code: Int32
    public let kind: Kind
    public var message: String
    /// Body bytes received before the failure.
    public let bodyBytes: Int64
    /// The HTTP status and headers received before the failure, if any.
    public var status = 0
    public var headers: [String: String] = [:]
    public var description: String { message }
}

/// Thin owner of a libcurl easy handle. `curl_easy_init` in `init`,
/// `curl_easy_cleanup` in `deinit`. `perform` blocks: call it from a thread
/// of your own, never from the Swift concurrency pool.
public final class CurlEasy {
    private static let globalInit: CURLcode = curl_global_init(Int(CURL_GLOBAL_DEFAULT))
    private let handle: UnsafeMutableRawPointer

    /// `curl_easy_init()`.
    public init() throws {
        guard CurlEasy.globalInit == CURLE_OK, let handle = curl_easy_init() else {
            throw CurlError(code: -1, kind: .other, message: "libcurl could not be initialised", bodyBytes: 0)
        }
        self.handle = handle
    }

    deinit { curl_easy_cleanup(handle) }

    /// Per-transfer state the C callbacks reach through their user pointer.
    private final class Transfer {
        let fd: Int32
        let maxBytes: Int64
        var written: Int64 = 0
        var tooLarge = false
        var writeFailed = false
        var writeErrno: Int32 = 0
        var headers: [String: String] = [:]
        let progress: ((Int64, Int64) -> Void)?
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)

        init(fd: Int32, maxBytes: Int64, progress: ((Int64, Int64) -> Void)?) {
            self.fd = fd
            self.maxBytes = maxBytes
            self.progress = progress
        }
    }

    /// CURLOPT_WRITEFUNCTION: append to the output descriptor, enforcing the size cap.
    private static let writeCallback: sigctl_curl_data_cb = { ptr, size, count, user in
        guard let ptr, let user else { return 0 }
        let transfer = Unmanaged<Transfer>.fromOpaque(user).takeUnretainedValue()
        let length = size * count
        if transfer.written + Int64(length) > transfer.maxBytes {
            transfer.tooLarge = true
            return 0
        }
        var offset = 0
        while offset < length {
            let n = write(transfer.fd, ptr + offset, length - offset)
            if n < 0 {
                if errno == EINTR { continue }
                transfer.writeFailed = true
                transfer.writeErrno = errno
                return 0
            }
            offset += n
        }
        transfer.written += Int64(length)
        return length
    }

    /// CURLOPT_HEADERFUNCTION: collect the headers of the last response.
    private static let headerCallback: sigctl_curl_data_cb = { ptr, size, count, user in
        guard let ptr, let user else { return 0 }
        let transfer = Unmanaged<Transfer>.fromOpaque(user).takeUnretainedValue()
        let length = size * count
        let raw = UnsafeRawBufferPointer(start: ptr, count: length)
        let line = String(decoding: raw, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if line.hasPrefix("HTTP/") {
            transfer.headers = [:] // a new response (redirect or 100-continue) starts
        } else if let colon = line.firstIndex(of: ":") {
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            transfer.headers[name] = value
        }
        return length
    }

    /// CURLOPT_XFERINFOFUNCTION: forward progress.
    private static let progressCallback: sigctl_curl_xferinfo_cb = { user, total, now, _, _ in
        guard let user else { return 0 }
        let transfer = Unmanaged<Transfer>.fromOpaque(user).takeUnretainedValue()
        transfer.progress?(Int64(now), Int64(total))
        return 0
    }

    private func set(_ option: CURLoption, _ value: Int) throws {
        try check(sigctl_curl_setopt_long(handle, option, value), "curl_easy_setopt")
    }

    private func set(_ option: CURLoption, _ value: String) throws {
        try check(sigctl_curl_setopt_string(handle, option, value), "curl_easy_setopt")
    }

    private func check(_ code: CURLcode, _ function: String) throws {
        guard code == CURLE_OK else {
            throw CurlError(code: Int32(code.rawValue), kind: .other,
                            message: "\(function): \(String(cString: curl_easy_strerror(code)))", bodyBytes: 0)
        }
    }

    /// `curl_easy_perform`: runs one GET and writes the body to `fd`.
    /// HTTP errors (404, 429…) are returned as a response, not thrown.
    public func perform(_ request: HTTPRequest, into fd: Int32,
                        progress: ((Int64, Int64) -> Void)? = nil) throws -> HTTPResponse {
        curl_easy_reset(handle)
        let transfer = Transfer(fd: fd, maxBytes: request.maxBytes, progress: progress)
        let context = Unmanaged.passUnretained(transfer).toOpaque()

        try set(CURLOPT_URL, request.url)
        try set(CURLOPT_PROTOCOLS_STR, "http,https")
        try set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https")
        // Redirects come back as responses: the fetcher decides whether to follow them
        // (only on the mirror's own host).
        try set(CURLOPT_FOLLOWLOCATION, 0)
        try set(CURLOPT_NOSIGNAL, 1)
        try set(CURLOPT_USERAGENT, request.userAgent)
        try set(CURLOPT_CONNECTTIMEOUT, request.connectTimeout)
        try set(CURLOPT_LOW_SPEED_LIMIT, 1)
        try set(CURLOPT_LOW_SPEED_TIME, request.stallTimeout)
        try set(CURLOPT_FAILONERROR, 0)
        // Let libcurl negotiate and decode transfer compression, except when resuming: a
        // range counts the bytes as sent, and those must not be decoded ones.
        try set(CURLOPT_ACCEPT_ENCODING, request.resumeFrom > 0 ? "identity" : "")
        if let proxy = request.proxy { try set(CURLOPT_PROXY, proxy) }
        try check(sigctl_curl_setopt_data_cb(handle, CURLOPT_WRITEFUNCTION, CurlEasy.writeCallback), "curl_easy_setopt")
        try check(sigctl_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, context), "curl_easy_setopt")
        try check(sigctl_curl_setopt_data_cb(handle, CURLOPT_HEADERFUNCTION, CurlEasy.headerCallback), "curl_easy_setopt")
        try check(sigctl_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, context), "curl_easy_setopt")
        if progress != nil {
            try set(CURLOPT_NOPROGRESS, 0)
            try check(sigctl_curl_setopt_xferinfo_cb(handle, CurlEasy.progressCallback), "curl_easy_setopt")
            try check(sigctl_curl_setopt_pointer(handle, CURLOPT_XFERINFODATA, context), "curl_easy_setopt")
        }

        var list: UnsafeMutablePointer<curl_slist>? = nil
        // A plain Range header rather than CURLOPT_RESUME_FROM: libcurl treats a full
        // 200 answer to a resume as an error, and with If-Range that answer is expected.
        let range = request.resumeFrom > 0 ? ["Range: bytes=\(request.resumeFrom)-"] : []
        for header in request.headers + range { list = curl_slist_append(list, header) }
        defer { curl_slist_free_all(list) }
        try check(sigctl_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, list), "curl_easy_setopt")

        let code: CURLcode = transfer.errorBuffer.withUnsafeMutableBufferPointer { buffer in
            _ = sigctl_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, buffer.baseAddress)
            defer { _ = sigctl_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, nil) }
            return withExtendedLifetime(transfer) { curl_easy_perform(handle) }
        }

        var status = 0
        if code == CURLE_OK || code == CURLE_PARTIAL_FILE || code == CURLE_OPERATION_TIMEDOUT {
            status = responseCode()
        }
        guard code == CURLE_OK else {
            let detail = String(decoding: transfer.errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let reason = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            let kind: CurlError.Kind
            switch code {
            case CURLE_OPERATION_TIMEDOUT: kind = .timeout
            case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: kind = .connect
            case CURLE_PARTIAL_FILE, CURLE_RECV_ERROR, CURLE_GOT_NOTHING: kind = .partial
            case CURLE_WRITE_ERROR where transfer.tooLarge: kind = .tooLarge
            case CURLE_WRITE_ERROR: kind = .write
            default: kind = .other
            }
            let message: String
            switch kind {
            case .tooLarge: message = "the body is larger than the \(request.maxBytes)-byte limit (max_file_size)"
            case .write where transfer.writeErrno != 0:
                message = "cannot write the download: \(String(cString: strerror(transfer.writeErrno)))"
            default: message = reason + (status > 0 ? " (after HTTP \(status))" : "")
            }
            var error = CurlError(code: Int32(code.rawValue), kind: kind, message: message, bodyBytes: transfer.written)
            error.status = status
            error.headers = transfer.headers
            throw error
        }
        return HTTPResponse(status: responseCode(), headers: transfer.headers, bodyBytes: transfer.written)
    }

    /// `curl_easy_getinfo(CURLINFO_RESPONSE_CODE)`.
    private func responseCode() -> Int {
        var code = 0
        _ = sigctl_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &code)
        return code
    }
}
