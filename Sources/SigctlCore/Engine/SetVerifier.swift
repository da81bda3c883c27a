import Foundation

/// How far verification got.
public enum VerifyStage: String, Codable, Sendable {
    case load, compile, canary
    /// The child crashed, was killed, timed out or could not start.
    case child
    /// Nothing was left to verify.
    case none
}

/// What the verification child found. Printed by the child as JSON on stdout.
public struct VerifyReport: Codable, Sendable {
    public var ok: Bool
    public var stage: VerifyStage
    public var signatures: Int
    public var error: String?
    /// libclamav's own error and warning lines (they name the file and line).
    public var messages: [String]
    public var loadSeconds: Double
    public var compileSeconds: Double
    /// Peak resident memory of the child, in KiB.
    public var peakRSSKiB: Int
    /// What the engine reported for the canary blob, when one was given.
    public var canaryVerdict: String?
    /// Signatures libclamav loaded from each file of the set, counted during the one load
    /// (nil with a libclamav whose directory-load order sigctl does not know).
    public var fileCounts: [String: Int]? = nil
    /// The user the child loaded the set as.
    public var uid: UInt32? = nil

    /// Set by the parent when the child ran out of memory: libclamav could not allocate
    /// under the limit, or the child died the way a load past its limit dies.
    public var exhausted: Bool? = nil

    /// The child ran out of memory (its address-space limit, or a kill).
    public var outOfMemory: Bool { exhausted ?? false }

    /// One line for the admin: the error plus libclamav's lines that say where.
    public var summary: String {
        var text = error ?? "failed"
        let detail = messages.filter { $0.hasPrefix("error:") }.map { String($0.dropFirst(7)) }.prefix(3)
        if !detail.isEmpty { text += " — libclamav: " + detail.joined(separator: "; ") }
        return text
    }
}

/// The code that runs inside the verification child (`sigctl __verify-set`).
public enum VerifyChild {
    /// Loads `directory` exactly as clamd would (the files `cl_load(directory)` loads, in
    /// its order, with clamd.conf's flags, into one engine), compiles the engine, and scans
    /// the canary blob if one is given. Each file's signature count comes from that one load.
    /// - Parameter liveDirectory: the directory clamd loads (libclamav's rules look at its path).
    public static func run(directory: String, options: LoadOptions, memoryLimit: Int64,
                           canaryBlob: String?, canaryName: String?, liveDirectory: String? = nil,
                           runAs: (uid: uid_t, gid: gid_t)? = nil, failpoints: Failpoints = Failpoints()) -> VerifyReport {
        if let problem = ChildSetup.enter(runAs: runAs, memoryLimit: memoryLimit) {
            return VerifyReport(ok: false, stage: .child, signatures: 0, error: problem,
                                messages: [], loadSeconds: 0, compileSeconds: 0, peakRSSKiB: 0, canaryVerdict: nil)
        }
        var report = VerifyReport(ok: false, stage: .load, signatures: 0, error: nil, messages: [],
                                  loadSeconds: 0, compileSeconds: 0, peakRSSKiB: 0, canaryVerdict: nil)
        report.uid = UInt32(getuid())
        do {
            let engine = try ClamEngine()
            let loadStart = Date()
            do {
                report.fileCounts = try engine.loadDirectory(directory, options: options, liveDirectory: liveDirectory ?? directory)
            } catch let error as ClamAVError {
                report.loadSeconds = Date().timeIntervalSince(loadStart)
                report.error = "libclamav could not load the set: \(error.reason)"
                report.messages = Array(error.messages.prefix(50))
                report.peakRSSKiB = peakRSS()
                return report
            }
            report.loadSeconds = Date().timeIntervalSince(loadStart)
            report.signatures = Int(engine.signatures)
            report.messages = Array(engine.takeWarnings().prefix(50))
            report.stage = .compile
            let compileStart = Date()
            do {
                try engine.compile()
            } catch let error as ClamAVError {
                report.compileSeconds = Date().timeIntervalSince(compileStart)
                report.error = "libclamav could not compile the set: \(error.reason)"
                report.messages += error.messages.prefix(50)
                report.peakRSSKiB = peakRSS()
                return report
            }
            report.compileSeconds = Date().timeIntervalSince(compileStart)
            try failpoints.reach("verify-child.compiled")
            if let canaryBlob, let canaryName {
                report.stage = .canary
                let verdict = try engine.scanFile(canaryBlob)
                report.canaryVerdict = verdict
                guard let verdict, definedName(verdict) == canaryName else {
                    report.error = "the set loads, but the engine does not find sigctl's canary in the attachment of a test mail (it reported \(verdict ?? "clean")); something in the set stops clamd from scanning mail"
                    report.peakRSSKiB = peakRSS()
                    return report
                }
            }
            report.ok = true
        } catch {
            report.error = "\(error)"
        }
        report.peakRSSKiB = peakRSS()
        return report
    }

