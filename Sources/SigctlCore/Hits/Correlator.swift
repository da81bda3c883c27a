import Foundation

/// A signature that fired on a message, with what the logs say about that message.
public struct Detection: Sendable {
    public var time: Int64
    /// nil when Postfix rejected for a virus but no log line read names the signature.
    public var signature: String?
    public var log: HitLog
    /// The host that wrote the log line (central syslog carries several).
    public var host: String?
    public var queueID: String?
    public var messageID: String?
    public var clientIP: String?
    public var clientHost: String?
    public var sender: String?
    public var recipients: [String]
    public var action: HitAction?
}

/// Joins the lines of one log stream into detections, in bounded memory: facts about a
/// message are kept only while its lines can still come (`window` seconds of log time
/// after its last line, 30 s after Postfix removed it).
///
/// - A line with a queue id (amavis's Queue-ID, clamav-milter's LogInfected Full, Exim's
///   message id) joins Postfix's lines for that queue id: client, Message-ID, sender, action.
/// - A line with only a Message-ID joins the queue id Postfix logged that Message-ID for.
/// - A line with neither (clamd's FOUND, clamav-milter's LogInfected Basic) joins the
///   Postfix milter action logged within 2 s of it, with the same sender and recipient
///   when both lines name them; the same signature logged for a joined message within
///   5 s is the same scan, not a second detection.
struct Correlator {
    struct Key: Hashable {
        var host: String?
        var queue: String
    }

    private struct Message {
        var clientHost: String?
        var clientIP: String?
        var messageID: String?
        var sender: String?
        var recipients: [String] = []
        var action: HitAction?
        var actionTime: Int64?
        var reply: String?
        var queued = false
        var infections: [Infection] = []
        var lastSeen: Int64
        var removed = false
    }

    let window: Int64
    private var messages: [Key: Message] = [:]
    private var byMessageID: [String: Key] = [:]
    /// Lines that name a signature but no message, waiting to be joined by time.
    private var orphans: [Infection] = []
    /// Messages a milter acted on, and signatures joined to messages, in the last seconds.
    private var recentActions: [(time: Int64, key: Key)] = []
    private var recentInfections: [Named] = []
    /// Keys in the order they were last touched (lazily: an entry touched since is re-queued).
    private var expiry = FIFO<(time: Int64, key: Key)>()
    private var removals = FIFO<(time: Int64, key: Key)>()
    private(set) var now: Int64 = .min
    private var jump: Int64?
    private var lastSweep: Int64 = .min
    private var detections: [Detection] = []
    /// Lines naming a signature that found no message in this log, and milter actions
    /// no line of this log named a signature for: the other logs read may have them.
    private var leftovers: [Infection] = []
    private var unclaimed: [MilterAction] = []
    private(set) var clean = CleanMailCounter()

    init(window: Int64 = 600) { self.window = window }

    mutating func add(_ event: MailEvent, host: String?, time: Int64) {
        // Log time moves on with the lines, but one line far ahead (a host with a wrong
        // clock on a central log server) must not end every open message: a jump of more
        // than the window counts only when the next line confirms it.
        if time > now {
            if now == .min || time - now <= window || jump.map({ time >= $0 - window }) == true {
                now = time
                jump = nil
            } else {
                jump = time
            }
        }
        switch event {
        case .client(let queue, let clientHost, let ip):
            touch(Key(host: host, queue: queue), time) { $0.clientHost = clientHost; $0.clientIP = ip }
        case .messageID(let queue, let id):
            let key = Key(host: host, queue: queue)
            // An infection that named only this Message-ID waits under a key of its own.
            if let waiting = byMessageID[id], waiting.queue.hasPrefix("<mid>"), let early = messages.removeValue(forKey: waiting) {
                touch(key, time) { $0.infections += early.infections }
            }
            byMessageID[id] = key
            touch(key, time) { $0.messageID = id }
        case .queued(let queue, let sender):
            touch(Key(host: host, queue: queue), time) { $0.queued = true; if $0.sender == nil && !sender.isEmpty { $0.sender = sender } }
        case .removed(let queue):
            let key = Key(host: host, queue: queue)
            guard messages[key] != nil else { break }
            touch(key, time) { $0.removed = true }
            removals.push((time, key))
        case .milterAction(let queue, let action, let clientHost, let ip, let sender, let recipient, let reply):
            let key = Key(host: host, queue: queue)
            touch(key, time) {
                $0.action = action
                $0.actionTime = time
                $0.reply = reply
                if $0.clientHost == nil { $0.clientHost = clientHost }
                if $0.clientIP == nil { $0.clientIP = ip }
                if let sender, !sender.isEmpty { $0.sender = sender }
                if let recipient, !$0.recipients.contains(recipient) { $0.recipients.append(recipient) }
            }
            recentActions.append((time, key))
            // clamav-milter's RejectMsg with %v puts the signature in Postfix's reject text.
            if let named = Self.signature(inReply: reply) {
                attach(Infection(time: time, signatures: [named], log: .postfix, host: host, queue: queue), to: key)
            }
        case .infected(var infection):
            // sigctl's own canary scans (update, status, check) are no mail.
            infection.signatures.removeAll { $0.hasPrefix(Canary.namePrefix) }
            guard !infection.signatures.isEmpty else { break }
            if infection.sender == "" { infection.sender = nil }
            if let queue = infection.queue {
                attach(infection, to: Key(host: infection.host ?? host, queue: queue))
            } else if let id = infection.messageID {
                attach(infection, to: byMessageID[id] ?? {
                    let key = Key(host: host, queue: "<mid>" + id)
                    byMessageID[id] = key
                    return key
                }())
            } else {
                orphans.append(infection)
            }
        case .clean(let ip, let sender):
            clean.count(clientIP: ip, sender: sender)
        }
        if now >= lastSweep &+ 5 { sweep(final: false) }
    }

