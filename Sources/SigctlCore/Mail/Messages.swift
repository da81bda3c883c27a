import Foundation

/// One message to scan: a file, or the Nth message of an mbox.
public struct MessageSource: Sendable {
    public var path: String
    /// 1-based position in an mbox, nil for a single-message file.
    public var index: Int?
    public var data: Data?
    public var error: String?

    public var label: String { index.map { "\(path)#\($0)" } ?? path }
}

/// Turns command-line paths into messages: files, directories (recursively, which
/// covers Maildir's cur/ and new/), mbox files split on "From " lines, and "-" for stdin.
public enum MessageCollector {
    public static func collect(_ paths: [String]) -> [MessageSource] {
        var messages: [MessageSource] = []
        for path in paths {
            if path == "-" {
                messages += split(FileHandle.standardInput.readDataToEndOfFile(), path: "-")
            } else if Files.isDirectory(path) {
                for file in walk(path) { messages += read(file) }
            } else {
                messages += read(path)
            }
        }
        return messages
    }

    /// Regular files below `directory`, in a stable order; hidden entries and Maildir's tmp/ are skipped.
    static func walk(_ directory: String) -> [String] {
        var files: [String] = []
        let isMaildir = Files.isDirectory(directory + "/cur") && Files.isDirectory(directory + "/new")
        for name in Files.list(directory) where !name.hasPrefix(".") {
            if isMaildir && name == "tmp" { continue }
            let full = directory + "/" + name
            if Files.isDirectory(full) {
                files += walk(full)
            } else {
                files.append(full)
            }
        }
        return files
    }

    static func read(_ path: String) -> [MessageSource] {
        guard let data = FileManager.default.contents(atPath: path) else {
            return [MessageSource(path: path, index: nil, data: nil, error: "cannot read the file")]
        }
        return split(data, path: path)
    }

    /// An mbox (the data starts with a "From " line) becomes one message per "From "
    /// line that starts the data or follows a blank line; anything else is one message.
    static func split(_ data: Data, path: String) -> [MessageSource] {
        let from = Array("From ".utf8)
        guard data.starts(with: from) else { return [MessageSource(path: path, index: nil, data: data, error: nil)] }
        var starts: [Int] = [0]
        data.withUnsafeBytes { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            var i = 0
            while i + 6 < bytes.count {
                // "\n\nFrom " (or "\r\n\r\nFrom ") marks the next message.
                if bytes[i] == 0x0a {
                    var j = i + 1
                    if j < bytes.count && bytes[j] == 0x0d { j += 1 }
                    if j < bytes.count && bytes[j] == 0x0a, j + 5 < bytes.count,
                       Array(bytes[(j + 1)...(j + 5)]) == from {
                        starts.append(j + 1)
                    }
                }
                i += 1
            }
        }
        let base = data.startIndex
        return starts.enumerated().map { number, start in
            let end = number + 1 < starts.count ? starts[number + 1] : data.count
            return MessageSource(path: path, index: number + 1, data: data[(base + start)..<(base + end)], error: nil)
        }
    }

    /// The bytes clamd sees from clamav-milter: an mbox envelope line first. Without it,
    /// a message whose first header is DKIM-Signature is typed as MHTML and
    /// mail-target signatures do not fire.
    public static func asMilterPresents(_ data: Data) -> Data {
        if data.starts(with: Array("From ".utf8)) { return data }
        return Data("From clamav-milter\n".utf8) + data
    }
}
