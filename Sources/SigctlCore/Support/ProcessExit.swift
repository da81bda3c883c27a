import CClamAV
import Foundation

/// Waiting for a process that is not our child (a grandchild killed by the parent-death
/// signal): `pidfd_open` + `poll`, an event from the kernel rather than a polling loop.
public enum ProcessExit {
    /// Waits until `pid` has exited, at most `timeout` seconds. True when it is gone.
    public static func wait(_ pid: pid_t, timeout: Double) -> Bool {
        let fd = sigctl_pidfd_open(pid)
        // ESRCH: there is no such process (any more).
        guard fd >= 0 else { return errno == ESRCH }
        defer { close(fd) }
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, Int32(timeout * 1000)) == 1
    }
}
