import Foundation

/// An open directory, used for every operation inside a directory that another
/// user can write (clamd's database directory belongs to clamav). Names are
/// resolved relative to the descriptor with `O_NOFOLLOW`, so a symlink planted in
/// place of a file or of the staging directory is never followed.
final class DirectoryHandle {
    let fd: Int32
    let path: String

    /// Opens `path` itself without following a symlink in its last component.
    init(_ path: String) throws {
        fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError.errno("open", path: path) }
        self.path = path
    }

    private init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    /// A subdirectory, never through a symlink.
    func open(_ name: String) throws -> DirectoryHandle {
        let child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard child >= 0 else { throw SystemError.errno("open", path: path + "/" + name) }
        return DirectoryHandle(fd: child, path: path + "/" + name)
    }

    /// Creates a subdirectory (0700: only sigctl works in it) and opens it.
    func makeDirectory(_ name: String) throws -> DirectoryHandle {
        guard mkdirat(fd, name, 0o700) == 0 else { throw SystemError.errno("mkdir", path: path + "/" + name) }
        return try open(name)
    }

    /// What is at `name`, without following a symlink; nil when nothing is.
    func status(_ name: String) -> stat? {
        var st = stat()
        return fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ? st : nil
    }

    func entries() -> [String] {
        let copy = Glibc.dup(fd)
        guard copy >= 0, let dir = fdopendir(copy) else { return [] }
        defer { closedir(dir) }
        rewinddir(dir)
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Removes `name` (a file, a symlink, or a directory tree of plain files), never following links.
    func removeTree(_ name: String) {
        guard let st = status(name) else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR, let child = try? open(name) {
            for entry in child.entries() { child.removeTree(entry) }
            unlinkat(fd, name, AT_REMOVEDIR)
        } else {
            unlinkat(fd, name, 0)
        }
    }

    /// Removes a regular file or symlink named `name`; a missing one is fine.
    func removeFile(_ name: String) throws {
        guard let st = status(name) else { return }
        guard (st.st_mode & S_IFMT) != S_IFDIR else { throw SystemError(call: "unlink", path: path + "/" + name, code: EISDIR) }
        guard unlinkat(fd, name, 0) == 0 || errno == ENOENT else { throw SystemError.errno("unlink", path: path + "/" + name) }
    }

    /// Copies the file at `source` (a path sigctl alone writes) to a new file `name`
    /// here: created exclusively, never through a symlink, then owned by `owner`,
    /// mode `mode`, and fsynced.
    func copyIn(from source: String, as name: String, owner: (uid_t, gid_t)?, mode: mode_t) throws {
        let input = Glibc.open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw SystemError.errno("open", path: source) }
        defer { close(input) }
        let output = openat(fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw SystemError.errno("open", path: path + "/" + name) }
        defer { close(output) }
        try Files.copyBytes(from: input, named: source, to: output, named: path + "/" + name)
        if let owner, fchown(output, owner.0, owner.1) != 0 { throw SystemError.errno("fchown", path: path + "/" + name) }
        guard fchmod(output, mode) == 0 else { throw SystemError.errno("fchmod", path: path + "/" + name) }
        guard fsync(output) == 0 else { throw SystemError.errno("fsync", path: path + "/" + name) }
    }

    /// `renameat` from this directory into `target`.
    func move(_ name: String, to target: DirectoryHandle) throws {
        guard renameat(fd, name, target.fd, name) == 0 else { throw SystemError.errno("rename", path: target.path + "/" + name) }
    }

    func sync() { fsync(fd) }

    /// The directory's owner, for files sigctl puts in it.
    func owner() throws -> (uid_t, gid_t) {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SystemError.errno("fstat", path: path) }
        return (st.st_uid, st.st_gid)
    }
}