    /// Joins what is left; returns the detections, and what only another log can complete.
    mutating func finish() -> CorrelatorOutput {
        sweep(final: true)
        return CorrelatorOutput(detections: detections, leftovers: leftovers, unclaimed: unclaimed)
    }

    private mutating func touch(_ key: Key, _ time: Int64, _ change: (inout Message) -> Void) {
        if var message = messages[key] {
            change(&message)
            message.lastSeen = max(message.lastSeen, time)
            messages[key] = message
        } else {
            var message = Message(lastSeen: time)
            change(&message)
            messages[key] = message
            expiry.push((time, key))
        }
    }

    private mutating func attach(_ infection: Infection, to key: Key) {
        touch(key, infection.time) { $0.infections.append(infection) }
        for name in infection.signatures {
            recentInfections.append(Named(time: infection.time, signature: name, log: infection.log, host: infection.host ?? key.host, key: key))
        }
    }

    private mutating func sweep(final: Bool) {
        lastSweep = now
        // Orphans old enough that every line of their scan has been read.
        // Lines that name a sender and recipient (clamav-milter's) are joined before
        // clamd's, which name neither and so could match any action logged with them.
        let ordered = orphans.enumerated().sorted { a, b in
            (a.element.sender == nil ? 1 : 0, a.element.time, a.offset) < (b.element.sender == nil ? 1 : 0, b.element.time, b.offset)
        }.map(\.element)
        var waiting: [Infection] = []
        for orphan in ordered {
            guard final || orphan.time < now - 5 else { waiting.append(orphan); continue }
            join(orphan)
        }
        orphans = waiting
        recentActions.removeAll { $0.time < now - 15 }
        recentInfections.removeAll { $0.time < now - 15 }
        while let (time, key) = removals.peek(), final || time < now - 30 {
            removals.pop()
            if messages[key]?.removed == true { finalize(key) }
        }
        while let (time, key) = expiry.peek(), final || time < now - window {
            expiry.pop()
            guard let message = messages[key] else { continue }
            if !final && message.lastSeen >= now - window {
                expiry.push((message.lastSeen, key))
            } else {
                finalize(key)
            }
        }
    }

