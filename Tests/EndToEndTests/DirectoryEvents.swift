import Foundation
import Glibc

/// Changes in one directory, from inotify: a test waits for the next file created,
/// written or moved in there instead of sleeping and looking again.
final class DirectoryEvents {
    private let watch: Int32

    init(_ directory: String) throws {
        watch = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        guard watch >= 0, inotify_add_watch(watch, directory, UInt32(IN_CREATE | IN_MODIFY | IN_MOVED_TO)) >= 0 else {
            throw HarnessError("cannot watch \(directory): \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(watch) }

    /// Waits until something changes in the directory, at most `seconds`; true on a change.
    /// Pending events are drained, so the next call waits for a new one.
    func next(within seconds: Double) -> Bool {
        var entry = pollfd(fd: watch, events: Int16(POLLIN), revents: 0)
        guard poll(&entry, 1, Int32(seconds * 1000)) == 1 else { return false }
        var buffer = [UInt8](repeating: 0, count: 4096)
        while Glibc.read(watch, &buffer, buffer.count) > 0 {}
        return true
    }
}
