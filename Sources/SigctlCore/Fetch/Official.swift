import Foundation

/// What happened to one official database in a run.
public struct OfficialOutcome: Sendable {
    public var database: String
    public var status: ItemStatus
    /// New or changed files: name in the database directory → staged path.
    public var newFiles: [String: String] = [:]
    /// Live files of this database that the update replaced under another name (daily.cvd → daily.cld).
    public var removed: [String] = []
    public var message: String?
}

/// Fetches ClamAV's official databases with libfreshclam, in a child process, into
/// a staging directory that starts as hard links of the live official files. The
/// live directory is never written by libfreshclam; libfreshclam's own state
/// (freshclam.dat: its client UUID and the mirrors' cool-down) lives in state_dir.
public struct OfficialFetcher {
    let settings: Settings
    let feed: Feed
    let official: OfficialSettings
    let context: SigctlContext

    public init(settings: Settings, feed: Feed, context: SigctlContext) {
        self.settings = settings
        self.feed = feed
        self.official = feed.official ?? OfficialSettings()
        self.context = context
    }

    var staging: String { settings.stateDir + "/staging/official-\(feed.name)" }
    public var datPath: String { settings.stateDir + "/freshclam.dat" }

    /// Runs libfreshclam for `databases`. Returns the outcomes and the cool-down end, if the mirrors set one.
    public func run(databases: [String]) -> ([OfficialOutcome], coolDownUntil: Date?) {
        let dbDir = staging + "/db"
        do {
            Files.remove(staging)
            try Files.makeDirectory(dbDir)
            try Files.makeDirectory(staging + "/tmp")
            for database in databases {
                for name in OfficialSettings.fileNames(database) where Files.exists(settings.databaseDir + "/" + name)
                    && !withheld(name) {
                    try Files.linkOrCopy(settings.databaseDir + "/" + name, to: dbDir + "/" + name)
                }
            }
            if Files.exists(datPath) {
                try Files.copy(datPath, to: dbDir + "/freshclam.dat")
            } else if Files.exists(settings.databaseDir + "/freshclam.dat") {
                // Moving from freshclam: keep its client id and any cool-down the CDN set.
                try Files.copy(settings.databaseDir + "/freshclam.dat", to: dbDir + "/freshclam.dat")
                context.log.info("\(feed.name): carried freshclam's freshclam.dat (client id and cool-down) over to \(datPath)")
            }
        } catch {
            return (databases.map { OfficialOutcome(database: $0, status: .failed, message: "cannot stage the official files: \(error)") }, nil)
        }
        let before = snapshot(dbDir)
        let request = FreshclamRequest(databaseDirectory: dbDir, tempDirectory: staging + "/tmp", logFile: staging + "/freshclam.log",
                                       databases: databases, servers: feed.mirrors, privateMirror: official.privateMirror,
                                       dns: official.dns, connectTimeout: settings.connectTimeout,
                                       requestTimeout: settings.stallTimeout, proxy: settings.proxy?.url,
                                       scriptedUpdates: official.scriptedUpdates)
        let report: FreshclamReport
        do {
            // Through a 0600 file, not argv: /proc/*/cmdline is readable by every user, and a
            // private mirror's URL may carry credentials.
            let requestPath = staging + "/request.json"
            try Files.writeAtomically(try JSONEncoder().encode(request), to: requestPath, mode: 0o600)
            let result = try context.runner.run(context.executable, ["__freshclam", "--request-file", requestPath],
                                                timeout: max(settings.verifyTimeout, 1800), scratch: staging)
            if result.timedOut { throw CommandError("libfreshclam did not finish within \(max(settings.verifyTimeout, 1800))s") }
            guard let decoded = try? JSONDecoder().decode(FreshclamReport.self, from: result.output) else {
                let how = result.signalled ? "was killed by signal \(result.status)" : "ended with status \(result.status)"
                throw CommandError("the libfreshclam child \(how) and gave no report" + (result.errorTail.isEmpty ? "" : " (stderr: \(result.errorTail))"))
            }
            report = decoded
        } catch {
            return (databases.map { OfficialOutcome(database: $0, status: .failed, message: "\(error)") }, nil)
        }
        // Keep libfreshclam's state whatever happened: it holds the cool-down.
        if Files.exists(dbDir + "/freshclam.dat") {
            try? Files.writeAtomically(FileManager.default.contents(atPath: dbDir + "/freshclam.dat") ?? Data(), to: datPath)
        }
        let coolDown = Self.coolDown(datPath)
        if let error = report.error {
            return (databases.map { OfficialOutcome(database: $0, status: .failed, message: error) }, coolDown)
        }
        let after = snapshot(dbDir)
        let logLines = errorLines(staging + "/freshclam.log")
        var outcomes: [OfficialOutcome] = []
        for result in report.results {
            var outcome = OfficialOutcome(database: result.database, status: .unchanged)
            for name in OfficialSettings.fileNames(result.database) {
                switch (before[name], after[name]) {
                case (let old, .some(let new)) where old != new: outcome.newFiles[name] = dbDir + "/" + name
                case (.some, .none): outcome.removed.append(name)
                default: break
                }
            }
            if let until = coolDown, until > context.clock.now(), result.coolDown || !Freshclam.succeeded(result) {
                outcome.status = .not_due
                outcome.newFiles = [:]
                outcome.removed = []
                outcome.message = "the mirror put this client on cool-down until \(Timestamp.text(until)); no request goes out before then"
            } else if !Freshclam.succeeded(result) {
                outcome.status = .failed
                outcome.newFiles = [:]
                outcome.removed = []
                // The first error names the cause; later ones only say that the update failed.
                let detail = logLines.first { $0.hasPrefix("ERROR") && !$0.contains("Update failed for database") }
                outcome.message = "libfreshclam: \(result.message)" + (detail.map { " (\($0))" } ?? "")
                    + "; the installed version stays; if the mirror keeps serving this, check it (a private mirror may be mid-sync)"
            } else if !outcome.newFiles.isEmpty {
                outcome.status = .updated
                // The whole CVD that takes the place of a CLD left out of staging; never an
                // older one (a mirror behind the cdiffs already applied here).
                let cld = result.database + ".cld"
                if let cvd = outcome.newFiles[result.database + ".cvd"], withheld(cld), Files.exists(settings.databaseDir + "/" + cld) {
                    let (whole, patched) = (DirectoryLoad.version(cvd) ?? 0, DirectoryLoad.version(settings.databaseDir + "/" + cld) ?? 0)
                    if whole >= patched {
                        outcome.removed.append(cld)
                    } else {
                        outcome = OfficialOutcome(database: result.database, status: .not_due,
                                                  message: "the mirror's whole \(result.database).cvd is version \(whole), older than the installed \(cld) (\(patched)); the CLD stays until the mirror catches up")
                    }
                }
            }
            outcomes.append(outcome)
        }
        return (outcomes, coolDown)
    }

