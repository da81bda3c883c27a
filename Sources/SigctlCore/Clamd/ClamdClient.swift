import Foundation

/// clamd could not be reached or broke the protocol.
public struct ClamdError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable { case unreachable, timeout, protocolError }
    public let kind: Kind
    public let message: String
    public var description: String { message }
}

/// A blocking client for clamd's socket protocol (the NUL-terminated "z" commands).
/// One connection per command, as clamd expects for RELOAD and INSTREAM. Every
/// command has a deadline: connect, send and receive together never outlast it,
/// so a clamd that accepts a connection and never answers cannot hold sigctl.
public struct ClamdClient: ClamdService {
    public let address: ClamdAddress
    /// Seconds one command may take when the caller gives no deadline.
    public var timeout: Int

    public init(address: ClamdAddress, timeout: Int = 30) {
        self.address = address
        self.timeout = timeout
    }

    var defaultDeadline: Date { Date().addingTimeInterval(TimeInterval(timeout)) }

    /// PING → PONG.
    public func ping() throws -> Bool { try command("PING", deadline: defaultDeadline) == "PONG" }

    /// VERSION → "ClamAV 1.4.6/27000/…".
    public func version() throws -> String { try version(deadline: defaultDeadline) }
    public func version(deadline: Date) throws -> String { try command("VERSION", deadline: deadline) }

    /// RELOAD → "RELOADING". clamd answers at once and reloads in the background.
    public func reload() throws -> String { try reload(deadline: defaultDeadline) }
    public func reload(deadline: Date) throws -> String { try command("RELOAD", deadline: deadline) }

    public func scan(_ data: Data) throws -> String? { try scan(data, deadline: defaultDeadline) }

    /// INSTREAM: sends `data` and returns clamd's verdict: nil when clean, else the signature name.
    public func scan(_ data: Data, deadline: Date) throws -> String? {
        let fd = try connect(deadline: deadline)
        defer { close(fd) }
        try send(fd, Data("zINSTREAM\0".utf8), deadline: deadline)
        var offset = 0
        while offset < data.count {
            let chunk = data[data.startIndex + offset ..< data.startIndex + min(data.count, offset + 65536)]
            var length = UInt32(chunk.count).bigEndian
            try send(fd, Data(bytes: &length, count: 4) + chunk, deadline: deadline)
            offset += chunk.count
        }
        var end = UInt32(0)
        try send(fd, Data(bytes: &end, count: 4), deadline: deadline)
        let reply = try receive(fd, deadline: deadline)
        // "stream: OK", "stream: Name FOUND", "INSTREAM size limit exceeded. ERROR"
        if reply.hasSuffix(" FOUND") {
            let body = reply.dropLast(" FOUND".count)
            let name = body.hasPrefix("stream: ") ? body.dropFirst("stream: ".count) : body
            return String(name)
        }
        if reply.hasSuffix(": OK") { return nil }
        throw ClamdError(kind: .protocolError, message: "clamd at \(address) answered INSTREAM with \"\(reply)\"")
    }

    func command(_ name: String, deadline: Date) throws -> String {
        let fd = try connect(deadline: deadline)
        defer { close(fd) }
        try send(fd, Data("z\(name)\0".utf8), deadline: deadline)
        return try receive(fd, deadline: deadline)
    }

    private func connect(deadline: Date) throws -> Int32 {
        switch address {
        case .unix(let path):
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw unreachable("socket: \(String(cString: strerror(errno)))") }
            try setTimeouts(fd, deadline: deadline)
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
                    try setTimeouts(fd, deadline: deadline)
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

    /// Socket timeouts for what is left until `deadline`.
    private func setTimeouts(_ fd: Int32, deadline: Date) throws {
        let left = deadline.timeIntervalSinceNow
        guard left > 0 else {
            close(fd)
            throw ClamdError(kind: .timeout, message: "clamd at \(address) did not answer in time")
        }
        var tv = timeval(tv_sec: Int(left), tv_usec: Int((left - left.rounded(.down)) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    private func send(_ fd: Int32, _ data: Data, deadline: Date) throws {
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
    private func receive(_ fd: Int32, deadline: Date) throws -> String {
        var reply = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            guard Date() < deadline else {
                throw ClamdError(kind: .timeout, message: "clamd at \(address) accepted the connection but did not answer in time")
            }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                if errno == EINTR && Date() < deadline { continue }
                let timedOut = errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
                throw ClamdError(kind: timedOut ? .timeout : .protocolError,
                                 message: timedOut ? "clamd at \(address) accepted the connection but did not answer in time"
                                     : "clamd at \(address) did not answer: \(String(cString: strerror(errno)))")
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
