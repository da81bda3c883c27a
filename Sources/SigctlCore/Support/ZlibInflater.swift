import CClamAV
import Foundation

/// One zlib inflate stream at a fixed address (zlib checks that it is not moved),
/// ended when dropped.
final class ZlibInflater {
    let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    let path: String

    init(path: String, gzip: Bool) throws {
        self.path = path
        stream.initialize(to: z_stream())
        let code = gzip ? sigctl_inflate_init_gzip(stream) : sigctl_inflate_init_raw(stream)
        guard code == Z_OK else {
            stream.deallocate()
            throw SystemError(call: "inflateInit2", path: path, code: ENOMEM)
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
    }

    /// One inflate call; a data error becomes a Swift error at once.
    func inflate(_ flush: Int32) throws -> Int32 {
        let code = CClamAV.inflate(stream, flush)
        guard code == Z_OK || code == Z_STREAM_END || code == Z_BUF_ERROR else {
            throw SystemError(call: "inflate", path: path, code: code == Z_MEM_ERROR ? ENOMEM : EIO)
        }
        return code
    }

    /// Starts a new gzip member (logrotate's files have one, `cat a.gz b.gz` has two).
    func reset() throws {
        guard inflateReset(stream) == Z_OK else { throw SystemError(call: "inflateReset", path: path, code: EIO) }
    }
}
