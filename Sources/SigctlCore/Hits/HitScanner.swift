import Foundation
import Synchronization

/// Where mail log lines come from.
public enum LogInput: Sendable, Hashable {
    case file(String)
    case standardInput
    /// journald, through journalctl: these units, from this directory (nil: the system journal).
    case journal(units: [String], directory: String?)

    public var name: String {
        switch self {
        case .file(let path): return path
        case .standardInput: return "-"
        case .journal(_, let directory): return "journald" + (directory.map { " (\($0))" } ?? "")
        }
    }
}

/// What reading one input gave.
public struct InputStats: Sendable, Codable {
    public var name: String
    public var lines = 0
    /// Lines of a format sigctl reads whose stamp or fields were not valid.
    public var malformed = 0
    /// Lines longer than 64 KiB, skipped.
    public var tooLong = 0
    public var first: Date?
    public var last: Date?
    /// Not read: it was last written before the period began.
    public var skipped = false
    public var error: String?

    init(name: String) { self.name = name }
}

/// Detections and clean-mail counts from a set of logs.
public struct ScanResult: Sendable {
    public var detections: [Detection] = []
    public var inputs: [InputStats] = []
    var clean = CleanMailCounter()
}

/// Reads logs, one input per core at a time, each joined on its own (see `Correlator`).
public enum HitScanner {
    /// Reads `inputs` and keeps the detections between `since` and `until` (seconds since the epoch).
    public static func scan(_ inputs: [LogInput], since: Int64?, until: Int64?, now: Int64) -> ScanResult {
        let results = Mutex<[Int: (InputStats, CorrelatorOutput, CleanMailCounter)]>([:])
        DispatchQueue.concurrentPerform(iterations: inputs.count) { i in
            let outcome = scanOne(inputs[i], since: since, until: until, now: now)
            results.withLock { $0[i] = outcome }
        }
        var result = ScanResult()
        let collected = results.withLock { $0 }
        var outputs: [CorrelatorOutput] = []
        for i in inputs.indices {
            guard let (stats, output, clean) = collected[i] else { continue }
            result.inputs.append(stats)
            outputs.append(output)
            result.clean.merge(clean)
        }
        result.detections = CrossLogJoin.join(outputs).filter { d in
            (since.map { d.time >= $0 } ?? true) && (until.map { d.time < $0 } ?? true)
        }
        result.detections.sort { ($0.time, $0.queueID ?? "", $0.signature ?? "") < ($1.time, $1.queueID ?? "", $1.signature ?? "") }
        return result
    }

    static func scanOne(_ input: LogInput, since: Int64?, until: Int64?, now: Int64) -> (InputStats, CorrelatorOutput, CleanMailCounter) {
        var stats = InputStats(name: input.name)
        var fd: Int32 = -1
        var reference = now
        switch input {
        case .standardInput:
            fd = 0
        case .journal:
            break
        case .file(let path):
            do {
                fd = try Files.openRegular(path)
            } catch {
                stats.error = "\(error)"
                return (stats, CorrelatorOutput(detections: [], leftovers: [], unclaimed: []), CleanMailCounter())
            }
            var st = stat()
            if fstat(fd, &st) == 0 { reference = Int64(st.st_mtim.tv_sec) }
            if let since, reference < since {
                close(fd)
                stats.skipped = true
                return (stats, CorrelatorOutput(detections: [], leftovers: [], unclaimed: []), CleanMailCounter())
            }
        }
        defer { if fd > 0 { close(fd) } }
        var clock = LogClock(reference: reference)
        var correlator = Correlator()
        var hosts = HostNames()
        var first = Int64.max, last = Int64.min
        // Lines well before the period cannot join a detection inside it.
        let from = since.map { $0 - correlator.window } ?? .min
        let read = { (bytes: UnsafeBufferPointer<UInt8>) in
            stats.lines += 1
            switch LogLineParser.parse(bytes, clock: &clock) {
            case .unknown:
                break
            case .malformed:
                stats.malformed += 1
            case .line(let line):
                if line.time < first { first = line.time }
                if line.time > last { last = line.time }
                guard line.time >= from else { return }
                switch MailEventParser.parse(bytes, line) {
                case .event(let event):
                    correlator.add(event, host: hosts.name(bytes, line.host), time: line.time)
                case .malformed:
                    stats.malformed += 1
                case .skip:
                    break
                }
            }
        }
        do {
            if case .journal(let units, let directory) = input {
                stats.tooLong = try JournalReader.forEachLine(units: units, directory: directory, since: from == .min ? nil : from,
                                                              until: until.map { $0 + correlator.window }, read)
            } else {
                stats.tooLong = try LogReader.forEachLine(fd: fd, name: input.name, read)
            }
        } catch {
            stats.error = "\(error)"
        }
        if first <= last {
            stats.first = Date(timeIntervalSince1970: TimeInterval(first))
            stats.last = Date(timeIntervalSince1970: TimeInterval(last))
        }
        let output = correlator.finish()
        return (stats, output, correlator.clean)
    }
}

/// The host field of the lines read, as strings made once per distinct host.
private struct HostNames {
    private var last: [UInt8] = []
    private var lastName: String?

    mutating func name(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>?) -> String? {
        guard let range else { return nil }
        let bytes = UnsafeBufferPointer(rebasing: b[range])
        if let lastName, bytes.elementsEqual(last) { return lastName }
        last = Array(bytes)
        lastName = String(decoding: bytes, as: UTF8.self)
        return lastName
    }
}
