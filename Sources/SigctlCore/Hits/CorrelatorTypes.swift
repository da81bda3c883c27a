import Foundation

/// A signature named for a message in the last seconds, and whether a line of another
/// program has been found to be the same scan.
struct Named {
    var time: Int64
    var signature: String
    var log: HitLog
    var host: String?
    var key: Correlator.Key?
    var paired = false
}

/// A milter's verdict Postfix logged for a message no line of the same log named a signature for.
struct MilterAction: Sendable {
    var time: Int64
    var host: String?
    var queue: String?
    var messageID: String?
    var clientHost: String?
    var clientIP: String?
    var sender: String?
    var recipients: [String]
    var action: HitAction
    /// The reject text says virus: a detection even when no log names the signature.
    var virusReply: Bool
}

struct CorrelatorOutput: Sendable {
    var detections: [Detection]
    var leftovers: [Infection]
    var unclaimed: [MilterAction]
}

/// A queue over an array: pushes at the end, pops from a moving head, compacts now and then.
struct FIFO<Element> {
    private var items: [Element] = []
    private var head = 0

    mutating func push(_ item: Element) { items.append(item) }

    func peek() -> Element? { head < items.count ? items[head] : nil }

    mutating func pop() {
        head += 1
        if head > 4096 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
    }
}

/// How well a line naming a signature fits a milter action by its envelope: Postfix logs
/// the first recipient after rewriting and clamav-milter the last one as given, so a
/// mismatch only ranks a candidate lower; it never rules it out.
enum EnvelopeFit {
    static func score(sender: String?, recipients: [String], actionSender: String?, actionRecipients: [String]) -> Int {
        var score = 0
        if let sender, let known = actionSender { score += sender == known ? 2 : -2 }
        if let recipient = recipients.first, !actionRecipients.isEmpty { score += actionRecipients.contains(recipient) ? 1 : -1 }
        return score
    }

    /// Both name a host and the hosts differ (a central log server's lines of two gateways).
    static func otherHost(_ a: String?, _ b: String?) -> Bool {
        if let a, let b { return a != b }
        return false
    }
}
