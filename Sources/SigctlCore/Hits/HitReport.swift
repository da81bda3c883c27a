import Foundation

/// How `hits` groups detections.
public enum HitGrouping: String, Sendable, Codable, CaseIterable {
    case feed, signature, sender, client
}

public struct FileHits: Codable, Sendable {
    public var file: String
    public var detections: Int
    public var first: Date?
    public var last: Date?
}

public struct FeedHits: Codable, Sendable {
    public var feed: String
    public var detections: Int
    public var first: Date?
    public var last: Date?
    public var files: [FileHits]
    /// Enabled files of this feed in the live set that caught nothing in the period.
    public var idleFiles: [String]
}

public struct SignatureHits: Codable, Sendable {
    public var signature: String
    public var feed: String?
    public var file: String?
    public var risk: String?
    public var detections: Int
    public var clients: Int
    public var first: Date?
    public var last: Date?
    /// Most of its hits came from clients or sender domains that also send much clean
    /// mail, or that the admin trusts: look at it before a real message is lost.
    public var likelyFalsePositive: Bool
    public var reason: String?
}

public struct SenderHits: Codable, Sendable {
    public var sender: String
    public var detections: Int
    public var clients: Int
    public var signatures: [String]
}

public struct ClientHits: Codable, Sendable {
    public var clientIP: String
    public var clientHost: String?
    public var local: Bool
    public var detections: Int
    /// Distinct envelope senders: many for a worm that forges them.
    public var senders: Int
    public var signatures: [String]
    public var first: Date?
    public var last: Date?

    enum CodingKeys: String, CodingKey { case clientIP = "clientIp", clientHost, local, detections, senders, signatures, first, last }
}

/// The groups of one `hits` run. Each list is ordered most detections first.
public struct HitReport: Sendable {
    public var byFeed: [FeedHits] = []
    public var bySignature: [SignatureHits] = []
    public var bySender: [SenderHits] = []
    public var byClient: [ClientHits] = []

    /// Clean mail a client or sender domain must have sent (and at least 4× its
    /// detections) before its hits count as likely false positives.
    static let cleanThreshold = 20

    init(_ hits: [HitRecord], clean: CleanMailCounter, settings: Settings, enabledFiles: [String: [String]]) {
        byFeed = Dictionary(grouping: hits, by: \.feedLabel).map { feed, list in
            let files = Dictionary(grouping: list.filter { $0.file != nil }, by: { $0.file! }).map { file, hits in
                FileHits(file: file, detections: hits.count, first: hits.map(\.time).min(), last: hits.map(\.time).max())
            }.sorted { ($1.detections, $0.file) < ($0.detections, $1.file) }
            let caught = Set(files.map(\.file))
            return FeedHits(feed: feed, detections: list.count, first: list.map(\.time).min(), last: list.map(\.time).max(),
                            files: files, idleFiles: (enabledFiles[feed] ?? []).filter { !caught.contains($0) }.sorted())
        }
        // Feeds that caught nothing at all are listed too: their downloads earn nothing here.
        for (feed, files) in enabledFiles where !byFeed.contains(where: { $0.feed == feed }) {
            byFeed.append(FeedHits(feed: feed, detections: 0, first: nil, last: nil, files: [], idleFiles: files.sorted()))
        }
        byFeed.sort { ($1.detections, $0.feed) < ($0.detections, $1.feed) }

        let perIP = Dictionary(grouping: hits.compactMap(\.clientIP), by: { $0 }).mapValues(\.count)
        let perDomain = Dictionary(grouping: hits.compactMap(\.senderDomain), by: { $0 }).mapValues(\.count)
        func trustedReason(_ hit: HitRecord) -> String? {
            // A machine of the site's own sends plenty of good mail and is still infected.
            guard !hit.clientLocal else { return nil }
            if let ip = hit.clientIP {
                if let network = settings.trustedNetworks.first(where: { $0.contains(ip) }) { return "client \(ip) is in trusted_networks (\(network))" }
                let count = clean.clean(clientIP: ip)
                if count >= max(Self.cleanThreshold, 4 * (perIP[ip] ?? 0)) { return "client \(ip) also sent about \(count) clean messages" }
            }
            if let domain = hit.senderDomain {
                if settings.trustedDomains.contains(domain) { return "sender domain \(domain) is in trusted_domains" }
                let count = clean.clean(domain: domain)
                if count >= max(Self.cleanThreshold, 4 * (perDomain[domain] ?? 0)) { return "sender domain \(domain) also sent about \(count) clean messages" }
            }
            return nil
        }
        bySignature = Dictionary(grouping: hits, by: { $0.signature ?? "(not logged)" }).map { signature, list in
            let reasons = list.compactMap(trustedReason)
            let suspect = reasons.count * 2 > list.count
            let example = reasons.first.map { "\(reasons.count) of \(list.count) hits: \($0)\(reasons.count > 1 ? ", …" : "")" }
            return SignatureHits(signature: signature, feed: list[0].feed, file: list[0].file, risk: list[0].risk, detections: list.count,
                                 clients: Set(list.compactMap(\.clientIP)).count, first: list.map(\.time).min(), last: list.map(\.time).max(),
                                 likelyFalsePositive: suspect, reason: suspect ? example : nil)
        }.sorted { ($1.detections, $0.signature) < ($0.detections, $1.signature) }

        bySender = Dictionary(grouping: hits, by: { $0.sender ?? "<>" }).map { sender, list in
            SenderHits(sender: sender, detections: list.count, clients: Set(list.compactMap(\.clientIP)).count,
                       signatures: Array(Set(list.compactMap(\.signature))).sorted())
        }.sorted { ($1.detections, $0.sender) < ($0.detections, $1.sender) }

        // A campaign that forges its senders still comes from a few clients: group by the client.
        byClient = Dictionary(grouping: hits.filter { $0.clientIP != nil }, by: { $0.clientIP! }).map { ip, list in
            ClientHits(clientIP: ip, clientHost: list.compactMap(\.clientHost).first, local: list[0].clientLocal, detections: list.count,
                       senders: Set(list.compactMap(\.sender)).count, signatures: Array(Set(list.compactMap(\.signature))).sorted(),
                       first: list.map(\.time).min(), last: list.map(\.time).max())
        }.sorted { a, b in
            // The site's own infected machines first: they get fixed first.
            if a.local != b.local { return a.local }
            return (b.detections, a.clientIP) < (a.detections, b.clientIP)
        }
    }
}
