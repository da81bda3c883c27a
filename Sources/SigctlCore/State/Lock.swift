import Foundation

/// The run lock: a non-blocking `flock` on `state_dir/lock`. The kernel drops it
/// when the process dies, so a killed run never leaves a stale lock behind.
public final class RunLock {
    private let fd: Int32
    public let path: String

    public init(stateDir: String) throws {
        path = stateDir + "/lock"
        do {
            try Files.makeDirectory(stateDir, mode: 0o755)
        } catch {
            throw PermissionProblem.creating(stateDir) ?? error
        }
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw PermissionProblem.error("open", path: path, directory: stateDir, code: errno) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            var buffer = [UInt8](repeating: 0, count: 64)
            let n = pread(fd, &buffer, buffer.count, 0)
            close(fd)
            if code == EWOULDBLOCK {
                let holder = n > 0 ? String(decoding: buffer.prefix(n), as: UTF8.self)
                    .trimmingCharacters(in: .whitespacesAndNewlines) : nil
                throw LockHeldError(path: path, holder: holder.map { "pid \($0)" })
            }
            throw SystemError(call: "flock", path: path, code: code)
        }
        ftruncate(fd, 0)
        let pid = "\(getpid())\n"
        _ = pid.withCString { pwrite(fd, $0, strlen($0), 0) }
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
