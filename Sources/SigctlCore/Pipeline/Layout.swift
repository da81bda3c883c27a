import Foundation

/// Where sigctl keeps things, derived from the settings.
public struct Layout: Sendable {
    public let databaseDir: String
    public let stateDir: String

    public init(settings: Settings) {
        databaseDir = settings.databaseDir
        stateDir = settings.stateDir
    }

    public var staging: String { stateDir + "/staging" }
    public var generations: Generations { Generations(stateDir: stateDir) }
    public var canaryDir: String { stateDir + "/canary" }
    /// A canary's payload, by the canary's name (a set's canary changes on reload).
    public func canaryPayload(_ name: String) -> String { canaryDir + "/\(name).bin" }

    /// The canary of a set: its payload by name, or (sets from before payloads were named) by generation.
    public func canary(named name: String, generation: Int, mail: Bool) -> Canary? {
        Canary.read(name: name, payloadPath: canaryPayload(name), mail: mail)
            ?? Canary.read(name: name, payloadPath: canaryDir + "/\(generation).bin", mail: mail)
    }
    /// Unchanged containers' context files, kept for the corpus comparison's small engines.
    public var corpusCache: String { stateDir + "/corpus-cache" }
    /// `explain`'s name index of each live database file (`<file>.idx`).
    public var nameIndexes: String { stateDir + "/index" }
    public var freshclamDat: String { stateDir + "/freshclam.dat" }
    public func live(_ name: String) -> String { databaseDir + "/" + name }
}

/// What the admin asked `update` (or `allow`) to do.
public struct UpdateOptions: Sendable {
    /// Only these feeds (and ignore their interval). Empty: every enabled feed that is due.
    public var feeds: [String] = []
    /// Accept count collapses and ignore stored validators.
    public var force = false
    /// Seconds to wait before taking the lock and sending any request.
    public var sleepSeconds = 0
    /// False for `sigctl allow`: change only sigctl's own allow list, fetch nothing.
    public var fetch = true
    /// Signatures to add to / remove from the allow list in this run.
    public var allow: [String: AllowEntry] = [:]
    public var disallow: [String] = []

    public init() {}
}
