import Foundation

/// How a child process of sigctl ended.
public struct ChildResult: Sendable {
    public var status: Int32
    /// True when it was killed by a signal (including sigctl's own time-out kill).
    public var signalled: Bool
    public var timedOut: Bool
    public var output: Data
    /// The last lines the child wrote on stderr, for the error message.
    public var errorTail: String
    /// Everything it wrote on stderr, up to 64 KiB (for tools whose errors name files).
    public var errors: String

    public init(status: Int32, signalled: Bool, timedOut: Bool, output: Data, errorTail: String = "", errors: String = "") {
        self.status = status
        self.signalled = signalled
        self.timedOut = timedOut
        self.output = output
        self.errorTail = errorTail
        self.errors = errors
    }
}

/// Starts child processes. Injected so that stages that run children can be tested without them.
public protocol ProcessRunner: Sendable {
    /// Runs `executable` to completion or until `timeout` seconds pass, then kills its whole
    /// process group. `environment` is added to sigctl's own.
    func run(_ executable: String, _ arguments: [String], environment: [String: String], timeout: Int, scratch: String) throws -> ChildResult
}

extension ProcessRunner {
    /// With sigctl's own environment.
    public func run(_ executable: String, _ arguments: [String], timeout: Int, scratch: String) throws -> ChildResult {
        try run(executable, arguments, environment: [:], timeout: timeout, scratch: scratch)
    }
}

/// The real runner: `posix_spawn` into a process group of the child's own, stdout and
/// stderr to files in `scratch`. sigctl's own children (`__verify-set`, `__freshclam`)
/// also ask the kernel to kill them when their parent dies (see `ChildGuard`), so a
/// `kill -9` of sigctl never leaves a libclamav load running behind it.
public struct SpawnRunner: ProcessRunner {
    public init() {}

    public func run(_ executable: String, _ arguments: [String], environment extra: [String: String],
                    timeout: Int, scratch: String) throws -> ChildResult {
        try Files.makeDirectory(scratch)
        let base = scratch + "/child-\(UUID().uuidString)"
        defer {
            unlink(base + ".out")
            unlink(base + ".err")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, base + ".out", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, base + ".err", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)

        var environment = ProcessInfo.processInfo.environment.merging(extra) { $1 }
        environment[ChildGuard.parentKey] = String(getpid())
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard rc == 0 else { throw SystemError(call: "posix_spawn", path: executable, code: rc) }

        // waitpid on a thread of its own; the caller waits with a deadline.
        final class Exit: @unchecked Sendable { var status: Int32 = 0 }
        let exit = Exit()
        let done = DispatchSemaphore(value: 0)
        let child = pid
        Thread {
            var status: Int32 = 0
            while waitpid(child, &status, 0) < 0 && errno == EINTR {}
            exit.status = status
            done.signal()
        }.start()
        var timedOut = false
        if done.wait(timeout: .now() + .seconds(timeout)) == .timedOut {
            timedOut = true
            kill(-pid, SIGKILL)
            done.wait()
        }
        let status = exit.status
        let signalled = (status & 0x7f) != 0 && (status & 0x7f) != 0x7f
        let code = signalled ? status & 0x7f : (status >> 8) & 0xff
        let errors = FileManager.default.contents(atPath: base + ".err") ?? Data()
        let tail = String(decoding: errors.suffix(2048), as: UTF8.self)
            .split(separator: "\n").suffix(3).joined(separator: " | ")
        return ChildResult(status: code, signalled: signalled, timedOut: timedOut,
                           output: FileManager.default.contents(atPath: base + ".out") ?? Data(), errorTail: tail,
                           errors: String(decoding: errors.prefix(64 << 10), as: UTF8.self))
    }
}

/// What sigctl's own children do first: die with the parent that started them.
public enum ChildGuard {
    static let parentKey = "SIGCTL_PARENT_PID"

    /// Sets the parent-death signal; if the parent is already gone, exits at once.
    public static func dieWithParent() {
        ClamAV.setParentDeathSignal()
        if let expected = ProcessInfo.processInfo.environment[parentKey].flatMap(Int32.init), getppid() != expected {
            _exit(137)
        }
    }
}
