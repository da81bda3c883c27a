import Foundation

/// File helpers with the durability and atomicity sigctl relies on.
public enum Files {
    /// Writes `data` to `path` so that readers see either the old or the new
    /// content: write a temporary file beside it, fsync, rename, fsync the directory.
    /// With `modified`, the file gets that modification time before it is renamed into place.
    public static func writeAtomically(_ data: Data, to path: String, mode: mode_t = 0o644, modified: Date? = nil) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let temp = directory + "/." + (path as NSString).lastPathComponent + ".tmp-\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw SystemError.errno("open", path: temp) }
        do {
            try data.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw SystemError.errno("write", path: temp)
                    }
                    offset += n
                }
            }
            if let modified {
                let seconds = modified.timeIntervalSince1970
                var times = [timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9)),
                             timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))]
                guard futimens(fd, &times) == 0 else { throw SystemError.errno("futimens", path: temp) }
            }
            guard fsync(fd) == 0 else { throw SystemError.errno("fsync", path: temp) }
            close(fd)
        } catch {
            close(fd)
            unlink(temp)
            throw error
        }
        guard rename(temp, path) == 0 else {
            let error = SystemError.errno("rename", path: path)
            unlink(temp)
            throw error
        }
        syncDirectory(directory)
    }

    /// fsync on a directory, so that renames in it survive a crash.
    public static func syncDirectory(_ directory: String) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    /// Creates a directory and its parents.
    public static func makeDirectory(_ path: String, mode: Int = 0o755) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: mode])
    }

    /// Removes a file or a directory tree; a missing path is not an error.
    public static func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// The file's modification time (nil when it cannot be read).
    public static func modificationTime(_ path: String) -> Date? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(info.st_mtim.tv_sec))
    }

    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    /// Hard-links `source` to `destination`, copying when the two are on different file systems.
    /// Returns true when it linked.
    @discardableResult
    public static func linkOrCopy(_ source: String, to destination: String) throws -> Bool {
        if link(source, destination) == 0 { return true }
        let linkErrno = errno
        guard linkErrno == EXDEV || linkErrno == EPERM || linkErrno == EMLINK else {
            throw SystemError(call: "link", path: destination, code: linkErrno)
        }
        try copy(source, to: destination)
        return false
    }

    /// Copies a regular file's bytes and fsyncs the copy. The source is opened without
    /// following a symlink: it may sit in a directory another user can write.
    public static func copy(_ source: String, to destination: String, mode: mode_t = 0o644) throws {
        let input = try openRegular(source)
        defer { close(input) }
        let output = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard output >= 0 else { throw SystemError.errno("open", path: destination) }
        defer { close(output) }
        try copyBytes(from: input, named: source, to: output, named: destination)
        guard fsync(output) == 0 else { throw SystemError.errno("fsync", path: destination) }
    }

    /// Copies everything readable from `input` to `output` (both open descriptors).
    public static func copyBytes(from input: Int32, named source: String, to output: Int32, named destination: String) throws {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError.errno("read", path: source)
            }
            if n == 0 { return }
            var offset = 0
            while offset < n {
                let w = buffer.withUnsafeBytes { write(output, $0.baseAddress! + offset, n - offset) }
                if w < 0 {
                    if errno == EINTR { continue }
                    throw SystemError.errno("write", path: destination)
                }
                offset += w
            }
        }
    }

    /// Names of the entries of a directory, sorted; empty when it does not exist.
    public static func list(_ directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
    }

    /// Size of a file in bytes.
    public static func size(_ path: String) -> Int64? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Int64(st.st_size)
    }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }
}

extension Files {
    /// Opens a regular file for reading, never through a symlink and never blocking on a
    /// FIFO or device someone planted in its place.
    public static func openRegular(_ path: String) throws -> Int32 {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard fd >= 0 else { throw SystemError.errno("open", path: path) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw SystemError(call: "open", path: path, code: EINVAL)
        }
        return fd
    }

    /// The bytes of a regular file of at most `limit` bytes (nil otherwise), read as `openRegular` opens it.
    public static func readRegular(_ path: String, limit: Int64 = 256 << 20) -> Data? {
        guard let fd = try? openRegular(path) else { return nil }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        var st = stat()
        guard fstat(fd, &st) == 0, Int64(st.st_size) <= limit else { return nil }
        return try? handle.readToEnd() ?? Data()
    }

    /// A new directory with an unpredictable name (`mkdtemp`) inside `parent`.
    public static func makeTemporaryDirectory(in parent: String, prefix: String) throws -> String {
        try makeDirectory(parent)
        var template = Array((parent + "/" + prefix + String(repeating: "X", count: 6)).utf8CString) // mkdtemp template
        guard let made = mkdtemp(&template) else { throw SystemError.errno("mkdtemp", path: parent) }
        return String(cString: made)
    }
}
