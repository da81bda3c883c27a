import Foundation

/// A real `rsync --daemon` on 127.0.0.1 (Tests/Support/rsyncd.py starts one per
/// connection, as Debian's rsync.socket does). Module `feeds` serves `root`; module
/// `busy` serves the same tree with `max connections = 1`, so holding its lock slot
/// makes the daemon answer "max connections reached".
final class RsyncDaemon {
    let root: String
    let workDir: String
    let logPath: String
    let busyLock: String
    private var process: Process?
    private(set) var port = 0
    private var heldLock: Int32 = -1

    init(root: String, workDir: String) throws {
        self.root = root
        self.workDir = workDir
        logPath = workDir + "/rsyncd.connections"
        busyLock = workDir + "/rsyncd-busy.lock"
        try """
        use chroot = no
        log file = \(workDir)/rsyncd.log
        [feeds]
        path = \(root)
        read only = yes
        [busy]
        path = \(root)
        read only = yes
        max connections = 1
        lock file = \(busyLock)

        """.write(toFile: workDir + "/rsyncd.conf", atomically: true, encoding: .utf8)
        try start()
    }

    deinit {
        stop()
        releaseBusy()
    }

    /// Starts listening (again, on the same port when it had one).
    func start() throws {
        (process, port) = try startAnnounced("rsyncd.py", ["--config", workDir + "/rsyncd.conf", "--log", logPath]
                                             + (port > 0 ? ["--port", String(port)] : []))
    }

    /// The daemon down: the port refuses connections.
    func stop() {
        if let process { stopProcess(process) }
        process = nil
    }

    func url(_ path: String, module: String = "feeds") -> String { "rsync://127.0.0.1:\(port)/\(module)/\(path)" }

    /// Connections accepted so far.
    var connections: Int {
        (try? String(contentsOfFile: logPath, encoding: .utf8))?.split(separator: "\n").count ?? 0
    }

    /// Takes the `busy` module's only connection slot (rsync's claim_connection locks
    /// 4 bytes per slot in the lock file), so the daemon turns clients away.
    func holdBusy() throws {
        let fd = open(busyLock, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw HarnessError("cannot open \(busyLock)") }
        var lock = flock()
        lock.l_type = Int16(F_WRLCK)
        lock.l_whence = Int16(SEEK_SET)
        lock.l_start = 0
        lock.l_len = 4
        guard fcntl(fd, F_SETLK, &lock) == 0 else { close(fd); throw HarnessError("cannot lock \(busyLock)") }
        heldLock = fd
    }

    func releaseBusy() {
        if heldLock >= 0 { close(heldLock) }
        heldLock = -1
    }
}
