import Foundation

/// Problems grouped by cause, and which of them cron has already heard about today.
extension Outcome {
    /// Failed and rejected files grouped by cause. A file's URL and name are taken
    /// out of its message, so "DNS down" for eleven files is one problem.
    static func group(_ files: [FileReport], feed: String, state: State, now: Date) -> [ProblemReport] {
        var order: [String] = []
        var groups: [String: ProblemReport] = [:]
        for file in files where file.status == .failed || file.status == .rejected {
            let message = file.message ?? file.status.rawValue
            let key = file.status.rawValue + "|" + causeKey(message, file: file.name)
            if groups[key] == nil {
                order.append(key)
                groups[key] = ProblemReport(status: file.status, files: [], message: cause(message, file: file.name))
            }
            groups[key]!.files.append(file.name)
        }
        return order.map { key in
            var problem = groups[key]!
            if problem.files.count == 1, let only = files.first(where: { $0.name == problem.files[0] }) {
                problem.message = only.message ?? problem.message
            }
            // Repeated: every file had the same problem recorded and printed within a day.
            problem.repeated = problem.files.allSatisfy { name in
                guard let previous = state.feeds[feed]?.files[name], let printed = previous.lastErrorPrinted,
                      now.timeIntervalSince(printed) < 86_400 else { return false }
                return shape(previous.lastError) == shape(files.first { $0.name == name }?.message)
            } ? true : nil
            return problem
        }
    }

    /// A message with the file's own URL path and name replaced, so messages about the same cause compare equal.
    static func cause(_ message: String, file: String) -> String {
        let text = urlPath.stringByReplacingMatches(in: message, range: NSRange(message.startIndex..., in: message), withTemplate: "$1")
        return text.replacingOccurrences(of: file, with: "the file")
    }

    /// "http://host:port/path/file.ndb" → "http://host:port"
    static let urlPath = try! NSRegularExpression(pattern: "(https?://[^/\\s]+)/[^\\s:;,]*")

    /// What identifies a cause: curl's message without its timings, which differ from
    /// one file to the next of the same failure ("Failed to connect … after 4 ms",
    /// "… after 0 ms"; "timed out after 30001 milliseconds with 0 bytes received").
    static func causeKey(_ message: String, file: String) -> String {
        replacing(timing, in: cause(message, file: file))
    }

    /// curl's timings and byte counts.
    static let timingPattern = "after [0-9]+ (ms|milliseconds|seconds)|with [0-9]+ (out of [0-9]+ )?bytes received"
    static let timing = try! NSRegularExpression(pattern: timingPattern)

    /// The parts of a message that change from run to run without the problem changing:
    /// curl's timings, timestamps, and long numbers such as ports and sizes.
    static let varying = try! NSRegularExpression(pattern: timingPattern + "|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]+(Z|[+-][0-9:]+)|[0-9]{4,}")

    static func replacing(_ pattern: NSRegularExpression, in text: String) -> String {
        pattern.stringByReplacingMatches(in: text, range: NSRange(text.startIndex..., in: text), withTemplate: "#")
    }

    static func shape(_ text: String?) -> String { replacing(varying, in: text ?? "") }
}
