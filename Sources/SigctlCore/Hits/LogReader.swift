import CClamAV
import Foundation

/// Reads a mail log (plain or gzip-compressed, told apart by its first bytes, from a file
/// or a pipe) line by line in 1 MiB pieces: memory stays the same for a log of any size.
enum LogReader {
    /// Longer lines are skipped and counted: no mail daemon writes them.
    static let maxLine = 64 * 1024
    static let chunk = 1 << 20

    /// Calls `body` with each line, without "\n" or a final "\r" (valid only during the
    /// call); returns how many lines were too long to read.
    static func forEachLine(fd: Int32, name: String, _ body: (UnsafeBufferPointer<UInt8>) -> Void) throws -> Int {
        var splitter = LineSplitter()
        let input = UnsafeMutablePointer<UInt8>.allocate(capacity: chunk)
        defer { input.deallocate() }
        func fill() throws -> Int {
            while true {
                let n = read(fd, input, chunk)
                if n < 0 && errno == EINTR { continue }
                guard n >= 0 else { throw SystemError.errno("read", path: name) }
                return n
            }
        }
        var n = try fill()
        if n >= 2 && input[0] == 0x1f && input[1] == 0x8b {
            try inflate(first: n, input: input, name: name, fill: fill) { splitter.feed($0, body) }
        } else {
            while n > 0 {
                splitter.feed(UnsafeBufferPointer(start: input, count: n), body)
                n = try fill()
            }
        }
        splitter.finish(body)
        return splitter.tooLong
    }

    /// Inflates gzip members (one or more, back to back) as they are read.
    private static func inflate(first: Int, input: UnsafeMutablePointer<UInt8>, name: String, fill: () throws -> Int,
                                _ output: (UnsafeBufferPointer<UInt8>) -> Void) throws {
        let inflater = try ZlibInflater(path: name, gzip: true)
        let z = inflater.stream
        let out = UnsafeMutablePointer<UInt8>.allocate(capacity: chunk)
        defer { out.deallocate() }
        var n = first
        var ended = false
        while n > 0 {
            z.pointee.next_in = input
            z.pointee.avail_in = uInt(n)
            while z.pointee.avail_in > 0 {
                if ended {
                    // Another member follows the one that ended.
                    try inflater.reset()
                    ended = false
                }
                z.pointee.next_out = out
                z.pointee.avail_out = uInt(chunk)
                let code = try inflater.inflate(Z_NO_FLUSH)
                let produced = chunk - Int(z.pointee.avail_out)
                if produced > 0 { output(UnsafeBufferPointer(start: out, count: produced)) }
                if code == Z_STREAM_END { ended = true } else if code == Z_BUF_ERROR && produced == 0 { break }
            }
            n = try fill()
        }
        // A member cut short: what was inflated has been read; the rest is missing.
        guard ended else { throw SystemError(call: "inflate", path: name, code: EIO) }
    }
}

/// Cuts a stream of bytes into lines with memchr, keeping only the unfinished last line.
struct LineSplitter {
    private var carry: [UInt8] = []
    private var skipping = false
    private(set) var tooLong = 0

    mutating func feed(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        guard let base = bytes.baseAddress else { return }
        var start = 0
        while start < bytes.count {
            guard let hit = memchr(base + start, 0x0a, bytes.count - start) else {
                keep(UnsafeBufferPointer(start: base + start, count: bytes.count - start))
                return
            }
            let end = UnsafeRawPointer(hit).assumingMemoryBound(to: UInt8.self) - base
            if skipping {
                skipping = false
            } else if carry.isEmpty {
                if end - start > LogReader.maxLine {
                    tooLong += 1
                } else {
                    emit(UnsafeBufferPointer(start: base + start, count: end - start), body)
                }
            } else {
                keep(UnsafeBufferPointer(start: base + start, count: end - start))
                if !skipping { carry.withUnsafeBufferPointer { emit($0, body) } }
                skipping = false
                carry.removeAll(keepingCapacity: true)
            }
            start = end + 1
        }
    }

    mutating func finish(_ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        if !carry.isEmpty && !skipping { carry.withUnsafeBufferPointer { emit($0, body) } }
        carry.removeAll()
        skipping = false
    }

    private mutating func keep(_ piece: UnsafeBufferPointer<UInt8>) {
        guard !skipping else { return }
        if carry.count + piece.count > LogReader.maxLine {
            tooLong += 1
            skipping = true
            carry.removeAll(keepingCapacity: true)
            return
        }
        carry.append(contentsOf: piece)
    }

    private func emit(_ line: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        var count = line.count
        if count > 0, line[count - 1] == 0x0d { count -= 1 }
        body(UnsafeBufferPointer(start: line.baseAddress, count: count))
    }
}
