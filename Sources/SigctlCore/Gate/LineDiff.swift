import Foundation

/// The line-level comparisons behind the delta scan: each side of a file is held as a
/// sorted array of 64-bit line hashes (8 bytes a line), never as text.
extension SetDelta {
    /// The same file, or two files with the same bytes.
    static func sameContent(_ a: String, _ b: String) throws -> Bool {
        var sa = stat(), sb = stat()
        guard stat(a, &sa) == 0 else { throw SystemError.errno("stat", path: a) }
        guard stat(b, &sb) == 0 else { throw SystemError.errno("stat", path: b) }
        if sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino { return true }
        guard sa.st_size == sb.st_size else { return false }
        let fa = try Files.openRegular(a)
        defer { close(fa) }
        let fb = try Files.openRegular(b)
        defer { close(fb) }
        let size = 1 << 20
        var ba = [UInt8](repeating: 0, count: size), bb = [UInt8](repeating: 0, count: size)
        while true {
            let na = ba.withUnsafeMutableBytes { read(fa, $0.baseAddress, size) }
            var nb = 0
            while nb < na {
                let n = bb.withUnsafeMutableBytes { read(fb, $0.baseAddress! + nb, na - nb) }
                guard n > 0 else { break }
                nb += n
            }
            guard na >= 0, na == nb else { return false }
            if na == 0 { return true }
            if ba[0..<na] != bb[0..<nb] { return false }
        }
    }

    /// Both absent, or both present with the same bytes.
    static func same(_ a: String?, _ b: String?) throws -> Bool {
        switch (a, b) {
        case (nil, nil): true
        case let (a?, b?): try sameContent(a, b)
        default: false
        }
    }

    /// Sorted hashes of a file's entries (comments and blank lines left out).
    static func lineHashes(_ path: String?) throws -> [UInt64] {
        guard let path else { return [] }
        var hashes: [UInt64] = []
        try LineReader(path: path).forEach { line in
            guard let first = line.first, first != UInt8(ascii: "#") else { return }
            hashes.append(LineReader.hash(line))
        }
        hashes.sort()
        return hashes
    }

    static func contains(_ sorted: [UInt64], _ value: UInt64) -> Bool {
        var low = 0, high = sorted.count
        while low < high {
            let mid = (low + high) / 2
            if sorted[mid] < value { low = mid + 1 } else { high = mid }
        }
        return low < sorted.count && sorted[low] == value
    }

    /// How many entries `new` has that `old` lacks, and the other way round.
    static func lineChanges(_ old: String?, _ new: String?) throws -> (added: Int, removed: Int) {
        let before = try lineHashes(old), after = try lineHashes(new)
        return (after.filter { !contains(before, $0) }.count, before.filter { !contains(after, $0) }.count)
    }

    /// Adds the name hash of every line that one side has and the other lacks. Returns
    /// true when such a line takes part in a macro (an .ndb line in a macro group, "$N" as
    /// its offset, or a logical signature using "${min-max}N$"): those tie signatures of
    /// different names together, so only the whole sets can tell.
    @discardableResult
    static func changedNames(old: String?, new: String?, into names: inout Set<UInt64>) throws -> Bool {
        let before = try lineHashes(old), after = try lineHashes(new)
        var macro = false
        for (path, other) in [(old, after), (new, before)] {
            guard let path else { continue }
            let ext = (path as NSString).pathExtension.lowercased()
            try LineReader(path: path).forEach { line in
                guard let name = SignatureLine.nameHash(line, fileExtension: ext), !contains(other, LineReader.hash(line)) else { return }
                names.insert(name)
                if !macro, ext == "ndb" || ext == "ndu" || ext == "ldb" || ext == "ldu", usesMacro(line) { macro = true }
            }
        }
        return macro
    }

    /// "${" anywhere, or a "$" offset field in a body signature.
    static func usesMacro(_ line: UnsafeBufferPointer<UInt8>) -> Bool {
        let dollar = UInt8(ascii: "$")
        for i in 0..<line.count where line[i] == dollar {
            if i + 1 < line.count && line[i + 1] == UInt8(ascii: "{") { return true }
            if i > 0 && line[i - 1] == UInt8(ascii: ":") { return true }
        }
        return false
    }

    /// Writes the lines of `source` whose names are in `names` to `target`; returns how many.
    static func extract(_ source: String, names: Set<UInt64>, to target: String) throws -> Int {
        let ext = (source as NSString).pathExtension.lowercased()
        var output = Data()
        var kept = 0
        try LineReader(path: source).forEach { line in
            guard let name = SignatureLine.nameHash(line, fileExtension: ext), names.contains(name) else { return }
            output.append(line.baseAddress!, count: line.count)
            output.append(0x0a)
            kept += 1
        }
        if kept > 0 { try Files.writeAtomically(output, to: target) }
        return kept
    }

    /// The 48-bit hash of the name a line defines (see `SignatureLine`).


    /// Removes cached container contents that no file of the live set uses any more.
    static func prune(_ cache: String, keeping used: Set<String>) {
        for entry in Files.list(cache) where !used.contains(entry) { Files.remove(cache + "/" + entry) }
    }
}
