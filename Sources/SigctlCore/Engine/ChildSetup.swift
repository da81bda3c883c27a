import Foundation

/// What every child that parses databases does first: die with its parent, drop
/// root for the database directory's owner, and cap its address space.
enum ChildSetup {
    /// Returns why privileges could not be dropped, or nil when the child may go on.
    static func enter(runAs: (uid: uid_t, gid: gid_t)?, memoryLimit: Int64) -> String? {
        ChildGuard.dieWithParent()
        if let runAs, geteuid() == 0, runAs.uid != 0 {
            // Downloads are untrusted input to libclamav's parsers: parse them as the
            // owner of the database directory (clamav), never as root.
            guard setgroups(0, nil) == 0, setgid(runAs.gid) == 0, setuid(runAs.uid) == 0, getuid() == runAs.uid else {
                return "cannot drop privileges to uid \(runAs.uid): \(String(cString: strerror(errno)))"
            }
            // Changing credentials clears the parent-death signal: set it again.
            ChildGuard.dieWithParent()
        }
        if memoryLimit > 0 {
            var limit = rlimit(rlim_cur: rlim_t(memoryLimit), rlim_max: rlim_t(memoryLimit))
            setrlimit(Int32(RLIMIT_AS.rawValue), &limit)
        }
        return nil
    }

    /// Peak resident memory of this process, in KiB.
    static func peakRSS() -> Int {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return usage.ru_maxrss
    }
}
