import Foundation

/// Reads a text file (or a byte range of one, such as a member of a tar) line by line
/// in 1 MiB chunks, so a database file of any size costs a fixed amount of memory.
/// Lines are handed over without "\n" or a final "\r".
struct LineReader {
    let path: String
    /// The bytes to read: the whole file when nil.
    var range: Range<UInt64>? = nil

    /// Calls `body` with each line's bytes (valid only during the call).
    func forEach(_ body: (UnsafeBufferPointer<UInt8>) throws -> Void) throws {
        try forEachWithOffset { line, _ in try body(line) }
    }

    /// Calls `body` with each line's bytes and the file offset where the line starts.
    func forEachWithOffset(_ body: (UnsafeBufferPointer<UInt8>, UInt64) throws -> Void) throws {
        let fd = try Files.openRegular(path)
        defer { close(fd) }
        let size = 1 << 20
        var buffer = [UInt8](repeating: 0, count: size)
        var carry: [UInt8] = []
        var position = range?.lowerBound ?? 0
        let end = range?.upperBound ?? UInt64.max
        var lineStart = position
        func emit(_ line: UnsafeBufferPointer<UInt8>) throws {
            var count = line.count
            if count > 0, line[count - 1] == 0x0d { count -= 1 }
            try body(UnsafeBufferPointer(rebasing: line[0..<count]), lineStart)
        }
        while position < end {
            let wanted = Int(min(UInt64(size), end - position))
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, wanted, off_t(position)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError.errno("read", path: path)
            }
            if n == 0 { break }
            let chunkStart = position
            try buffer.withUnsafeBufferPointer { chunk in
                var start = 0
                for i in 0..<n where chunk[i] == 0x0a {
                    if carry.isEmpty {
                        try emit(UnsafeBufferPointer(rebasing: chunk[start..<i]))
                    } else {
                        carry.append(contentsOf: chunk[start..<i])
                        try carry.withUnsafeBufferPointer { try emit($0) }
                        carry.removeAll(keepingCapacity: true)
                    }
                    start = i + 1
                    lineStart = chunkStart + UInt64(start)
                }
                carry.append(contentsOf: chunk[start..<n])
            }
            position += UInt64(n)
        }
        if !carry.isEmpty { try carry.withUnsafeBufferPointer { try emit($0) } }
    }

    /// FNV-1a, 64 bits, over a line's bytes.
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            value ^= UInt64(byte)
            value &*= 0x0000_0100_0000_01b3
        }
        return value
    }
}
