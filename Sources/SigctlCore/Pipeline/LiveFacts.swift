import Foundation

/// What a file sigctl installed looks like now.
public enum LiveCondition: String, Sendable, Codable {
    case intact
    /// Deleted by hand.
    case missing
    /// Its bytes no longer have the sha256 recorded at install.
    case modified
}

/// What the planner needs to know about the database directory, gathered once
/// before planning (the only part of planning that reads the disk).
public struct LiveFacts: Sendable {
    /// Database files in the database directory now.
    public var present: Set<String> = []
    /// sigctl-owned files that are not as installed.
    public var damaged: [String: LiveCondition] = [:]
    /// Owned files whose copy in the live kept set has the recorded sha256 (a repair source).
    public var keptCopies: [String: String] = [:]
    /// Set when a freshclam also updates the database directory.
    public var freshclamConflict: String?

    public init() {}

    /// Reads the database directory and checks each owned file against its record:
    /// the `stat` stamp first, the sha256 only when the stamp changed.
    public static func gather(layout: Layout, state: State, checkFreshclam: Bool) -> LiveFacts {
        var facts = LiveFacts()
        facts.present = Set(Files.list(layout.databaseDir).filter(isDatabaseFile))
        let live = state.live
        for name in live?.owned ?? [] where name != canaryFileName {
            guard let record = state.record(of: name)?.file, let sha256 = record.sha256 else { continue }
            let path = layout.live(name)
            guard let stamp = FileStamp.read(path) else {
                facts.damaged[name] = .missing
                continue
            }
            if stamp != record.stamp, (try? ClamAV.hashFile("sha256", path: path)) != sha256 {
                facts.damaged[name] = .modified
            }
        }
        if let live {
            let dir = layout.generations.directory(live.generation)
            for name in facts.damaged.keys {
                let kept = dir + "/" + name
                if let sha256 = state.record(of: name)?.file.sha256, (try? ClamAV.hashFile("sha256", path: kept)) == sha256 {
                    facts.keptCopies[name] = kept
                }
            }
        }
        if checkFreshclam {
            facts.freshclamConflict = FreshclamDetector.conflict(databaseDir: layout.databaseDir)
        }
        return facts
    }
}
