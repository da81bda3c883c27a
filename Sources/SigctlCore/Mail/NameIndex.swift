import Foundation

/// Where each signature name is defined in one database file: a sorted array of 48-bit
/// name hashes (with the member's number in the low 16 bits) and, beside it, each line's
/// byte offset (40 bits) and number (24 bits). 16 bytes a signature, kept on disk in the
/// state directory and searched with a handful of reads, so `explain` answers without
/// reading the set. It covers plain files, uncompressed containers (the `.cld` files
/// libfreshclam writes) and gzip-compressed `.cvd` files. For those, offsets are in the
/// uncompressed container and the index also keeps gzip access points (`GzipAccess`),
/// about one per MiB, so a line is read by inflating at most a MiB.
struct NameIndex {
    /// The file's identity when it was indexed: device, inode, size, mtime in ns.
    static func stamp(of path: String) -> [UInt64]? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return [UInt64(st.st_dev), UInt64(st.st_ino), UInt64(st.st_size),
                UInt64(st.st_mtim.tv_sec) &* 1_000_000_000 &+ UInt64(st.st_mtim.tv_nsec)]
    }

    struct Hit {
        var member: String?
        var line: Int
        /// Where the line starts: in the file, or, with a `point`, in the inflated gzip stream.
        var offset: UInt64
        /// For a gzip-compressed container: the access point to inflate from.
        var point: GzipAccess.Point?
    }

    private static let magic = Array("SIGIDX2\n".utf8)
    /// Inflated containers larger than this are not indexed.
    static let maxInflated: UInt64 = 4 << 30

    /// Indexes `path` into `target`; false when the file cannot be indexed (not a tar inside).
    @discardableResult
    static func build(_ path: String, into target: String) throws -> Bool {
        guard let stamp = stamp(of: path) else { throw SystemError.errno("stat", path: path) }
        let name = (path as NSString).lastPathComponent
        var members: [(name: String?, range: Range<UInt64>?)] = []
        var source = path, points: [GzipAccess.Point] = []
        let inflated = target + ".inflating-\(getpid())"
        defer { Files.remove(inflated) }
        if ContentChecks.isContainer(name) {
            if isGzipContainer(path) {
                // Index a temporary uncompressed copy, kept only while indexing.
                points = try inflate(path, to: inflated)
                source = inflated
            }
            guard let found = TarMembers.list(source) else { return false }
            members = found.filter { isDatabaseFile($0.name) && DeltaRole.of($0.name) != .skip }.map { ($0.name, $0.range) }
        } else {
            members = [(nil, nil)]
        }
        var entries: [(UInt64, UInt64)] = []
        for (number, member) in members.enumerated() {
            let ext = ((member.name ?? name) as NSString).pathExtension.lowercased()
            var line: UInt64 = 0
            try LineReader(path: source, range: member.range).forEachWithOffset { bytes, offset in
                line += 1
                guard let hash = SignatureLine.nameHash(bytes, fileExtension: ext) else { return }
                entries.append((hash | UInt64(number), offset << 24 | min(line, 0xff_ffff)))
            }
        }
        entries.sort { $0.0 < $1.0 }
        var data = Data(magic)
        func put(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) } }
        stamp.forEach(put)
        put(UInt64(members.count))
        for member in members {
            let bytes = Array((member.name ?? "").utf8)
            put(UInt64(bytes.count))
            data.append(contentsOf: bytes)
        }
        while data.count % 8 != 0 { data.append(0) }
        put(UInt64(entries.count))
        entries.forEach { put($0.0) }
        entries.forEach { put($0.1) }
        put(UInt64(points.count))
        for point in points { [point.output, point.input, UInt64(point.bits), UInt64(point.window.count)].forEach(put) }
        for point in points {
            data.append(contentsOf: point.window)
            data.append(contentsOf: [UInt8](repeating: 0, count: GzipAccess.windowSize - point.window.count))
        }
        try Files.writeAtomically(data, to: target)
        return true
    }

    /// A container whose tar is gzip-compressed (a `.cvd` as the mirrors serve it).
    static func isGzipContainer(_ path: String) -> Bool {
        guard let fd = try? Files.openRegular(path) else { return false }
        defer { close(fd) }
        var magic: [UInt8] = [0, 0]
        return pread(fd, &magic, 2, 512) == 2 && magic == [0x1f, 0x8b]
    }

    /// Writes the container's header and its inflated tar to `target`; returns the access points.
    private static func inflate(_ path: String, to target: String) throws -> [GzipAccess.Point] {
        let input = try Files.openRegular(path)
        var header = [UInt8](repeating: 0, count: 512)
        let n = pread(input, &header, 512, 0)
        close(input)
        guard n == 512 else { throw SystemError(call: "read", path: path, code: EIO) }
        let fd = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw SystemError.errno("open", path: target) }
        defer { close(fd) }
        var written: UInt64 = 0
        func write(_ bytes: UnsafeBufferPointer<UInt8>) throws {
            var done = 0
            while done < bytes.count {
                let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw SystemError.errno("write", path: target) }
                done += n
            }
            written += UInt64(bytes.count)
            guard written <= maxInflated else { throw SystemError(call: "inflate", path: path, code: EFBIG) }
        }
        try header.withUnsafeBufferPointer(write)
        return try GzipAccess.inflate(path, from: 512) { try write($0) }
    }

    /// The index was made from `path` as it is now (same device, inode, size and mtime).
    static func isCurrent(_ index: String, path: String) -> Bool {
        guard let stamp = stamp(of: path), let fd = try? Files.openRegular(index) else { return false }
        defer { close(fd) }
        var header = [UInt8](repeating: 0, count: 40)
        guard header.withUnsafeMutableBytes({ pread(fd, $0.baseAddress, 40, 0) }) == 40, Array(header[0..<8]) == magic else { return false }
        let words = (0..<4).map { i in header.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 8 + i * 8, as: UInt64.self)) } }
        return words == stamp
    }

    /// The definitions of `name` in the file `index` describes, when the index is of
    /// `path` as it is now; nil when the index is missing or stale.
    static func lookup(_ name: String, index: String, path: String) -> [Hit]? {
        guard let stamp = stamp(of: path), let fd = try? Files.openRegular(index) else { return nil }
        defer { close(fd) }
        var position: UInt64 = 0
        func read(_ count: Int) -> [UInt8]? {
            var bytes = [UInt8](repeating: 0, count: count)
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(position)) }
            guard n == count else { return nil }
            position += UInt64(count)
            return bytes
        }
        func word() -> UInt64? { read(8).map { $0.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) } } }
        guard read(8) == magic, (0..<4).compactMap({ _ in word() }) == stamp, let count = word(), count < 0x10000 else { return nil }
        var members: [String?] = []
        for _ in 0..<count {
            guard let length = word(), length < 4096, let bytes = read(Int(length)) else { return nil }
            members.append(bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self))
        }
        position = (position + 7) / 8 * 8
        guard let entries = word() else { return nil }
        let keys = position, values = position + entries * 8
        func key(_ i: UInt64) -> UInt64? {
            position = keys + i * 8
            return word()
        }
        let wanted = SignatureFileIndex.hash(definedName(name))
        var low: UInt64 = 0, high = entries
        while low < high {
            let mid = (low + high) / 2
            guard let value = key(mid) else { return nil }
            if value & ~0xffff < wanted { low = mid + 1 } else { high = mid }
        }
        var hits: [Hit] = []
        var i = low
        while i < entries, let value = key(i), value & ~0xffff == wanted {
            position = values + i * 8
            guard let packed = word(), Int(value & 0xffff) < members.count else { return nil }
            hits.append(Hit(member: members[Int(value & 0xffff)], line: Int(packed & 0xff_ffff), offset: packed >> 24))
            i += 1
        }
        // Access points: a table of (output, input, bits, window length), then the windows.
        position = values + entries * 8
        guard !hits.isEmpty, let count = word(), count > 0 else { return hits }
        guard count < 1 << 20 else { return nil }
        let table = position
        for h in hits.indices {
            guard hits[h].offset >= 512 else { return nil }
            let wanted = hits[h].offset - 512
            var low: UInt64 = 0, high = count // the first point past `wanted`
            while low < high {
                let mid = (low + high) / 2
                position = table + mid * 32
                guard let output = word() else { return nil }
                if output <= wanted { low = mid + 1 } else { high = mid }
            }
            guard low > 0 else { return nil }
            position = table + (low - 1) * 32
            guard let output = word(), let input = word(), let bits = word(), bits < 8, let length = word(),
                  length <= UInt64(GzipAccess.windowSize) else { return nil }
            position = table + count * 32 + (low - 1) * UInt64(GzipAccess.windowSize)
            guard let window = read(Int(length)) else { return nil }
            hits[h].offset = wanted
            hits[h].point = GzipAccess.Point(output: output, input: input, bits: Int(bits), window: window)
        }
        return hits
    }
}