    static func peakRSS() -> Int { ChildSetup.peakRSS() }
}

/// Runs the verification child and turns whatever happens to it into a report.
/// A crash, an out-of-memory kill or a time-out is a failed verification, never a crash of sigctl.
public struct SetVerifier: Sendable {
    public var context: SigctlContext
    public var memoryLimit: Int64
    public var timeout: Int
    public var options: LoadOptions
    /// Who the child parses the set as when sigctl runs as root (the database directory's owner).
    public var runAs: (uid: uid_t, gid: gid_t)?
    /// The directory clamd loads, when the set verified is a copy of it.
    public var liveDirectory: String?
    /// The setting `memoryLimit` comes from, for the messages.
    public var limitName: String

    public init(context: SigctlContext, memoryLimit: Int64, timeout: Int, options: LoadOptions,
                runAs: (uid: uid_t, gid: gid_t)? = nil, liveDirectory: String? = nil, limitName: String = "verify_memory_limit") {
        self.liveDirectory = liveDirectory
        self.limitName = limitName
        self.context = context
        self.memoryLimit = memoryLimit
        self.timeout = timeout
        self.options = options
        self.runAs = runAs
    }

    /// The owner of `directory`, when sigctl runs as root and it is not root.
    public static func unprivilegedOwner(of directory: String) -> (uid: uid_t, gid: gid_t)? {
        var st = stat()
        guard geteuid() == 0, stat(directory, &st) == 0, st.st_uid != 0 else { return nil }
        return (st.st_uid, st.st_gid)
    }

    /// The path of the running binary (`/proc/self/exe`).
    public static var currentExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    public func verify(directory: String, canary: Canary? = nil, scratch: String) -> VerifyReport {
        var arguments = ["__verify-set", "--dir", directory, "--memory-limit", String(memoryLimit)]
        if let liveDirectory { arguments += ["--live-dir", liveDirectory] }
        let optionsJSON = (try? String(decoding: JSONEncoder().encode(options), as: UTF8.self)) ?? "{}"
        arguments += ["--options", optionsJSON]
        if let runAs { arguments += ["--run-as", "\(runAs.uid):\(runAs.gid)"] }
        if let canary {
            let probePath = scratch + "/canary.eml"
            do {
                try Files.makeDirectory(scratch)
                chmod(scratch, 0o755)
                try Files.writeAtomically(canary.probe, to: probePath, mode: 0o644)
            } catch {
                return failure("cannot write the canary sample: \(error)")
            }
            arguments += ["--canary-blob", probePath, "--canary-name", canary.name]
        }
        let result: ChildResult
        do {
            result = try context.runner.run(context.executable, arguments, timeout: timeout, scratch: scratch)
        } catch {
            return failure("cannot start the verification child \(context.executable): \(error)")
        }
        if result.timedOut {
            return failure("verification did not finish within \(DurationParser.format(timeout)); raise verify_timeout if this host is slow")
        }
        if var report = try? JSONDecoder().decode(VerifyReport.self, from: result.output) {
            let text = ((report.error ?? "") + report.messages.joined()).lowercased()
            if !report.ok, memoryLimit > 0, text.contains("memory") || text.contains("allocate") {
                report.error = (report.error ?? "failed") + " (out of memory under \(limitName) = \(memoryLimit >> 20) MiB; raise it if the set is large)"
                report.exhausted = true
            }
            return report
        }
        let stderr = result.errorTail.isEmpty ? "" : "; its stderr: \(result.errorTail)"
        if result.signalled {
            let signal = result.status
            let likelyMemory = [SIGKILL, SIGSEGV, SIGABRT, SIGTRAP, SIGILL].contains(signal)
            let hint = likelyMemory ? " (often out of memory: the limit is \(limitName) = \(memoryLimit >> 20) MiB)" : ""
            var report = failure("the verification child was killed by signal \(signal) while loading the set\(hint)\(stderr)")
            report.exhausted = likelyMemory && memoryLimit > 0
            return report
        }
        return failure("the verification child exited with status \(result.status) and no report\(stderr)")
    }

    private func failure(_ message: String) -> VerifyReport {
        VerifyReport(ok: false, stage: .child, signatures: 0, error: message, messages: [],
                     loadSeconds: 0, compileSeconds: 0, peakRSSKiB: 0, canaryVerdict: nil)
    }
}
