import CClamAV
import Foundation

/// Random access into the gzip stream of a compressed `.cvd` (main.cvd as the mirrors
/// serve it). Inflating once records an access point about every MiB of output: where
/// a deflate block starts in the file, and the 32 KiB of output before it (deflate's
/// window). Reading at an output offset then inflates at most a MiB from the nearest
/// point before it, so `explain` reads one line without unpacking the container.
struct GzipAccess {
    struct Point: Equatable {
        /// Offset in the uncompressed stream.
        var output: UInt64
        /// File offset of the first whole byte of the block.
        var input: UInt64
        /// How many low bits of the byte before `input` the block starts with (0–7).
        var bits: Int
        /// The output just before the point (up to 32 KiB).
        var window: [UInt8]
    }

    static let windowSize = 32768
    static let span: UInt64 = 1 << 20

    /// Inflates the gzip stream that starts at `start` in `path`, handing each piece of
    /// output to `output`, and returns the access points.
    static func inflate(_ path: String, from start: UInt64, output: (UnsafeBufferPointer<UInt8>) throws -> Void) throws -> [Point] {
        let fd = try Files.openRegular(path)
        defer { close(fd) }
        let inflater = try ZlibInflater(path: path, gzip: true)
        let z = inflater.stream
        let chunk = 1 << 16
        let input = UnsafeMutablePointer<UInt8>.allocate(capacity: chunk)
        let window = UnsafeMutablePointer<UInt8>.allocate(capacity: windowSize)
        defer { input.deallocate(); window.deallocate() }
        var position = start, totalIn: UInt64 = 0, totalOut: UInt64 = 0, last: UInt64 = 0
        var points: [Point] = []
        var code = Z_OK
        repeat {
            let n = pread(fd, input, chunk, off_t(position))
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError.errno("read", path: path)
            }
            guard n > 0 else { throw SystemError(call: "inflate", path: path, code: EIO) } // cut short
            position += UInt64(n)
            z.pointee.next_in = input
            z.pointee.avail_in = uInt(n)
            repeat {
                if z.pointee.avail_out == 0 {
                    z.pointee.next_out = window
                    z.pointee.avail_out = uInt(windowSize)
                }
                let before = z.pointee.next_out!
                totalIn += UInt64(z.pointee.avail_in)
                totalOut += UInt64(z.pointee.avail_out)
                code = try inflater.inflate(Z_BLOCK)
                totalIn -= UInt64(z.pointee.avail_in)
                totalOut -= UInt64(z.pointee.avail_out)
                try output(UnsafeBufferPointer(start: before, count: z.pointee.next_out! - before))
                if code == Z_STREAM_END { break }
                // At the end of a block (and not the last one) the inflater holds no output
                // and at most 7 bits of input: a place to start again from.
                let type = z.pointee.data_type
                if type & 128 != 0, type & 64 == 0, totalOut == 0 || totalOut - last > span {
                    let left = Int(z.pointee.avail_out)
                    var saved = [UInt8](UnsafeBufferPointer(start: window + (windowSize - left), count: left))
                    saved += UnsafeBufferPointer(start: window, count: windowSize - left)
                    if totalOut < UInt64(windowSize) { saved = Array(saved.suffix(Int(totalOut))) }
                    points.append(Point(output: totalOut, input: start + totalIn, bits: Int(type & 7), window: saved))
                    last = totalOut
                }
            } while z.pointee.avail_in != 0
        } while code != Z_STREAM_END
        return points
    }

    /// Up to `count` bytes of the uncompressed stream from `offset`, inflated from the
    /// nearest access point before it; nil when the data there cannot be read.
    static func read(_ path: String, points: [Point], at offset: UInt64, count: Int) -> [UInt8]? {
        guard let point = points.last(where: { $0.output <= offset }), let fd = try? Files.openRegular(path) else { return nil }
        defer { close(fd) }
        guard let inflater = try? ZlibInflater(path: path, gzip: false) else { return nil }
        let z = inflater.stream
        var position = point.input
        if point.bits > 0 {
            var byte: UInt8 = 0
            guard pread(fd, &byte, 1, off_t(point.input - 1)) == 1,
                  inflatePrime(z, Int32(point.bits), Int32(byte >> (8 - point.bits))) == Z_OK else { return nil }
        }
        if !point.window.isEmpty {
            guard point.window.withUnsafeBufferPointer({ inflateSetDictionary(z, $0.baseAddress, uInt($0.count)) }) == Z_OK else { return nil }
        }
        let chunk = 1 << 16
        let input = UnsafeMutablePointer<UInt8>.allocate(capacity: chunk)
        let output = UnsafeMutablePointer<UInt8>.allocate(capacity: chunk)
        defer { input.deallocate(); output.deallocate() }
        var skip = offset - point.output
        var result: [UInt8] = []
        while result.count < count {
            if z.pointee.avail_in == 0 {
                let n = pread(fd, input, chunk, off_t(position))
                guard n > 0 else { break }
                position += UInt64(n)
                z.pointee.next_in = input
                z.pointee.avail_in = uInt(n)
            }
            z.pointee.next_out = output
            z.pointee.avail_out = uInt(chunk)
            guard let code = try? inflater.inflate(Z_NO_FLUSH) else { return nil }
            let produced = chunk - Int(z.pointee.avail_out)
            let dropped = Int(min(skip, UInt64(produced)))
            skip -= UInt64(dropped)
            result += UnsafeBufferPointer(start: output + dropped, count: produced - dropped).prefix(count - result.count)
            if code == Z_STREAM_END || (code == Z_BUF_ERROR && z.pointee.avail_in != 0) { break }
        }
        return skip == 0 && !result.isEmpty ? result : nil
    }
}