    /// A CLD is left out of staging when whole CVDs are wanted: libfreshclam then finds
    /// no local version and downloads the signed CVD once, instead of keeping a patched
    /// CLD until upstream's next version (for main, months).
    func withheld(_ name: String) -> Bool {
        !official.scriptedUpdates && name.hasSuffix(".cld")
    }

    /// Inode and size of each file: libfreshclam replaces a file, it never edits one in place.
    func snapshot(_ directory: String) -> [String: String] {
        var result: [String: String] = [:]
        for name in Files.list(directory) {
            var st = stat()
            if stat(directory + "/" + name, &st) == 0 { result[name] = "\(st.st_ino):\(st.st_size):\(st.st_mtim.tv_sec)" }
        }
        return result
    }

    func errorLines(_ path: String) -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n")
            .filter { $0.contains("ERROR") || $0.contains("WARNING") || $0.contains("cool-down") }
            .map { line in
                // "Sun Nov 22 22:41:52 2026 -> ERROR: ..." → "ERROR: ..."
                let text = line.range(of: "-> ").map { String(line[$0.upperBound...]) } ?? String(line)
                return text.trimmingCharacters(in: .whitespaces)
            }
    }

    /// The cool-down end libfreshclam recorded in freshclam.dat (format v1: magic
    /// "FreshClamData", then uint32 version, char uuid[37], time_t retry_after at offset 61).
    public static func coolDown(_ path: String) -> Date? {
        guard let data = FileManager.default.contents(atPath: path), data.count >= 69,
              String(decoding: data.prefix(13), as: UTF8.self) == "FreshClamData",
              data[data.startIndex + 13] == 1 else { return nil }
        var value: Int64 = 0
        for (index, byte) in data[(data.startIndex + 61)..<(data.startIndex + 69)].enumerated() {
            value |= Int64(byte) << (8 * Int64(index))
        }
        return value > 0 ? Date(timeIntervalSince1970: TimeInterval(value)) : nil
    }
}
