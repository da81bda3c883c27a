import Foundation

/// What the host has to spare, read from the kernel: `/proc/meminfo`, the memory limit of
/// sigctl's own cgroup (v2), and clamd's resident memory (its pid from the socket's peer).
public struct HostMemory: Sendable {
    public var available: Int64?
    /// Room left under sigctl's cgroup limit (memory.max − memory.current), when there is one.
    public var cgroupRoom: Int64?
    public var clamdRSS: Int64?

    public init(available: Int64?, cgroupRoom: Int64?, clamdRSS: Int64?) {
        self.available = available
        self.cgroupRoom = cgroupRoom
        self.clamdRSS = clamdRSS
    }

    public static func read(clamd: ClamdAddress?) -> HostMemory {
        HostMemory(available: meminfo("MemAvailable"), cgroupRoom: cgroupRoom(), clamdRSS: clamd.flatMap(clamdPid).flatMap(rss))
    }

    /// A line of /proc/meminfo, in bytes.
    static func meminfo(_ key: String) -> Int64? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(key + ":") {
            return line.split(separator: " ").dropFirst().first.flatMap { Int64($0) }.map { $0 * 1024 }
        }
        return nil
    }

    static func cgroupRoom() -> Int64? {
        guard let own = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8),
              let line = own.split(separator: "\n").first(where: { $0.hasPrefix("0::") }) else { return nil }
        var directory = "/sys/fs/cgroup" + line.dropFirst(3)
        var room: Int64?
        // The tightest limit on the way up to the root counts.
        while directory.hasPrefix("/sys/fs/cgroup") {
            if let max = read(directory + "/memory.max").flatMap({ Int64($0) }),
               let current = read(directory + "/memory.current").flatMap({ Int64($0) }) {
                room = min(room ?? Int64.max, max - current)
            }
            guard directory != "/sys/fs/cgroup" else { break }
            directory = (directory as NSString).deletingLastPathComponent
        }
        return room
    }

    private static func read(_ path: String) -> String? {
        (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// clamd's pid: the peer of a connection to its local socket (SO_PEERCRED).
    static func clamdPid(_ address: ClamdAddress) -> pid_t? {
        guard case .unix(let path) = address else { return nil }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        guard path.utf8.count < MemoryLayout.size(ofValue: addr.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, byte) in path.utf8.enumerated() { raw[i] = byte }
        }
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { return nil }
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; } (glibc hides it without _GNU_SOURCE).
        var credentials: (pid: Int32, uid: UInt32, gid: UInt32) = (0, 0, 0)
        var length = socklen_t(MemoryLayout.size(ofValue: credentials))
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0, credentials.pid > 0 else { return nil }
        return credentials.pid
    }

    /// VmRSS of a process, in bytes.
    static func rss(_ pid: pid_t) -> Int64? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return line.split(separator: " ").dropFirst().first.flatMap { Int64($0) }.map { $0 * 1024 }
        }
        return nil
    }
}

/// How much memory sigctl's children may use for a whole-set check, and whether one fits.
public struct MemoryBudget: Sendable, Equatable {
    public var bytes: Int64
    /// Where the figure comes from, for the messages.
    public var source: String

    /// The setting, or by default what the host can spare now (the smaller of MemAvailable
    /// and the room under sigctl's cgroup limit) less a reserve of 5% of it, at least 128 MiB.
    public static func resolve(setting: Int64?, host: HostMemory) -> MemoryBudget? {
        if let setting { return MemoryBudget(bytes: max(16 << 20, setting), source: "memory_budget") }
        let free = [host.available, host.cgroupRoom].compactMap { $0 }.min()
        guard let free else { return nil }
        let reserve = max(128 << 20, free / 20)
        let origin = host.cgroupRoom != nil && host.cgroupRoom == free ? "the room under sigctl's cgroup memory limit" : "the host's available memory"
        // Never 0: a limit of 0 would mean no limit for the children.
        return MemoryBudget(bytes: max(16 << 20, free - reserve), source: "\(origin) less a reserve")
    }

    /// What a whole-set check of about `signatures` signatures needs: an engine as large
    /// as clamd's (its resident memory now) with 10% for growth, or, without clamd,
    /// 240 bytes a signature (the official set's measured cost in libclamav 1.4).
    public static func need(signatures: Int, clamdRSS: Int64?) -> Int64 {
        let engine = clamdRSS ?? Int64(signatures) * 240
        return engine + engine / 10 + (64 << 20)
    }

    public var mib: Int64 { bytes >> 20 }

    /// What the fallback does, said after its reason.
    static let fallbackText = "verified the changed files plus the canary instead of the whole set; clamd keeps its current set if the new one does not load (with ConcurrentDatabaseReload yes, Debian's default); raise memory_budget or add memory to check the whole set again"
}
