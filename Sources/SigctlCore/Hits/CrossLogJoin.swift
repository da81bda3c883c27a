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
        // Detections by signature, in time order, with whether a leftover of another
        // program was found to be the same scan.
        var seen: [String: [Named]] = [:]
        for d in detections.sorted(by: { $0.time < $1.time }) {
            if let name = d.signature { seen[name, default: []].append(Named(time: d.time, signature: name, log: d.log, host: d.host, key: nil)) }
        }
        /// The first entry of `list` at or after `time`.
        func start(_ list: [Named], _ time: Int64) -> Int {
            var low = 0, high = list.count
            while low < high {
                let mid = (low + high) / 2
                if list[mid].time < time { low = mid + 1 } else { high = mid }
            }
            return low
        }
        // Lines naming the envelope first: clamd's name nothing and could match any action.
        let leftovers = outputs.flatMap(\.leftovers).enumerated().sorted { a, b in
            (a.element.sender == nil ? 1 : 0, a.element.time, a.offset) < (b.element.sender == nil ? 1 : 0, b.element.time, b.offset)
        }.map(\.element)

        /// The unclaimed action of the same host within 2 s of `leftover`: the best envelope fit, then the nearest.
        func nearest(_ leftover: Infection) -> Int? {
            var low = 0, high = actions.count
            while low < high {
                let mid = (low + high) / 2
                if actions[mid].time < leftover.time - 2 { low = mid + 1 } else { high = mid }
            }
            var best: (index: Int, rank: (Int, Int64))?
            var i = low
            while i < actions.count, actions[i].time <= leftover.time + 2 {
                let action = actions[i]
                if !claimed[i], !EnvelopeFit.otherHost(action.host, leftover.host) {
                    let fit = EnvelopeFit.score(sender: leftover.sender, recipients: leftover.recipients,
                                                actionSender: action.sender, actionRecipients: action.recipients)
                    let rank = (-fit, abs(action.time - leftover.time))
                    if best.map({ rank < $0.rank }) ?? true { best = (i, rank) }
                }
                i += 1
            }
            return best?.index
        }

        for leftover in leftovers {
            var match: Int?
            if let queue = leftover.queue {
                // Short queue ids come round again within days: the same message is minutes apart at most.
                match = byQueue[queue]?.first {
                    !claimed[$0] && !EnvelopeFit.otherHost(leftover.host, actions[$0].host) && abs(actions[$0].time - leftover.time) <= 600
                }
            }
            if match == nil {
                // Each line pairs with at most one of another program, as in one log
                // (clamd's lines for the parts amavis unpacked all pair with its one verdict).
                let name = leftover.signatures[0]
                if var list = seen[name] {
                    var i = start(list, leftover.time - 5)
                    var paired = false
                    while i < list.count, list[i].time <= leftover.time + 5 {
                        let entry = list[i]
                        if (!entry.paired || leftover.amavisPart && entry.log == .amavis) && entry.log != leftover.log
                            && !EnvelopeFit.otherHost(entry.host, leftover.host) {
                            list[i].paired = true
                            paired = true
                            break
                        }
                        i += 1
                    }
                    if paired {
                        seen[name] = list
                        continue
                    }
                }
                match = nearest(leftover)
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
                var list = seen[name] ?? []
                list.insert(Named(time: leftover.time, signature: name, log: leftover.log, host: leftover.host, key: nil),
                            at: start(list, leftover.time))
                seen[name] = list
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