    private mutating func join(_ orphan: Infection) {
        // The same scan logged by two programs (clamd and clamav-milter or amavis):
        // each line of one pairs with at most one of the other, so an outbreak of one
        // signature still counts every message.
        // clamd scans each part amavis unpacked: all of them are amavis's one verdict.
        if let i = recentInfections.firstIndex(where: {
            (!$0.paired || orphan.amavisPart && $0.log == .amavis) && $0.log != orphan.log && orphan.signatures.contains($0.signature)
                && abs($0.time - orphan.time) <= 5 && !EnvelopeFit.otherHost($0.host, orphan.host)
        }) {
            recentInfections[i].paired = true
            // clamav-milter's own line names the scanner better than Postfix's reject text.
            if orphan.log == .clamavMilter, let key = recentInfections[i].key {
                touch(key, orphan.time) { message in
                    for j in message.infections.indices where message.infections[j].log == .postfix {
                        message.infections[j].log = .clamavMilter
                    }
                }
            }
            return
        }
        // The nearest action of the same host within 2 s, the best envelope fit first.
        let candidates = recentActions.compactMap { entry -> (key: Key, rank: (Int, Int64))? in
            guard abs(entry.time - orphan.time) <= 2, !EnvelopeFit.otherHost(entry.key.host, orphan.host),
                  let message = messages[entry.key], message.infections.isEmpty else { return nil }
            let fit = EnvelopeFit.score(sender: orphan.sender, recipients: orphan.recipients,
                                        actionSender: message.sender, actionRecipients: message.recipients)
            return (entry.key, (-fit, abs(entry.time - orphan.time)))
        }
        if let best = candidates.min(by: { $0.rank < $1.rank }) {
            attach(orphan, to: best.key)
            return
        }
        leftovers.append(orphan)
        for name in orphan.signatures { recentInfections.append(Named(time: orphan.time, signature: name, log: orphan.log, host: orphan.host, key: nil)) }
    }

    private mutating func finalize(_ key: Key) {
        guard let message = messages.removeValue(forKey: key) else { return }
        if let id = message.messageID, byMessageID[id] == key { byMessageID[id] = nil }
        let queue = key.queue.hasPrefix("<mid>") ? nil : key.queue
        if message.infections.isEmpty {
            // Mail a content filter put back (amavis on 127.0.0.1) was counted when it came in.
            if message.queued, message.clientIP != "127.0.0.1", message.clientIP != "::1" {
                clean.count(clientIP: message.clientIP, sender: message.sender)
            }
            if let action = message.action {
                unclaimed.append(MilterAction(time: message.actionTime ?? message.lastSeen, host: key.host, queue: queue,
                                              messageID: message.messageID, clientHost: message.clientHost, clientIP: message.clientIP,
                                              sender: message.sender, recipients: message.recipients, action: action,
                                              virusReply: message.reply.map(Self.isVirusReply) ?? false))
            }
            return
        }
        // Only a line naming the signature and a queue id, nothing from the MTA: the
        // MTA's lines are in another log (clamav-milter's own file, for one).
        if message.clientIP == nil, message.action == nil, !message.queued, message.infections.allSatisfy({ $0.clientIP == nil }) {
            leftovers += message.infections.map { infection in
                var named = infection
                if named.queue == nil { named.queue = queue }
                if named.messageID == nil { named.messageID = message.messageID }
                return named
            }
            return
        }
        var seen = Set<String>()
        for infection in message.infections {
            for name in infection.signatures where seen.insert(name).inserted {
                detections.append(Detection(
                    time: infection.time, signature: name, log: infection.log, host: infection.host ?? key.host,
                    queueID: queue ?? infection.queue, messageID: infection.messageID ?? message.messageID,
                    clientIP: message.clientIP ?? infection.clientIP, clientHost: message.clientHost ?? infection.clientHost,
                    sender: infection.sender ?? message.sender,
                    recipients: infection.recipients.isEmpty ? message.recipients : infection.recipients,
                    action: message.action ?? infection.action ?? (message.queued ? .passed : nil)))
            }
        }
    }

    /// The signature at the end of a reject text, as RejectMsg's %v puts it
    /// ("Blocked by ClamAV - FOUND VIRUS: Eicar-Test-Signature", "Infected (X)").
    static func signature(inReply reply: String) -> String? {
        guard isVirusReply(reply) else { return nil }
        var text = Substring(reply)
        while let last = text.last, last == "." || last == " " { text = text.dropLast() }
        var name: Substring
        if text.hasSuffix(")"), let open = text.lastIndex(of: "(") {
            name = text[text.index(after: open)..<text.index(before: text.endIndex)]
        } else {
            name = text.split(separator: " ").last ?? ""
        }
        // A signature name has no spaces and a dot or a dash (Eicar-Test-Signature, Win.Test.EICAR_HDB-1).
        guard name.count >= 3, !name.contains(" "), name.contains(where: { $0 == "." || $0 == "-" }),
              !name.contains(where: { "@/:<>".contains($0) }), name.first?.isLetter == true else { return nil }
        return String(name)
    }

    static func isVirusReply(_ reply: String) -> Bool {
        let lower = reply.lowercased()
        return lower.contains("virus") || lower.contains("infected") || lower.contains("malware") || lower.contains("clamav")
    }
}

