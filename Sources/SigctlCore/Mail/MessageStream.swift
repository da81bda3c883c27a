import Foundation

/// The messages behind command-line paths, read one at a time as the scanners ask for
/// them: a directory is walked when its turn comes, a single-message file is read when
/// it is next, and an mbox (a file or stdin starting with "From ") is split as it is
/// read, so memory holds the messages being scanned, never the corpus.
public final class MessageStream: @unchecked Sendable {
    private var pending: [String]
    private var mbox: MboxReader?
    private let lock = NSLock()

    /// When set, only messages with these labels are handed out (the others are read and dropped).
    public var only: Set<String>?

    public init(_ paths: [String]) {
        pending = paths
    }

    /// The next message, or nil at the end. Safe to call from several threads.
    public func next() -> MessageSource? {
        lock.lock()
        defer { lock.unlock() }
        while let message = take() {
            if only?.contains(message.label) ?? true { return message }
        }
        return nil
    }

    private func take() -> MessageSource? {
        while true {
            if let reader = mbox {
                if let message = reader.next() { return message }
                mbox = nil
            }
            guard !pending.isEmpty else { return nil }
            let path = pending.removeFirst()
            if path != "-" && Files.isDirectory(path) {
                pending.insert(contentsOf: MessageCollector.walk(path), at: 0)
                continue
            }
            let fd = path == "-" ? dup(0) : open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return MessageSource(path: path, index: nil, data: nil, error: "cannot read the file") }
            let reader = MboxReader(fd: fd, path: path)
            guard reader.isMbox else {
                let data = reader.rest()
                return data.map { MessageSource(path: path, index: nil, data: $0, error: nil) }
                    ?? MessageSource(path: path, index: nil, data: nil, error: "cannot read the file")
            }
            mbox = reader
        }
    }
}

/// Splits an mbox as it reads it: a message ends where a "From " line follows a blank line.
final class MboxReader {
    private let fd: Int32
    let path: String
    private var buffer = Data()
    /// Where the unread part of `buffer` starts.
    private var start = 0
    private var eof = false
    private var number = 0
    private(set) var isMbox = false
    private static let from = Array("From ".utf8)

    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
        while buffer.count < 5 && fill() {}
        isMbox = buffer.starts(with: Self.from)
    }

    deinit { close(fd) }

    /// Reads up to 1 MiB more; false at the end of the input.
    @discardableResult
    private func fill() -> Bool {
        guard !eof else { return false }
        if start > 0 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var n: Int
        repeat { n = read(fd, &chunk, chunk.count) } while n < 0 && errno == EINTR
        guard n > 0 else {
            eof = true
            return false
        }
        buffer.append(contentsOf: chunk[0..<n])
        return true
    }

    /// Everything left (a single message).
    func rest() -> Data? {
        while fill() {}
        return buffer
    }

    func next() -> MessageSource? {
        var searched = 0
        while true {
            if let end = boundary(from: start + max(1, searched)) {
                number += 1
                defer { start = end }
                return MessageSource(path: path, index: number, data: Data(buffer[start..<end]), error: nil)
            }
            searched = max(1, buffer.count - start - 8)
            if !fill() {
                guard start < buffer.count else { return nil }
                number += 1
                defer { start = buffer.count }
                return MessageSource(path: path, index: number, data: Data(buffer[start...]), error: nil)
            }
        }
    }

    /// Where the next message starts: after "\n\n" or "\n\r\n" that a "From " line follows.
    private func boundary(from start: Int) -> Int? {
        buffer.withUnsafeBytes { raw -> Int? in
            let bytes = raw.bindMemory(to: UInt8.self)
            var i = max(0, start - 1)
            while i + 6 < bytes.count {
                if bytes[i] == 0x0a {
                    var j = i + 1
                    if j < bytes.count && bytes[j] == 0x0d { j += 1 }
                    if j < bytes.count && bytes[j] == 0x0a, j + 5 < bytes.count,
                       bytes[j + 1] == 0x46, bytes[j + 2] == 0x72, bytes[j + 3] == 0x6f, bytes[j + 4] == 0x6d, bytes[j + 5] == 0x20 {
                        return j + 1
                    }
                }
                i += 1
            }
            return nil
        }
    }
}
