import Foundation

/// How a child process of sigctl ended.
public struct ChildResult: Sendable {
    public var status: Int32
    /// True when it was killed by a signal (including sigctl's own time-out kill).
    public var signalled: Bool
    public var timedOut: Bool
    public var output: Data
}

/// Runs `sigctl` itself (or another program) as a child with a time limit.
/// The child's stdout goes to a file in `scratch` and is returned; stderr is dropped.
public enum Child {
    public static func run(_ executable: String, _ arguments: [String], timeout: Int, scratch: String) throws -> ChildResult {
        try Files.makeDirectory(scratch)
        let output = scratch + "/child-output-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: output, contents: nil)
        defer { unlink(output) }
        guard let handle = FileHandle(forWritingAtPath: output) else { throw SystemError.errno("open", path: output) }
        defer { try? handle.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = handle
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        let done = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in done.signal() }
        try process.run()
        var timedOut = false
        if done.wait(timeout: .now() + .seconds(timeout)) == .timedOut {
            timedOut = true
            kill(process.processIdentifier, SIGKILL)
            done.wait()
        }
        return ChildResult(status: process.terminationStatus, signalled: process.terminationReason == .uncaughtSignal,
                           timedOut: timedOut, output: FileManager.default.contents(atPath: output) ?? Data())
    }
}
