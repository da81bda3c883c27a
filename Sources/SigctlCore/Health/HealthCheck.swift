import Foundation

/// Nagios/Icinga plugin states, which are also `sigctl check`'s and `sigctl status`'s exit codes.
public enum HealthLevel: Int32, Codable, Sendable, Comparable {
    case ok = 0, warning = 1, critical = 2, unknown = 3

    public var label: String {
        switch self {
        case .ok: return "OK"
        case .warning: return "WARNING"
        case .critical: return "CRITICAL"
        case .unknown: return "UNKNOWN"
        }
    }

    public static func < (a: HealthLevel, b: HealthLevel) -> Bool { a.rawValue < b.rawValue }

    // In JSON a level is its name ("warning"), like every other enum sigctl prints.
    public init(from decoder: Decoder) throws {
        let name = try decoder.singleValueContainer().decode(String.self)
        guard let level = [HealthLevel.ok, .warning, .critical, .unknown].first(where: { $0.label.lowercased() == name }) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown level \(name)"))
        }
        self = level
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(label.lowercased())
    }
}

/// When an age becomes a warning or critical.
public struct HealthThresholds: Sendable {
    /// Age of a feed's newest signatures.
    public var ageWarning = 3 * 86_400
    public var ageCritical = 7 * 86_400
    /// Time since the last run that exited 0.
    public var runWarning = 6 * 3_600
    public var runCritical = 86_400

    public init() {}
}

/// One thing `check` found wrong, with how bad it is.
public struct HealthFinding: Codable, Sendable, Equatable {
    public var level: HealthLevel
    public var text: String
}

/// One performance-data value: `'label'=value[unit];warn;crit;min;max`.
public struct PerfDatum: Codable, Sendable, Equatable {
    public var label: String
    public var value: Double
    public var unit: String = ""
    public var warning: Double? = nil
    public var critical: Double? = nil
    public var minimum: Double? = 0
}

public struct HealthReport: Codable, Sendable {
    public var level: HealthLevel
    public var summary: String
    public var findings: [HealthFinding]
    public var perfdata: [PerfDatum]

    /// The verdict when sigctl cannot judge (configuration or state unreadable).
    public static func unknown(_ why: String) -> HealthReport {
        HealthReport(level: .unknown, summary: why, findings: [HealthFinding(level: .unknown, text: why)], perfdata: [])
    }
}

/// Judges a status report: is clamd serving sigctl's current set, are the feeds
/// fresh, did the last runs succeed, is anything backing off?
public enum HealthCheck {
    public static func evaluate(_ report: StatusReport, thresholds: HealthThresholds, now: Date) -> HealthReport {
        var findings: [HealthFinding] = []
        var perf: [PerfDatum] = []
        func add(_ level: HealthLevel, _ text: String) { findings.append(HealthFinding(level: level, text: text)) }
        /// The age of `date` against a pair of thresholds: a finding when it is past one, and its perfdata.
        func judge(_ date: Date, _ label: String, warning: Int, critical: Int, _ text: (String) -> String) {
            let seconds = max(0, Int(now.timeIntervalSince(date)))
            if seconds >= critical {
                add(.critical, text(DurationParser.format(seconds)))
            } else if seconds >= warning {
                add(.warning, text(DurationParser.format(seconds)))
            }
            perf.append(PerfDatum(label: label, value: Double(seconds), unit: "s", warning: Double(warning), critical: Double(critical)))
        }

        // clamd and the live set.
        if let live = report.live {
            if report.clamd == "none" {
                // Nothing to ask: the set is only known to load.
            } else if let error = report.clamdError {
                add(.critical, "clamd (\(report.clamd)) is not answering: \(error)")
            } else if live.clamdServesItNow == false {
                add(.critical, "clamd does not serve set \(live.generation): its canary \(live.canary) is not detected (run sigctl reload)")
            }
            perf.append(PerfDatum(label: "generation", value: Double(live.generation)))
            perf.append(PerfDatum(label: "signatures", value: Double(live.signatures)))
        } else {
            add(.critical, "no signature set installed by sigctl yet (run sigctl update)")
            if report.clamd != "none", let error = report.clamdError {
                add(.critical, "clamd (\(report.clamd)) is not answering: \(error)")
            }
        }

        // Runs.
        if let success = report.lastSuccess {
            judge(success, "last_success", warning: thresholds.runWarning, critical: thresholds.runCritical) {
                "the last successful run was \($0) ago"
            }
        } else if report.lastRun != nil {
            add(.critical, "no run has succeeded yet (the last exited \(report.lastExitCode.map(String.init) ?? "?"))")
        }

        // Feeds.
        var backoffs = 0
        for feed in report.feeds where feed.enabled {
            if let newest = feed.newest {
                judge(newest, "age_\(feed.name)", warning: thresholds.ageWarning, critical: thresholds.ageCritical) {
                    "\(feed.name): the newest signatures are \($0) old"
                }
            }
            if let error = feed.lastError { add(.warning, "\(feed.name): \(error)") }
            for entry in feed.backoff { add(.warning, "\(feed.name): backing off from \(entry.text)") }
            if let until = feed.coolDownUntil { add(.warning, "\(feed.name): the mirror's cool-down lasts until \(Timestamp.text(until))") }
            backoffs += feed.backoff.count + (feed.coolDownUntil == nil ? 0 : 1)
        }
        perf.append(PerfDatum(label: "backoffs", value: Double(backoffs)))
        for warning in report.warnings { add(.warning, warning) }

        findings.sort { $0.level > $1.level }
        let level = findings.first?.level ?? .ok
        let summary: String
        if findings.isEmpty {
            let enabled = report.feeds.filter(\.enabled).count
            let served = report.clamd == "none" ? "installed (clamd not checked: clamd = \"none\")" : "served by clamd"
            summary = "set \(report.live?.generation ?? 0) (\(report.live?.signatures ?? 0) signatures) \(served); \(enabled) feed(s) fresh"
        } else {
            summary = findings.filter { $0.level == level }.map(\.text).joined(separator: "; ")
        }
        return HealthReport(level: level, summary: summary, findings: findings, perfdata: perf)
    }

    /// The plugin output: `SIGCTL STATE - summary | perfdata`, then one finding per line.
    public static func pluginText(_ health: HealthReport) -> String {
        let perf = health.perfdata.map(\.text).joined(separator: " ")
        var lines = ["SIGCTL \(health.level.label) - \(health.summary.replacingOccurrences(of: "|", with: "/"))" + (perf.isEmpty ? "" : " | " + perf)]
        if health.findings.count > 1 {
            lines += health.findings.map { "\($0.level.label): \($0.text.replacingOccurrences(of: "|", with: "/"))" }
        }
        return lines.joined(separator: "\n")
    }
}

extension PerfDatum {
    /// `'label'=value[unit];warn;crit;min`
    var text: String {
        func number(_ value: Double?) -> String {
            guard let value else { return "" }
            return value == value.rounded() ? String(Int64(value)) : String(format: "%.3f", value)
        }
        return "'\(label.replacingOccurrences(of: "'", with: ""))'=\(number(value))\(unit);\(number(warning));\(number(critical));\(number(minimum))"
    }
}
