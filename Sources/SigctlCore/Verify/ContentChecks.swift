import Foundation

/// Why a downloaded file was not accepted.
public struct Rejection: Error, CustomStringConvertible, Sendable {
    public let reason: String
    public let hint: String
    /// The problem is upstream's, not one mirror's: other mirrors serve the same file.
    public let upstream: Bool
    public init(_ reason: String, hint: String, upstream: Bool = false) {
        self.reason = reason
        self.hint = hint
        self.upstream = upstream
    }
    public var description: String { "\(reason); \(hint)" }
}

/// Checks that run on a download before it goes anywhere near libclamav.
public enum ContentChecks {
    /// CVD-style containers are binary; their own signature is checked by libclamav.
    static func isContainer(_ name: String) -> Bool {
        let lower = name.lowercased()
        return lower.hasSuffix(".cvd") || lower.hasSuffix(".cld") || lower.hasSuffix(".cud")
    }

    /// Database types where libclamav counts one signature per line, so the loaded
    /// count can be compared with the file's. Allow lists, configuration, phishing
    /// and YARA files count differently.
    public static func countsOnePerLine(_ name: String) -> Bool {
        guard let dot = name.lastIndex(of: ".") else { return false }
        let ext = name[name.index(after: dot)...].lowercased()
        return ["ndb", "ndu", "hdb", "hdu", "hsb", "hsu", "mdb", "mdu", "msb", "msu", "ldb", "ldu", "cdb", "idb", "db",
                "cvd", "cld", "cud"].contains(ext)
    }

    /// Rejects empty files, HTML pages, unexpected gzip and blank lines.
    /// Returns the number of signatures (non-comment lines, or the CVD header's count).
    /// `requireFinalNewline`: a feed without a checksum cannot tell a cut download from a
    /// whole one by anything but its end, so its text files must end with a newline.
    /// Reads the file in chunks: memory stays bounded however big the download is.
    public static func check(path: String, name: String, contentType: String?, requireFinalNewline: Bool = false) throws -> Int {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw Rejection("the download could not be read back", hint: "check free space in the state directory")
        }
        defer { try? handle.close() }
        let unreadable = Rejection("the download could not be read back", hint: "check free space in the state directory")
        // read(upToCount:) returns nil at the end of the file, and throws on a read error.
        func read(_ count: Int) throws -> Data {
            do { return try handle.read(upToCount: count) ?? Data() } catch { throw unreadable }
        }
        let head = try read(4096)
        guard !head.isEmpty else {
            throw Rejection("the mirror sent an empty file", hint: "the mirror may be mid-sync; the next run tries again")
        }
        if head.starts(with: [0x1f, 0x8b]) {
            throw Rejection("the mirror sent gzip data where a plain database was expected",
                            hint: "if the feed really serves gzip, set compressed = \"gzip\" on this file")
        }
        if looksLikeHTML(head, contentType: contentType) {
            throw Rejection("the mirror sent an HTML page instead of the database",
                            hint: "the URL is wrong, the mirror shows an error page, or a proxy intercepts it; open the URL in a browser")
        }
        if isContainer(name) {
            guard let header = String(data: head.prefix(512), encoding: .isoLatin1), header.hasPrefix("ClamAV-VDB:") else {
                throw Rejection("the file is not a ClamAV CVD container (no ClamAV-VDB header)",
                                hint: "the mirror serves something else under this name")
            }
            let fields = header.split(separator: ":", omittingEmptySubsequences: false)
            return fields.count > 3 ? Int(fields[3].trimmingCharacters(in: .whitespaces)) ?? 0 : 0
        }
        var scanner = LineScanner()
        var chunk = head
        while !chunk.isEmpty {
            scanner.feed(chunk)
            if scanner.nul || scanner.blankLine != nil { break }
            chunk = try read(1 << 20)
        }
        if scanner.nul {
            throw Rejection("the file holds NUL bytes, so it is not a text database",
                            hint: "the download is corrupt or the mirror serves a different format")
        }
        if requireFinalNewline, scanner.last != 0x0a {
            throw Rejection("the download is truncated: its last line is cut off (no final newline), and the feed has no checksum to prove otherwise",
                            hint: "the next run downloads it again; if the provider's files never end with a newline, use a checksum (integrity)")
        }
        if let line = scanner.blankLine {
            throw Rejection("line \(line) is blank, which libclamav treats as a malformed database",
                            hint: "upstream published a broken file; the installed version stays until a fixed one appears")
        }
        return scanner.total
    }

    /// Counts signature lines chunk by chunk; stops at a NUL byte or a blank line.
    struct LineScanner {
        var signatures = 0
        var line = 1
        var hasContent = false
        var first: UInt8 = 0
        var last: UInt8 = 0
        var nul = false
        var blankLine: Int?

        mutating func feed(_ data: Data) {
            data.withUnsafeBytes { raw in
                for byte in raw {
                    switch byte {
                    case 0:
                        nul = true
                        return
                    case 0x0a:
                        if !hasContent {
                            blankLine = line
                            return
                        }
                        if first != UInt8(ascii: "#") { signatures += 1 }
                        line += 1
                        hasContent = false
                    case 0x20, 0x09, 0x0d:
                        break
                    default:
                        if !hasContent {
                            hasContent = true
                            first = byte
                        }
                    }
                }
                last = raw.last ?? last
            }
        }

        /// Signatures including an unterminated last line.
        var total: Int { signatures + (hasContent && first != UInt8(ascii: "#") ? 1 : 0) }
    }

    static func looksLikeHTML(_ data: Data, contentType: String?) -> Bool {
        if let contentType, contentType.lowercased().contains("text/html") { return true }
        let head = String(decoding: data.prefix(1024), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        guard head.hasPrefix("<") else { return false }
        return head.hasPrefix("<!doctype") || head.hasPrefix("<html") || head.hasPrefix("<head")
            || head.hasPrefix("<body") || head.hasPrefix("<?xml") || head.contains("<html")
    }

    /// Rejects a signature count that fell below half of the installed one.
    public static func checkCollapse(new: Int, installed: Int?, force: Bool) throws {
        guard !force, let installed, installed > 0, new * 2 < installed else { return }
        throw Rejection("it holds \(new) signatures, less than half of the \(installed) installed",
                        hint: "upstream may have retired or truncated this database; check the provider's news, then run with --force to accept it or disable the file",
                        upstream: true)
    }

    /// Decompresses a gzip download in place with gzip(1), streaming: the output is
    /// capped at `maxBytes` as it is written, so a gzip bomb never fills the disk or memory.
    public static func gunzip(_ path: String, maxBytes: Int64) throws {
        let output = path + ".plain"
        unlink(output)
        let fd = open(output, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Rejection("cannot write the decompressed file (\(String(cString: strerror(errno))))", hint: "check free space in the state directory") }
        defer { close(fd) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/gzip")
        process.arguments = ["-dc", path]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            unlink(output)
            throw Rejection("cannot run gzip to decompress it (\(error))", hint: "install the gzip package")
        }
        let reader = pipe.fileHandleForReading
        var written: Int64 = 0
        var tooLarge = false
        var writeError: Int32 = 0
        while let chunk = try? reader.read(upToCount: 1 << 16), !chunk.isEmpty {
            written += Int64(chunk.count)
            if written > maxBytes {
                tooLarge = true
                process.terminate()
                break
            }
            let ok = chunk.withUnsafeBytes { raw -> Bool in
                var offset = 0
                while offset < raw.count {
                    let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        writeError = errno
                        return false
                    }
                    offset += n
                }
                return true
            }
            if !ok {
                process.terminate()
                break
            }
        }
        try? reader.close()
        process.waitUntilExit()
        if tooLarge {
            unlink(output)
            throw Rejection("it decompresses to more than the \(maxBytes)-byte limit (max_file_size); a gzip bomb or a wrong file",
                            hint: "the installed version stays; raise max_file_size only if the provider's file really is that large")
        }
        if writeError != 0 {
            unlink(output)
            throw Rejection("cannot write the decompressed file (\(String(cString: strerror(writeError))))", hint: "check free space in the state directory")
        }
        guard process.terminationStatus == 0 else {
            unlink(output)
            throw Rejection("the gzip data is corrupt or truncated", hint: "the next run downloads it again")
        }
        guard rename(output, path) == 0 else { throw SystemError.errno("rename", path: path) }
    }
}