/// The members of an uncompressed tar behind a CVD/CLD header, with their byte ranges.
enum TarMembers {
    static func list(_ path: String) -> [(name: String, range: Range<UInt64>)]? {
        guard let fd = try? Files.openRegular(path) else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return nil }
        let fileSize = UInt64(st.st_size)
        var header = [UInt8](repeating: 0, count: 512)
        var position: UInt64 = 512 // the container's own header
        var members: [(String, Range<UInt64>)] = []
        while true {
            let n = header.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 512, off_t(position)) }
            // sigtool's tar ends right after its last member, others with zero blocks; a file
            // that stops inside a header or a member is cut short and not indexed.
            if n == 0 && !members.isEmpty { return members }
            guard n == 512 else { return nil }
            // gzip data is not a tar: `build` inflates such containers before listing them.
            if position == 512 && header[0] == 0x1f && header[1] == 0x8b { return nil }
            if header.allSatisfy({ $0 == 0 }) { return members }
            // The header checksum: the sum of its bytes with the checksum field read as spaces.
            let stored = String(decoding: header[148..<156].prefix { $0 != 0 && $0 != 0x20 }, as: UTF8.self)
            let sum = header.enumerated().reduce(0) { $0 + Int((148..<156).contains($1.offset) ? 0x20 : $1.element) }
            guard let checksum = Int(stored, radix: 8), checksum == sum else { return nil }
            let name = String(decoding: header[0..<100].prefix { $0 != 0 }, as: UTF8.self)
            let sizeText = String(decoding: header[124..<136].prefix { $0 != 0 && $0 != 0x20 }, as: UTF8.self)
            guard let size = UInt64(sizeText, radix: 8), !name.isEmpty else { return nil }
            let start = position + 512
            guard start + size <= fileSize else { return nil }
            members.append((name, start..<(start + size)))
            position = start + (size + 511) / 512 * 512
        }
    }
}
