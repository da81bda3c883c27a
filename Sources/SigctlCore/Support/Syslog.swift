import Foundation

/// Sends lines to the local syslog daemon (facility mail, tag sigctl), so that
/// sigctl's errors and changes sit next to clamav-milter's in mail.log. It speaks the
/// local datagram protocol itself: one message per datagram to /dev/log. A daemon
/// that is not there loses the line, never the run.
public final class SyslogWriter: Sendable {
    public enum Severity: Int32, Sendable {
        case error = 3, warning = 4, notice = 5, info = 6, debug = 7
    }

    /// LOG_MAIL.
    static let facility: Int32 = 2
    public let socketPath: String
    let tag: String

    public init(socketPath: String = "/dev/log", tag: String = "sigctl") {
        self.socketPath = socketPath
        self.tag = tag
    }

    /// The socket to use: $SIGCTL_SYSLOG_SOCKET (a chroot's or a test's) or /dev/log.
    public static func fromEnvironment() -> SyslogWriter {
        SyslogWriter(socketPath: ProcessInfo.processInfo.environment["SIGCTL_SYSLOG_SOCKET"] ?? "/dev/log")
    }

    /// "<PRI>Mmm dd hh:mm:ss tag[pid]: message", as syslog(3) sends it.
    func datagram(_ message: String, severity: Severity, now: time_t = time(nil)) -> String {
        var seconds = now, parts = tm()
        localtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        let count = strftime(&buffer, buffer.count, "%b %e %H:%M:%S", &parts)
        let stamp = String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let line = message.replacingOccurrences(of: "\n", with: " ")
        return "<\(Self.facility * 8 + severity.rawValue)>\(stamp) \(tag)[\(getpid())]: \(line)"
    }

    public func send(_ message: String, severity: Severity) {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = Array(socketPath.utf8)
        guard path.count < MemoryLayout.size(ofValue: address.sun_path) else { return }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path)
            raw[path.count] = 0
        }
        let bytes = Array(datagram(message, severity: severity).utf8.prefix(8192))
        _ = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { target in
                sendto(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL), target, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
    }
}

/// systemd's journal reads a service's stderr; a line that starts with "<N>" gets
/// priority N. It sets $JOURNAL_STREAM to the device and inode of that stream.
public enum JournalStream {
    public static var isStderr: Bool {
        guard let value = ProcessInfo.processInfo.environment["JOURNAL_STREAM"] else { return false }
        let parts = value.split(separator: ":").compactMap { UInt64($0) }
        var st = stat()
        guard parts.count == 2, fstat(STDERR_FILENO, &st) == 0 else { return false }
        return UInt64(st.st_dev) == parts[0] && UInt64(st.st_ino) == parts[1]
    }
}