/// The 512-byte header of a CVD/CLD: "ClamAV-VDB:build time:version:signatures:f-level:md5:dsig:builder:stime".
public struct CVDHeader: Codable, Sendable {
    public var version: Int
    public var signatures: Int
    public var built: Date?

    public static func read(_ path: String) -> CVDHeader? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let data = try? handle.read(upToCount: 512),
              let text = String(data: data, encoding: .isoLatin1), text.hasPrefix("ClamAV-VDB:") else { return nil }
        let fields = text.trimmingCharacters(in: .whitespaces.union(.controlCharacters)).split(separator: ":", omittingEmptySubsequences: false)
        guard fields.count > 4, let version = Int(fields[2]), let signatures = Int(fields[3]) else { return nil }
        let built = fields.count > 8 ? TimeInterval(fields[8].trimmingCharacters(in: .whitespaces)).map { Date(timeIntervalSince1970: $0) } : nil
        return CVDHeader(version: version, signatures: signatures, built: built)
    }
}

/// Checksum sidecars: `<file>.sha256` / `<file>.md5`.
public enum Sidecar {
    /// Extracts the digest from a sidecar: a bare hex digest (with or without a
    /// newline) or `sha256sum` format ("digest  name"). Returns nil if there is none.
    public static func digest(from data: Data, length: Int) -> String? {
        let text = String(decoding: data.prefix(4096), as: UTF8.self)
        guard let token = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }).first else {
            return nil
        }
        let digest = token.hasPrefix("\\") ? token.dropFirst() : token // sha256sum escapes odd names
        guard digest.count == length, digest.allSatisfy(\.isHexDigit) else { return nil }
        return digest.lowercased()
    }
}
