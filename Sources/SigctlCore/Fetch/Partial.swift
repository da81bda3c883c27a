import Foundation

/// A download that broke off after some bytes. It is kept in
/// `state_dir/partial/FEED/FILE` with the URL and strong ETag it came with, so
/// the next attempt at the same URL asks only for the rest (`Range` plus
/// `If-Range`: a mirror whose file changed meanwhile sends it whole instead).
struct Partial: Codable {
    /// sha256 of the URL (the URL itself may carry a secret).
    var url: String
    var etag: String
    var bytes: Int64

    static func paths(_ root: String, feed: String, file: String) -> (data: String, meta: String) {
        let base = root + "/\(feed)/\(file)"
        return (base, base + ".json")
    }

    /// The kept partial download for this URL, if its bytes are all there.
    static func load(_ root: String, feed: String, file: String, url: String) -> Partial? {
        let (data, meta) = paths(root, feed: feed, file: file)
        guard let json = FileManager.default.contents(atPath: meta),
              let partial = try? JSONDecoder().decode(Partial.self, from: json),
              partial.url == digest(url), Files.size(data) == partial.bytes, partial.bytes > 0 else { return nil }
        return partial
    }

    /// Keeps what a broken transfer delivered, when the server named the version
    /// with a strong ETag (a weak one cannot be used with If-Range).
    static func keep(_ root: String, feed: String, file: String, url: String, error: CurlError,
                     received: String, earlier: Partial?) {
        defer { unlink(received) }
        guard error.kind == .partial || error.kind == .timeout, error.bodyBytes > 0,
              let etag = error.headers["etag"], !etag.hasPrefix("W/") else { return }
        let (data, meta) = paths(root, feed: feed, file: file)
        do {
            try Files.makeDirectory((data as NSString).deletingLastPathComponent)
            if error.status == 206, let earlier, earlier.etag == etag {
                try append(received, to: data)
            } else if error.status == 200 {
                unlink(data)
                guard rename(received, data) == 0 else { return }
            } else {
                return
            }
            let partial = Partial(url: digest(url), etag: etag, bytes: Files.size(data) ?? 0)
            try Files.writeAtomically(try JSONEncoder().encode(partial), to: meta)
        } catch {
            discard(root, feed: feed, file: file)
        }
    }

    /// Joins the kept bytes and the rest that a 206 delivered into `rest`'s path.
    /// The 206 must be of the same version (its ETag) and make up the whole (Content-Range's total).
    static func complete(_ root: String, feed: String, file: String, partial: Partial, rest: String,
                         contentRange: String?, etag: String?) throws {
        guard let contentRange, contentRange.hasPrefix("bytes \(partial.bytes)-") else {
            throw CommandError("the mirror answered a different range (\(contentRange ?? "none"))")
        }
        guard etag == partial.etag else {
            throw CommandError("the mirror sent the rest of another version (ETag \(etag ?? "none"), not \(partial.etag))")
        }
        let (data, _) = paths(root, feed: feed, file: file)
        if let total = contentRange.split(separator: "/").last.flatMap({ Int64($0) }),
           partial.bytes + (Files.size(rest) ?? 0) != total {
            throw CommandError("the parts do not add up to the \(total) bytes the mirror announced")
        }
        try append(rest, to: data)
        guard rename(data, rest) == 0 else { throw SystemError.errno("rename", path: rest) }
        discard(root, feed: feed, file: file)
    }

    static func digest(_ url: String) -> String { (try? ClamAV.hash("sha256", Data(url.utf8))) ?? url }

    static func discard(_ root: String, feed: String, file: String) {
        let (data, meta) = paths(root, feed: feed, file: file)
        unlink(data)
        unlink(meta)
    }

    private static func append(_ source: String, to destination: String) throws {
        guard let input = FileHandle(forReadingAtPath: source) else { throw SystemError.errno("open", path: source) }
        defer { try? input.close() }
        guard let output = FileHandle(forWritingAtPath: destination) else { throw SystemError.errno("open", path: destination) }
        defer { try? output.close() }
        try output.seekToEnd()
        while let chunk = try input.read(upToCount: 1 << 16), !chunk.isEmpty {
            try output.write(contentsOf: chunk)
        }
    }
}
