import Foundation

/// Joins what one log could not complete with what the other logs left: Debian keeps
/// Postfix in /var/log/mail.log (or Postfix's maillog_file), clamd in
/// /var/log/clamav/clamav.log and clamav-milter in clamav-milter.log, and a message can
/// straddle a rotation. The rules are the `Correlator`'s, across all logs read:
/// a leftover with a queue id takes the milter action of that queue id; one already
/// counted by another log (the same signature within 5 s) is dropped; one without takes
/// the milter action logged within 2 s with the same envelope; the rest stand alone.
/// A milter action whose reject text says virus and that no log explains is a
/// detection without a signature.
enum CrossLogJoin {
    static func join(_ outputs: [CorrelatorOutput]) -> [Detection] {
        var detections = outputs.flatMap(\.detections)
        var actions = outputs.flatMap(\.unclaimed).sorted { $0.time < $1.time }
        var claimed = [Bool](repeating: false, count: actions.count)
        var byQueue: [String: [Int]] = [:]
        for (i, action) in actions.enumerated() { if let queue = action.queue { byQueue[queue, default: []].append(i) } }
        // Detections by signature, with whether a leftover of another program was the same scan.
        var seen: [String: [(time: Int64, log: HitLog, paired: Bool)]] = [:]
        for d in detections { if let name = d.signature { seen[name, default: []].append((d.time, d.log, false)) } }
        // Lines naming the envelope first: clamd's name nothing and could match any action.
        let leftovers = outputs.flatMap(\.leftovers).enumerated().sorted { a, b in
            (a.element.sender == nil ? 1 : 0, a.element.time, a.offset) < (b.element.sender == nil ? 1 : 0, b.element.time, b.offset)
        }.map(\.element)

        func compatible(_ leftover: Infection, _ action: MilterAction) -> Bool {
            if let sender = leftover.sender, let known = action.sender, sender != known { return false }
            if let recipient = leftover.recipients.first, !action.recipients.isEmpty, !action.recipients.contains(recipient) { return false }
            return true
        }
        /// The unclaimed action logged nearest to `time`, within 2 s, that `accept`s.
        func nearest(_ time: Int64, _ accept: (MilterAction) -> Bool) -> Int? {
            var low = 0, high = actions.count
            while low < high {
                let mid = (low + high) / 2
                if actions[mid].time < time - 2 { low = mid + 1 } else { high = mid }
            }
            var best: Int?
            var i = low
            while i < actions.count, actions[i].time <= time + 2 {
                if !claimed[i], accept(actions[i]), best.map({ abs(actions[i].time - time) < abs(actions[$0].time - time) }) ?? true { best = i }
                i += 1
            }
            return best
        }

        for leftover in leftovers {
            var match: Int?
            if let queue = leftover.queue {
                match = byQueue[queue]?.first { !claimed[$0] && (leftover.host == nil || actions[$0].host == nil || leftover.host == actions[$0].host) }
            }
            if match == nil {
                // Each line pairs with at most one of another program, as in one log.
                let name = leftover.signatures[0]
                if let i = seen[name]?.firstIndex(where: { !$0.paired && $0.log != leftover.log && abs($0.time - leftover.time) <= 5 }) {
                    seen[name]![i].paired = true
                    continue
                }
                match = nearest(leftover.time) { compatible(leftover, $0) }
            }
            let action = match.map { actions[$0] }
            if let match { claimed[match] = true }
            for name in leftover.signatures {
                detections.append(Detection(
                    time: leftover.time, signature: name, log: leftover.log, host: leftover.host ?? action?.host,
                    queueID: leftover.queue ?? action?.queue, messageID: leftover.messageID ?? action?.messageID,
                    clientIP: action?.clientIP ?? leftover.clientIP, clientHost: action?.clientHost ?? leftover.clientHost,
                    sender: leftover.sender ?? action?.sender,
                    recipients: leftover.recipients.isEmpty ? action?.recipients ?? [] : leftover.recipients,
                    action: action?.action ?? leftover.action))
                seen[name, default: []].append((leftover.time, leftover.log, false))
            }
        }
        for (i, action) in actions.enumerated() where !claimed[i] && action.virusReply {
            detections.append(Detection(time: action.time, signature: nil, log: .postfix, host: action.host, queueID: action.queue,
                                        messageID: action.messageID, clientIP: action.clientIP, clientHost: action.clientHost,
                                        sender: action.sender, recipients: action.recipients, action: action.action))
        }
        actions.removeAll()
        return detections
    }
}
