import Foundation

/// Where a database line keeps its signature name, by file type, as libclamav reads it:
/// hash files (and .fp, .sfp, .imp) in the third ":" field, logical signatures before the
/// first ";", old .db files before "=", .ign in the third field (a short line: the first),
/// and everything else (.ndb, .cdb, .idb, .ign2…) before the first ":".
enum SignatureLine {
    /// The byte range of the name in `line`; nil for comments, blank lines and lines without one.
    static func nameRange(_ line: UnsafeBufferPointer<UInt8>, fileExtension ext: String) -> Range<Int>? {
        guard let first = line.first, first != UInt8(ascii: "#") else { return nil }
        let colon = UInt8(ascii: ":")
        func field(_ index: Int, _ separator: UInt8) -> Range<Int>? {
            var start = 0, number = 0
            for i in 0..<line.count where line[i] == separator {
                if number == index { return start..<i }
                number += 1
                start = i + 1
            }
            return number == index ? start..<line.count : nil
        }
        switch ext {
        case "hdb", "hsb", "mdb", "msb", "hdu", "hsu", "mdu", "msu", "fp", "sfp", "imp": return field(2, colon)
        case "ldb", "ldu": return field(0, UInt8(ascii: ";"))
        case "db": return field(0, UInt8(ascii: "="))
        case "ign": return field(2, colon) ?? field(0, colon)
        default: return field(0, colon)
        }
    }

    /// The name as text.
    static func name(_ line: Substring, fileExtension ext: String) -> Substring? {
        var text = String(line)
        guard let range = text.withUTF8({ nameRange($0, fileExtension: ext) }) else { return nil }
        let utf8 = line.utf8
        return Substring(utf8[utf8.index(utf8.startIndex, offsetBy: range.lowerBound)..<utf8.index(utf8.startIndex, offsetBy: range.upperBound)])
    }

    /// The name's 48-bit hash, as `SignatureFileIndex` keeps it.
    static func nameHash(_ line: UnsafeBufferPointer<UInt8>, fileExtension ext: String) -> UInt64? {
        nameRange(line, fileExtension: ext).map { SignatureFileIndex.hash(UnsafeBufferPointer(rebasing: line[$0])) }
    }
}
