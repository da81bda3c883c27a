import Foundation
import SigctlCore

/// The text of `sigctl hits`: one heading line, then one block per group.
enum HitsText {
    static func print(_ result: HitResult, grouping: HitGrouping) {
        let s = result.summary
        let period = "\(s.since.map(Timestamp.text) ?? "the start of the logs") to \(s.until.map(Timestamp.text) ?? "now")"
        Swift.print("\(s.detections) detection(s) from \(period), in \(s.lines) log line(s) of \(s.inputs.count) file(s)\(s.feed.map { ", feed \($0)" } ?? "")")
        // Nothing found because the logs end before the period: say so, not just "0".
        if s.detections == 0, let since = s.since, !s.inputs.isEmpty,
           s.inputs.allSatisfy({ $0.skipped || ($0.last.map { $0 < since } ?? false) }) {
            Swift.print("the logs read end before the period; --since all reads them whole")
        }
        let report = result.report
        switch grouping {
        case .feed:
            for feed in report.byFeed {
                Swift.print("\(feed.feed): \(feed.detections)\(span(feed.first, feed.last))")
                for file in feed.files { Swift.print("  \(file.file): \(file.detections)\(span(file.first, file.last))") }
                if !feed.idleFiles.isEmpty { Swift.print("  caught nothing: \(feed.idleFiles.joined(separator: ", "))") }
            }
        case .signature:
            for sig in report.bySignature {
                var line = "\(sig.detections)  \(sig.signature)"
                if let feed = sig.feed { line += "  feed \(feed)" }
                if let file = sig.file { line += ", \(file)" }
                if let risk = sig.risk { line += ", risk \(risk)" }
                line += ", \(sig.clients) client(s)\(span(sig.first, sig.last))"
                Swift.print(line)
                if sig.likelyFalsePositive, let reason = sig.reason {
                    Swift.print("    likely false positive: \(reason); check with sigctl explain \(sig.signature), then sigctl allow")
                }
            }
        case .sender:
            for sender in report.bySender {
                Swift.print("\(sender.detections)  \(sender.sender)  from \(sender.clients) client(s): \(sender.signatures.joined(separator: ", "))")
            }
        case .client:
            for client in report.byClient {
                let host = client.clientHost.map { " (\($0))" } ?? ""
                let local = client.local ? "  LOCAL NETWORK: a machine of this site sends infected mail" : ""
                Swift.print("\(client.detections)  \(client.clientIP)\(host)\(local)")
                Swift.print("    \(client.senders) sender address(es), \(client.signatures.joined(separator: ", "))\(span(client.first, client.last))")
            }
            let unknown = result.hits.filter { $0.clientIP == nil }.count
            if unknown > 0 { Swift.print("\(unknown) detection(s) without a client in the logs") }
        }
    }

    private static func span(_ first: Date?, _ last: Date?) -> String {
        guard let first, let last else { return "" }
        return first == last ? ", at \(Timestamp.text(first))" : ", first \(Timestamp.text(first)), last \(Timestamp.text(last))"
    }
}
