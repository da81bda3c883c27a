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

/// Helpers for the messages `sigctl test` and the corpus child read (see `MessageStream`).
public enum MessageCollector {
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

    /// The bytes clamd sees from clamav-milter: an mbox envelope line first. Without it,
    /// a message whose first header is DKIM-Signature is typed as MHTML and
    /// mail-target signatures do not fire.
    public static func asMilterPresents(_ data: Data) -> Data {
        if data.starts(with: Array("From ".utf8)) { return data }
        return Data("From clamav-milter\n".utf8) + data
    }
}
