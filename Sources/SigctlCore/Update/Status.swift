import Foundation

public struct StatusFile: Codable, Sendable {
    public var name: String
    public var risk: String
    public var enabled: Bool
    public var installed: Bool
    public var signatures: Int?
    public var size: Int64?
    public var lastChange: Date?
    public var lastError: String?
}

/// One official database as it is live now.
public struct StatusDatabase: Codable, Sendable {
    public var name: String
    public var file: String?
    public var version: Int?
    public var signatures: Int?
    public var built: Date?
}

/// The publisher's set a gateway installed (`kind = "sigctl"`).
public struct StatusPublication: Codable, Sendable {
    /// The publisher's generation and when it published it.
    public var generation: Int
    public var publishedAt: Date
    public var publisher: String
    public var libclamav: String
    /// The set this host installed it in (the local generation).
    public var localGeneration: Int?
}

public struct StatusFeed: Codable, Sendable {
    public var name: String
    /// For official feeds: each database's live version, signature count and build time.
    public var databases: [StatusDatabase]?
    /// For official feeds: the mirror's cool-down, if one is running.
    public var coolDownUntil: Date?
    public var enabled: Bool
    public var interval: Int
    public var lastCheck: Date?
    public var lastChange: Date?
    /// The last check that ended without a problem.
    public var lastSuccess: Date?
    /// When the newest signatures of this feed were made: for official feeds the newest
    /// database's build time, else the last time one of its files changed.
    public var newest: Date?
    /// When the next run will really ask a mirror: the interval, a back-off from every
    /// mirror, and a cool-down all count.
    public var nextCheck: Date?
    public var backoff: [StatusBackoff]
    public var lastError: String?
    /// Problems recorded since the state began, by cause (network, http, integrity, …).
    public var errorTotals: [String: Int]
    public var files: [StatusFile]
    /// For `kind = "sigctl"` feeds: the publisher's set installed here.
    public var publication: StatusPublication? = nil
}

/// A mirror host sigctl sends nothing to until `until`, because it answered `httpStatus`.
public struct StatusBackoff: Codable, Sendable {
    public var host: String
    public var until: Date
    public var httpStatus: Int
    /// What the host said when it is not an HTTP server (rsync's "max connections reached").
    public var reason: String?

    public var text: String { "\(host) until \(Timestamp.text(until)) (\(reason ?? "HTTP \(httpStatus)"))" }
}

public struct StatusLive: Codable, Sendable {
    public var generation: Int
    public var installedAt: Date
    public var signatures: Int
    public var confirmed: Bool
    public var confirmedAt: Date?
    public var canary: String
    /// Whether clamd serves this set's canary right now (nil: not asked).
    public var clamdServesItNow: Bool?
}

public struct StatusReport: Codable, Sendable {
    public var databaseDir: String
    public var stateDir: String
    public var clamd: String
    public var clamdVersion: String?
    public var clamdError: String?
    public var live: StatusLive?
    public var generations: [Int]
    public var feeds: [StatusFeed]
    public var lastRun: Date?
    /// The last update run's exit code (nil before the first).
    public var lastExitCode: Int32?
    /// The last run that exited 0.
    public var lastSuccess: Date?
    /// How long clamd took to show the last set it confirmed.
    public var reloadSeconds: Double?
    /// Reloads clamd did not confirm, since the state began.
    public var reloadFailures: Int
    /// Signatures allowed with `sigctl allow`.
    public var allowed: [String: AllowEntry]
    public var warnings: [String]
    /// The verdict `sigctl check` gives with its default thresholds (set by `status`).
    public var health: HealthReport?
    /// Detections per feed in the last 24 hours of the mail logs (set by `status`).
    public var hits: RecentHits?

    /// Reads state (no lock: status is read-only) and, with `askClamd`, asks clamd
    /// whether it serves the live canary.
    public static func gather(context: SigctlContext, config: Configuration, askClamd: Bool = true) throws -> StatusReport {
        gather(context: context, config: config, state: try StateStore(directory: config.settings.stateDir).load(), askClamd: askClamd)
    }

