import Foundation

/// Where a signature is defined (or allow-listed) in a set of database files.
public struct SignatureDefinition: Codable, Sendable {
    /// The database file in the database directory.
    public var file: String
    /// The file inside a CVD/CLD container, when the definition is in one.
    public var innerFile: String?
    public var line: Int
    public var text: String
    /// The line is an allow-list entry (.ign/.ign2), not a definition.
    public var allowList: Bool
}

public struct Explanation: Codable, Sendable {
    public var signature: String
    public var definitions: [SignatureDefinition]
    public var feed: String?
    public var risk: String?
    public var liveSet: Int?
    public var allowed: AllowEntry?
}

/// `sigctl explain`: finds the definition line of a signature in the live database files.
public enum SignatureLookup {
    /// The name a database line defines, by file type; nil for lines without one.
    static func name(ofLine line: Substring, fileExtension ext: String) -> Substring? {
        if line.hasPrefix("#") || line.isEmpty { return nil }
        switch ext {
        case "hdb", "hsb", "mdb", "msb", "hdu", "hsu", "mdu", "msu", "fp", "sfp":
            let fields = line.split(separator: ":", maxSplits: 3, omittingEmptySubsequences: false)
            return fields.count > 2 ? fields[2] : nil
        case "ldb", "ldu":
            return line.split(separator: ";", maxSplits: 1).first
        case "ign", "ign2":
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            return ext == "ign" && fields.count >= 3 ? fields[2] : fields.first
        default:
            return line.split(separator: ":", maxSplits: 1).first
        }
    }

    static func search(_ name: String, in path: String, label: String, inner: String?) -> [SignatureDefinition] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        let ext = ((inner ?? label) as NSString).pathExtension.lowercased()
        var found: [SignatureDefinition] = []
        for (number, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.hasSuffix("\r") ? line.dropLast() : line
            guard let defined = Self.name(ofLine: trimmed, fileExtension: ext), defined == name else { continue }
            found.append(SignatureDefinition(file: label, innerFile: inner, line: number + 1, text: String(trimmed),
                                             allowList: ext == "ign" || ext == "ign2"))
        }
        return found
    }

    /// Searches the text databases of `directory`, then (if nothing defines it) the CVD/CLD containers.
    public static func find(_ signature: String, in directory: String, scratch: String) -> [SignatureDefinition] {
        let name = definedName(signature)
        let files = Files.list(directory).filter(isDatabaseFile)
        var found: [SignatureDefinition] = []
        for file in files where !ContentChecks.isContainer(file) {
            found += search(name, in: directory + "/" + file, label: file, inner: nil)
        }
        if found.contains(where: { !$0.allowList }) { return found }
        for file in files where ContentChecks.isContainer(file) {
            let unpacked = scratch + "/" + file
            Files.remove(unpacked)
            guard (try? Files.makeDirectory(unpacked)) != nil,
                  (try? ClamAV.unpackContainer(directory + "/" + file, into: unpacked, verify: false)) != nil else { continue }
            for inner in Files.list(unpacked) where isDatabaseFile(inner) {
                found += search(name, in: unpacked + "/" + inner, label: file, inner: inner)
            }
            Files.remove(unpacked)
            if found.contains(where: { !$0.allowList }) { break }
        }
        return found
    }

    public static func explain(_ signature: String, config: Configuration) throws -> Explanation {
        let name = definedName(signature)
        let scratch = try Files.makeTemporaryDirectory(in: NSTemporaryDirectory(), prefix: "sigctl-explain-")
        defer { Files.remove(scratch) }
        let definitions = find(name, in: config.settings.databaseDir, scratch: scratch)
        let state = try StateStore(directory: config.settings.stateDir).load()
        var explanation = Explanation(signature: name, definitions: definitions, liveSet: state.live?.generation,
                                      allowed: state.allowed?[name])
        if let definition = definitions.first(where: { !$0.allowList }) {
            let feeds = FeedAttribution.map(config: config)
            explanation.feed = feeds[definition.file]
            if let feedName = explanation.feed, let feed = config.feed(named: feedName) {
                explanation.risk = feed.files.first { $0.name == definition.file }?.risk.rawValue
            }
        }
        return explanation
    }
}
