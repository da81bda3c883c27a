import Foundation

/// clamd could not be reached or broke the protocol.
public struct ClamdError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable { case unreachable, timeout, protocolError }
    public let kind: Kind
    public let message: String
    public var description: String { message }
}

/// A blocking client for clamd's socket protocol (the NUL-terminated "z" commands).
/// One connection per command, as clamd expects for RELOAD and INSTREAM.
public struct ClamdClient: Sendable {
    public let address: ClamdAddress
    /// Seconds to wait for connect, send and receive.
    public var timeout: Int

    public init(address: ClamdAddress, timeout: Int = 30) {
        self.address = address
        self.timeout = timeout
    }

    /// PING → PONG.
    public func ping() throws -> Bool { try command("PING") == "PONG" }

    /// VERSION → "ClamAV 1.4.6/27000/…".
    public func version() throws -> String { try command("VERSION") }

    /// RELOAD → "RELOADING". clamd answers at once and reloads in the background.
    public func reload() throws -> String { try command("RELOAD") }

    /// INSTREAM: sends `data` and returns clamd's verdict: nil when clean, else the signature name.
    public func scan(_ data: Data) throws -> String? {
        let fd = try connect()
        defer { close(fd) }
        try send(fd, Data("zINSTREAM\0".utf8))
        var offset = 0
        while offset < data.count {
            let chunk = data[data.startIndex + offset ..< data.startIndex + min(data.count, offset + 65536)]
            var length = UInt32(chunk.count).bigEndian
            try send(fd, Data(bytes: &length, count: 4) + chunk)
            offset += chunk.count
        }
        var end = UInt32(0)
        try send(fd, Data(bytes: &end, count: 4))
        let reply = try receive(fd)
        // "stream: OK", "stream: Name FOUND", "INSTREAM size limit exceeded. ERROR"
        if reply.hasSuffix(" FOUND") {
            let body = reply.dropLast(" FOUND".count)
            let name = body.hasPrefix("stream: ") ? body.dropFirst("stream: ".count) : body
            return String(name)
        }
        if reply.hasSuffix(": OK") { return nil }
        throw ClamdError(kind: .protocolError, message: "clamd at \(address) answered INSTREAM with \"\(reply)\"")
    }

    func command(_ name: String) throws -> String {
        let fd = try connect()
        defer { close(fd) }
        try send(fd, Data("z\(name)\0".utf8))
        return try receive(fd)
    }

    private func connect() throws -> Int32 {
        switch address {
        case .unix(let path):
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw unreachable("socket: \(String(cString: strerror(errno)))") }
            setTimeouts(fd)
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            let capacity = MemoryLayout.size(ofValue: addr.sun_path)
            guard path.utf8.count < capacity else {
                close(fd)
                throw unreachable("socket path is too long")
            }
            withUnsafeMutableBytes(of: &addr.sun_path) { raw in
                raw.copyBytes(from: path.utf8)
                raw[path.utf8.count] = 0
            }
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            if rc != 0 {
                let reason = String(cString: strerror(errno))
                close(fd)
                throw unreachable(reason)
            }
            return fd
        case .tcp(let host, let port):
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            hints.ai_family = AF_UNSPEC
            var result: UnsafeMutablePointer<addrinfo>?
            let rc = getaddrinfo(host, String(port), &hints, &result)
            guard rc == 0, let first = result else {
                throw unreachable("cannot resolve \(host): \(String(cString: gai_strerror(rc)))")
            }
            defer { freeaddrinfo(result) }
            var reason = "no address"
            var entry: UnsafeMutablePointer<addrinfo>? = first
            while let info = entry {
                let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), info.pointee.ai_protocol)
                if fd >= 0 {
                    setTimeouts(fd)
                    if Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { return fd }
                    reason = String(cString: strerror(errno))
                    close(fd)
                }
                entry = info.pointee.ai_next
            }
            throw unreachable(reason)
        }
    }

    private func unreachable(_ reason: String) -> ClamdError {
        ClamdError(kind: .unreachable, message: "cannot connect to clamd at \(address): \(reason)")
    }

    private func setTimeouts(_ fd: Int32) {
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    private func send(_ fd: Int32, _ data: Data) throws {
        try data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if n < 0 {
                    if errno == EINTR { continue }
                    let kind: ClamdError.Kind = (errno == EAGAIN || errno == EWOULDBLOCK) ? .timeout : .protocolError
                    throw ClamdError(kind: kind, message: "clamd at \(address): send failed: \(String(cString: strerror(errno)))")
                }
                offset += n
            }
        }
    }

    /// Reads until NUL or end of stream.
    private func receive(_ fd: Int32) throws -> String {
        var reply = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                if errno == EINTR { continue }
                let kind: ClamdError.Kind = (errno == EAGAIN || errno == EWOULDBLOCK) ? .timeout : .protocolError
                throw ClamdError(kind: kind, message: "clamd at \(address) did not answer: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            reply.append(contentsOf: buffer[0..<n])
            if let nul = reply.firstIndex(of: 0) {
                reply = reply[reply.startIndex..<nul]
                break
            }
        }
        guard !reply.isEmpty else {
            throw ClamdError(kind: .protocolError, message: "clamd at \(address) closed the connection without an answer")
        }
        return String(decoding: reply, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
