import Foundation

/// A permission error that says who sigctl runs as, who owns the place, and what to do.
enum PermissionProblem {
    /// The name of a user id, or the number.
    static func userName(_ uid: uid_t) -> String {
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return "uid \(uid)" }
        return String(cString: name)
    }

    /// When `directory` could not be created because its nearest existing parent is not
    /// writable for us: that problem, told as above.
    static func creating(_ directory: String) -> Error? {
        guard access(existing((directory as NSString).deletingLastPathComponent), W_OK | X_OK) != 0 else { return nil }
        return error("create", path: directory, directory: directory, code: EACCES)
    }

    /// `path` or its nearest ancestor that exists.
    static func existing(_ path: String) -> String {
        var probe = path
        while !Files.exists(probe), probe != "/" { probe = (probe as NSString).deletingLastPathComponent }
        return probe
    }

    /// For EACCES/EPERM on `path` (inside sigctl's state directory `directory`): an
    /// error naming both users and the two ways out; otherwise the system error.
    static func error(_ call: String, path: String, directory: String, code: Int32) -> Error {
        guard code == EACCES || code == EPERM else { return SystemError(call: call, path: path, code: code) }
        let me = userName(geteuid())
        let probe = existing(directory)
        var st = stat()
        let owner = stat(probe, &st) == 0 ? userName(st.st_uid) : "another user"
        return CommandError("sigctl runs as \(me) but cannot \(call) \(path): permission denied (\(probe) belongs to \(owner))",
                            hint: "give sigctl's state directory to \(me) (chown -R \(me): \(directory)) or run sigctl as \(owner)")
    }
}
