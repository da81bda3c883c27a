import CClamAV
import Foundation

/// Which database file defines each signature name, in 8 bytes a signature: a sorted
/// array of 48-bit name hashes, each with its file's number in the low 16 bits. At the
/// official set's 8.7M signatures that is 70 MB, where a dictionary of names is over a GB.
/// Two names that share a 48-bit hash (about one pair in eight million squared over
/// 2^49) may be attributed to the wrong one of their files.
public struct SignatureFileIndex: Sendable {
    public let files: [String]
    private let keys: [UInt64]

    init(files: [String], keys: [UInt64]) {
        self.files = files
        self.keys = keys.sorted()
    }

    /// FNV-1a over the name's bytes, top 48 bits.
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            value ^= UInt64(byte)
            value &*= 0x0000_0100_0000_01b3
        }
        return value & ~0xffff
    }

    static func hash(_ name: String) -> UInt64 {
        var name = name
        return name.withUTF8 { hash($0) }
    }

    /// The file that defines `name` (as libclamav reports it, `.UNOFFICIAL` and all).
    public func file(of name: String) -> String? {
        let wanted = Self.hash(definedName(name))
        var low = 0, high = keys.count
        while low < high {
            let mid = (low + high) / 2
            if keys[mid] & ~0xffff < wanted { low = mid + 1 } else { high = mid }
        }
        guard low < keys.count, keys[low] & ~0xffff == wanted else { return nil }
        return files[Int(keys[low] & 0xffff)]
    }

    public var count: Int { keys.count }
}

/// Collects name hashes from `cl_engine_set_clcb_sigload` while one file loads.
final class SignatureHashCollector {
    var file: UInt64 = 0
    var keys: [UInt64] = []
}

extension ClamEngine {
    /// Loads `directory` as `loadDirectory` does and indexes which file defines each
    /// signature (nothing is attributed when libclamav's order is unknown).
    /// - Parameter liveDirectory: the directory clamd loads, when `directory` is a copy of it.
    public func loadDirectoryIndexed(_ directory: String, options: LoadOptions, liveDirectory: String? = nil) throws -> SignatureFileIndex {
        let collector = SignatureHashCollector()
        let context = Unmanaged.passRetained(collector)
        defer { context.release() }
        cl_engine_set_clcb_sigload(pointer, ClamEngine.hashingSigload, context.toOpaque())
        defer { cl_engine_set_clcb_sigload(pointer, nil, nil) }
        var files: [String] = []
        let counts = try loadDirectory(directory, options: options, liveDirectory: liveDirectory ?? directory) { number, name in
            collector.file = UInt64(min(number, 0xffff))
            files.append(name)
        }
        return counts == nil ? SignatureFileIndex(files: [], keys: []) : SignatureFileIndex(files: files, keys: collector.keys)
    }

    static let hashingSigload: clcb_sigload = { _, name, _, context in
        guard let name, let context else { return 0 }
        let collector = Unmanaged<SignatureHashCollector>.fromOpaque(context).takeUnretainedValue()
        let length = strlen(name)
        let key = name.withMemoryRebound(to: UInt8.self, capacity: length) {
            SignatureFileIndex.hash(UnsafeBufferPointer(start: $0, count: length))
        }
        collector.keys.append(key | collector.file)
        return 0
    }
}