    /// The report for a state already in hand (a run that just saved it).
    public static func gather(context: SigctlContext, config: Configuration, state: State, askClamd: Bool = true) -> StatusReport {
        let layout = Layout(settings: config.settings)
        var warnings: [String] = []
        if let since = state.memoryFallbackSince {
            warnings.append("since \(Timestamp.text(since)), updates check only the changed files plus the canary: a whole-set check does not fit the memory budget (memory_budget; `sigctl update --json` says why)")
        }
        if !config.clamd.concurrentDatabaseReload {
            warnings.append("\(config.clamd.path) has ConcurrentDatabaseReload no: clamd stops scanning while it reloads, and a reload that fails leaves it with no engine; set it to yes")
        }
        var report = StatusReport(databaseDir: config.settings.databaseDir, stateDir: config.settings.stateDir,
                                  clamd: config.clamdAddress.map { "\($0)" } ?? "none", live: nil,
                                  generations: layout.generations.all().filter(\.status.isKept).map(\.id), feeds: [],
                                  lastRun: state.lastRun,
                                  lastExitCode: state.lastExitCode, lastSuccess: state.lastSuccess,
                                  reloadSeconds: state.lastReloadSeconds, reloadFailures: state.reloadFailures ?? 0, allowed: state.allowed ?? [:],
                                  warnings: warnings)
        let clamd = askClamd ? config.clamdAddress.map { context.clamd($0) } : nil
        if let clamd {
            do {
                report.clamdVersion = try clamd.version(deadline: context.clock.now().addingTimeInterval(10))
            } catch {
                report.clamdError = "\(error)"
            }
        }
        if let live = state.live {
            var entry = StatusLive(generation: live.generation, installedAt: live.installedAt, signatures: live.signatures,
                                   confirmed: live.confirmed, confirmedAt: live.confirmedAt, canary: live.canaryName)
            if report.clamdVersion != nil, let clamd,
               let canary = layout.canary(named: live.canaryName, generation: live.generation, mail: config.clamd.scanMail) {
                entry.clamdServesItNow = try? ReloadProver(clamd: clamd, clock: context.clock, timeout: 10).serves(canary)
            }
            report.live = entry
        }
        let now = context.clock.now()
        let present = Set(Files.list(config.settings.databaseDir))
        for feed in config.feeds {
            let feedState = state.feeds[feed.name]
            let hosts = Set(feed.usedMirrors.map(Fetcher.host(of:))).sorted()
            let backoffs = hosts.compactMap { host in state.backoff(forHost: host, now: now).map { (host, $0) } }
            let backoff = backoffs.map { StatusBackoff(host: $0.0, until: $0.1.until, httpStatus: $0.1.status, reason: $0.1.reason) }
            var files = feed.files.map { file in
                let fileState = feedState?.files[file.name]
                return StatusFile(name: file.name, risk: file.risk.rawValue, enabled: file.enabled,
                                  installed: state.live?.owned.contains(file.name) ?? false,
                                  signatures: fileState?.signatures, size: fileState?.size,
                                  lastChange: fileState?.lastChange, lastError: fileState?.lastError)
            }
            if feed.publication {
                files = (feedState?.files ?? [:]).filter { state.live?.owned.contains($0.key) == true }.sorted { $0.key < $1.key }.map { name, fileState in
                    StatusFile(name: name, risk: Risk.low.rawValue, enabled: true, installed: true, signatures: fileState.signatures,
                               size: fileState.size, lastChange: fileState.lastChange, lastError: fileState.lastError)
                }
            }
            var databases: [StatusDatabase]? = nil
            if let official = feed.official {
                databases = official.databases.map { database in
                    let file = OfficialSettings.fileNames(database).first { Files.exists(config.settings.databaseDir + "/" + $0) }
                    let header = file.flatMap { CVDHeader.read(config.settings.databaseDir + "/" + $0) }
                    return StatusDatabase(name: database, file: file, version: header?.version, signatures: header?.signatures, built: header?.built)
                }
                if let daily = databases?.first(where: { $0.name == "daily" }), let built = daily.built,
                   now.timeIntervalSince(built) > 3 * 86_400 {
                    report.warnings.append("\(feed.name): daily was built \(Int(now.timeIntervalSince(built) / 86_400)) days ago; it should change several times a day, so updates are not arriving")
                }
            }
            let coolDown = state.coolDowns?[feed.name].flatMap { $0 > now ? $0 : nil }
            // A publisher's set is as fresh as its manifest: a server stuck on an old one ages.
            let newest = databases?.compactMap(\.built).max() ?? feedState?.publication?.publishedAt
                ?? feedState?.files.values.compactMap(\.lastChange).max() ?? feedState?.lastChange
            report.feeds.append(StatusFeed(name: feed.name, databases: databases, coolDownUntil: coolDown,
                                           enabled: feed.enabled, interval: feed.interval,
                                           lastCheck: feedState?.lastCheck, lastChange: feedState?.lastChange,
                                           lastSuccess: feedState?.lastSuccess, newest: newest,
                                           nextCheck: feed.enabled ? FeedSchedule.nextCheck(feed, state: state, present: present, now: now) : nil,
                                           backoff: backoff, lastError: feedState?.lastError,
                                           errorTotals: feedState?.errorTotals ?? [:], files: files,
                                           publication: feedState?.publication.map { publication in
                                               StatusPublication(generation: publication.generation, publishedAt: publication.publishedAt,
                                                                 publisher: publication.publisher, libclamav: publication.libclamav,
                                                                 localGeneration: state.live?.generation)
                                           }))
        }
        return report
    }
}
