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
    /// Reads one file line by line (never whole) for the definitions of `name`.
    static func search(_ name: String, in path: String, label: String, inner: String?) -> [SignatureDefinition] {
        let ext = ((inner ?? label) as NSString).pathExtension.lowercased()
        var found: [SignatureDefinition] = []
        var number = 0
        try? LineReader(path: path).forEach { bytes in
            number += 1
            let line = String(decoding: bytes, as: UTF8.self)
            guard let defined = SignatureLine.name(Substring(line), fileExtension: ext), defined == name else { return }
            found.append(SignatureDefinition(file: label, innerFile: inner, line: number, text: line, allowList: ext == "ign" || ext == "ign2"))
        }
        return found
    }

    /// Looks `name` up in every database file of `directory` through its name index (kept
    /// in `indexDirectory`, built on first use when missing or stale); a container that
    /// cannot be indexed is unpacked and searched instead.
    public static func find(_ signature: String, in directory: String, indexDirectory: String, scratch: String) -> [SignatureDefinition] {
        let name = definedName(signature)
        var found: [SignatureDefinition] = []
        var unindexed: [String] = []
        for file in Files.list(directory).filter(isDatabaseFile) {
            let path = directory + "/" + file
            // The canary changes with every set: read its one line rather than index it.
            if file == canaryFileName {
                found += search(name, in: path, label: file, inner: nil)
                continue
            }
            var index = indexDirectory + "/" + file + ".idx"
            var hits = NameIndex.lookup(name, index: index, path: path)
            if hits == nil {
                if (try? Files.makeDirectory(indexDirectory)) == nil || (try? NameIndex.build(path, into: index)) != true {
                    index = scratch + "/" + file + ".idx"
                    if (try? NameIndex.build(path, into: index)) != true { unindexed.append(file) }
                }
                hits = NameIndex.lookup(name, index: index, path: path)
            }
            for hit in hits ?? [] {
                let ext = ((hit.member ?? file) as NSString).pathExtension.lowercased()
                guard let text = lineText(path, hit: hit), SignatureLine.name(Substring(text), fileExtension: ext) == Substring(name) else { continue }
                found.append(SignatureDefinition(file: file, innerFile: hit.member, line: hit.line, text: text,
                                                 allowList: ext == "ign" || ext == "ign2"))
            }
        }
        if found.contains(where: { !$0.allowList }) { return found }
        for file in unindexed where ContentChecks.isContainer(file) {
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

    /// The line an index hit points at (at most 64 KiB of it), read in place or, in a
    /// gzip-compressed container, inflated from the hit's access point.
    static func lineText(_ path: String, hit: NameIndex.Hit) -> String? {
        var bytes: ArraySlice<UInt8>
        if let point = hit.point {
            guard let inflated = GzipAccess.read(path, points: [point], at: hit.offset, count: 65536) else { return nil }
            bytes = inflated[...]
        } else {
            guard let fd = try? Files.openRegular(path) else { return nil }
            defer { close(fd) }
            var buffer = [UInt8](repeating: 0, count: 65536)
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 65536, off_t(hit.offset)) }
            guard n > 0 else { return nil }
            bytes = buffer[0..<n]
        }
        var line = bytes.prefix { $0 != 0x0a }
        if line.last == 0x0d { line = line.dropLast() }
        return String(decoding: line, as: UTF8.self)
    }

    public static func explain(_ signature: String, config: Configuration) throws -> Explanation {
        let name = definedName(signature)
        let scratch = try Files.makeTemporaryDirectory(in: NSTemporaryDirectory(), prefix: "sigctl-explain-")
        defer { Files.remove(scratch) }
        let definitions = find(name, in: config.settings.databaseDir, indexDirectory: Layout(settings: config.settings).nameIndexes, scratch: scratch)
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
