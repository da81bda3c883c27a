import Foundation

/// Configuration warnings in unattended runs: printed when they appear or change, and
/// once a day while they last, not on every cron run. Kept in the state directory.
public struct WarningMemory {
    /// A digest of the warnings, not their text: they may quote a URL with a secret in it.
    struct Saved: Codable {
        var digest: UInt64
        var printed: Date
    }

    let path: String

    public init(stateDir: String) { path = stateDir + "/config-warnings.json" }

    /// Whether `warnings` are new, changed, or were last printed a day ago.
    public func isDue(_ warnings: [String], now: Date) -> Bool {
        guard !warnings.isEmpty else { return false }
        guard let data = FileManager.default.contents(atPath: path),
              let saved = try? JSONDecoder.sigctl.decode(Saved.self, from: data) else { return true }
        return saved.digest != Self.digest(warnings) || now.timeIntervalSince(saved.printed) >= 86_400
    }

    /// Notes that `warnings` were printed at `now` (after the run, when the state
    /// directory exists); no warnings clears the memory.
    public func remember(_ warnings: [String], printedAt now: Date) {
        guard !warnings.isEmpty else { return Files.remove(path) }
        if let data = try? JSONEncoder.sigctl.encode(Saved(digest: Self.digest(warnings), printed: now)) {
            try? Files.writeAtomically(data, to: path, mode: 0o600)
        }
    }

    static func digest(_ warnings: [String]) -> UInt64 {
        var bytes = Array(warnings.joined(separator: "\n").utf8)
        return bytes.withUnsafeMutableBufferPointer { LineReader.hash(UnsafeBufferPointer($0)) }
    }
}
