import Foundation

/// Starts a helper from Tests/Support that listens on 127.0.0.1 and then announces
/// "…:PORT" as its first line on stderr; returns once it has said so.
func startAnnounced(_ script: String, _ arguments: [String]) throws -> (Process, Int) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    process.arguments = [Paths.packageRoot + "/Tests/Support/" + script] + arguments
    process.standardOutput = FileHandle.nullDevice
    let announcement = Pipe()
    process.standardError = announcement
    try process.run()
    var line = Data()
    while let byte = try announcement.fileHandleForReading.read(upToCount: 1), !byte.isEmpty, byte != Data("\n".utf8) {
        line.append(byte)
    }
    // Whatever it writes later (a traceback from a dropped connection) is read and dropped,
    // so it never blocks on a full pipe or writes into a closed one.
    announcement.fileHandleForReading.readabilityHandler = { handle in
        if handle.availableData.isEmpty { handle.readabilityHandler = nil }
    }
    let text = String(decoding: line, as: UTF8.self)
    guard let port = text.split(separator: ":").last.flatMap({ Int($0.filter(\.isNumber)) }) else {
        stopProcess(process)
        throw HarnessError("\(script) did not start: \(text)")
    }
    return (process, port)
}
