import Foundation

/// How much clean mail each client address and each sender domain sent, estimated in a
/// fixed 1 MiB whatever the traffic (a count-min sketch: an estimate is never below the
/// true count, and rarely much above it). `hits` reads it to spot signatures that fire on
/// senders who otherwise send plenty of good mail.
struct CleanMailCounter: Sendable {
    static let depth = 4
    static let width = 1 << 16
    private(set) var cells: [UInt32]

    init() { cells = [UInt32](repeating: 0, count: Self.depth * Self.width) }

    mutating func count(clientIP: String?, sender: String?) {
        if let clientIP { add(clientIP, kind: 1) }
        if let domain = Self.domain(of: sender) { add(domain, kind: 2) }
    }

    func clean(clientIP: String) -> Int { estimate(clientIP, kind: 1) }
    func clean(domain: String) -> Int { estimate(domain, kind: 2) }

    mutating func merge(_ other: CleanMailCounter) {
        for i in cells.indices { cells[i] &+= other.cells[i] }
    }

    /// The lower-cased domain of an envelope sender; nil for the null sender.
    static func domain(of sender: String?) -> String? {
        guard let sender, let at = sender.lastIndex(of: "@") else { return nil }
        let domain = sender[sender.index(after: at)...]
        return domain.isEmpty ? nil : domain.lowercased()
    }

    private mutating func add(_ key: String, kind: UInt64) {
        let (a, b) = hashes(key, kind: kind)
        cells.withUnsafeMutableBufferPointer { cells in
            for row in 0..<Self.depth {
                let i = row * Self.width + Int((a &+ UInt64(row) &* b) & UInt64(Self.width - 1))
                if cells[i] < UInt32.max { cells[i] += 1 }
            }
        }
    }

    private func estimate(_ key: String, kind: UInt64) -> Int {
        let (a, b) = hashes(key, kind: kind)
        var least = UInt32.max
        for row in 0..<Self.depth {
            least = min(least, cells[row * Self.width + Int((a &+ UInt64(row) &* b) & UInt64(Self.width - 1))])
        }
        return Int(least)
    }

    /// Two hashes of the key (FNV-1a, seeded by what kind of key it is) for double hashing.
    private func hashes(_ key: String, kind: UInt64) -> (UInt64, UInt64) {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ kind
        for byte in key.utf8 {
            h ^= UInt64(byte)
            h &*= 0x0000_0100_0000_01b3
        }
        let second = (h >> 29 ^ h) &* 0xbf58_476d_1ce4_e5b9
        return (h, second | 1)
    }
}
