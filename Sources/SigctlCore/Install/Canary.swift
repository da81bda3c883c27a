import Foundation

/// A signature name as defined in its database: clamd and libclamav append
/// ".UNOFFICIAL" to names from third-party files when they report them.
public func definedName(_ reported: String) -> String {
    reported.hasSuffix(".UNOFFICIAL") ? String(reported.dropLast(".UNOFFICIAL".count)) : reported
}

/// The reload canary: a random blob and a hash signature that matches only it.
/// Every installed set gets a new one, so clamd detecting it proves clamd runs that set.
public struct Canary: Sendable, Equatable {
    public let name: String
    public let blob: Data

    /// A new canary for `generation`. The blob is random, so it can never match real mail.
    public static func make(generation: Int) throws -> Canary {
        var bytes = [UInt8](repeating: 0, count: 512)
        for index in bytes.indices { bytes[index] = UInt8.random(in: 0...255) }
        let tag = (0..<4).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        let blob = Data("sigctl reload canary, generation \(generation), \(tag)\n".utf8) + Data(bytes)
        return Canary(name: "Sigctl.Canary.G\(generation).\(tag)", blob: blob)
    }

    /// The `.hdb` line: md5:size:name.
    public func databaseLine() throws -> String {
        "\(try ClamAV.hash("md5", blob)):\(blob.count):\(name)\n"
    }

    /// Writes the `.hdb` file and the blob (`<dir>/sigctl-canary.hdb`, `<blobPath>`).
    public func write(databaseTo path: String, blobTo blobPath: String) throws {
        try Files.writeAtomically(Data(try databaseLine().utf8), to: path, mode: 0o644)
        try Files.writeAtomically(blob, to: blobPath, mode: 0o600)
    }

    public static func read(name: String, blobPath: String) -> Canary? {
        guard let blob = FileManager.default.contents(atPath: blobPath) else { return nil }
        return Canary(name: name, blob: blob)
    }

    /// True when a clamd or libclamav verdict names this canary (clamd appends ".UNOFFICIAL").
    public func matches(_ verdict: String) -> Bool {
        definedName(verdict) == name
    }
}
