import Foundation

/// An IPv4 or IPv6 network ("192.0.2.0/24", "2001:db8::/32", or one address).
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    /// The address as 16 bytes (IPv4 mapped into ::ffff:0:0/96).
    let bytes: [UInt8]
    /// Prefix length over those 16 bytes.
    let prefix: Int
    public let description: String

    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let (address, v4) = Self.address(String(parts[0])) else { return nil }
        var length = 128
        if parts.count == 2 {
            guard let n = Int(parts[1]), n >= 0, n <= (v4 ? 32 : 128) else { return nil }
            length = v4 ? 96 + n : n
        }
        bytes = address
        prefix = length
        description = text
    }

    /// The address in the same 16-byte form; nil when it is not an IP address.
    static func address(_ text: String) -> ([UInt8], Bool)? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return ([UInt8](repeating: 0, count: 10) + [0xff, 0xff] + withUnsafeBytes(of: v4.s_addr) { Array($0) }, true)
        }
        var v6 = in6_addr()
        // Postfix writes IPv6 clients as "ipv6:2001:db8::1" in some places.
        let plain = text.hasPrefix("ipv6:") ? String(text.dropFirst(5)) : text
        if inet_pton(AF_INET6, plain, &v6) == 1 { return (withUnsafeBytes(of: v6) { Array($0) }, false) }
        return nil
    }

    public func contains(_ ip: String) -> Bool {
        guard let (address, _) = Self.address(ip) else { return false }
        var remaining = prefix
        for i in 0..<16 where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xff << (8 - bits))
            if address[i] & mask != bytes[i] & mask { return false }
            remaining -= bits
        }
        return true
    }
}
