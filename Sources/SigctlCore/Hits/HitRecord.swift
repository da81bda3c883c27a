import Foundation

/// One detection as `hits --json` prints it: a JSON Lines object.
public struct HitRecord: Codable, Sendable, Equatable {
    public var time: Date
    public var signature: String?
    public var feed: String?
    public var file: String?
    public var risk: String?
    /// The kept set the signature was found in, when the live set no longer has it.
    public var set: Int?
    public var clientIP: String?
    public var clientHost: String?
    /// The client is inside `local_networks`: an infected machine of the site's own.
    public var clientLocal: Bool
    public var sender: String?
    public var recipients: [String]
    public var action: HitAction?
    public var queueId: String?
    public var messageId: String?
    public var log: HitLog
    /// The host that logged it.
    public var host: String?

    enum CodingKeys: String, CodingKey {
        case time, signature, feed, file, risk, set, clientIP = "clientIp", clientHost, clientLocal, sender, recipients, action
        case queueId, messageId, log, host
    }

    /// The group a hit counts under in `--by feed`: its feed, or why it has none.
    public var feedLabel: String {
        if let feed { return feed }
        if signature?.hasPrefix("Heuristics.") == true { return "(libclamav heuristics)" }
        if signature == nil { return "(signature not logged)" }
        return file == nil ? "(not in any kept set)" : "(not managed by sigctl)"
    }

    public var senderDomain: String? { CleanMailCounter.domain(of: sender) }
}

extension HitRecord {
    /// Attributes `detections` to feeds and files, and marks the site's own clients.
    public static func make(_ detections: [Detection], origins: [String: SignatureOrigin], localNetworks: [IPNetwork]) -> [HitRecord] {
        detections.map { d in
            let origin = d.signature.flatMap { origins[$0] }
            let local = d.clientIP.map { ip in localNetworks.contains { $0.contains(ip) } } ?? false
            return HitRecord(time: Date(timeIntervalSince1970: TimeInterval(d.time)), signature: d.signature, feed: origin?.feed,
                             file: origin?.file, risk: origin?.risk, set: origin?.set, clientIP: d.clientIP, clientHost: d.clientHost,
                             clientLocal: local, sender: d.sender, recipients: d.recipients, action: d.action, queueId: d.queueID,
                             messageId: d.messageID, log: d.log, host: d.host)
        }
    }
}
