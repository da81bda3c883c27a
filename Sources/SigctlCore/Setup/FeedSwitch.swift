import Foundation

/// Turns a feed file's top-level `enabled` on or off, keeping every other line
/// (comments included) as the admin wrote it.
public enum FeedSwitch {
    /// The file's text with `enabled = value` at top level: the existing key is
    /// rewritten in place; a file without one gets it after `kind`, else after the
    /// leading comments.
    public static func rewrite(_ text: String, enabled: Bool) -> String {
        var lines = text.components(separatedBy: "\n")
        let setting = "enabled = \(enabled)"
        let topLevelEnd = lines.firstIndex { $0.trimmingCharacters(in: .whitespaces).hasPrefix("[") } ?? lines.count
        if let index = lines[..<topLevelEnd].firstIndex(where: { key(of: $0) == "enabled" }) {
            lines[index] = setting
        } else if let kind = lines[..<topLevelEnd].firstIndex(where: { key(of: $0) == "kind" }) {
            lines.insert(setting, at: kind + 1)
        } else {
            let first = lines[..<topLevelEnd].firstIndex { line in
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                return !trimmed.isEmpty && !trimmed.hasPrefix("#")
            } ?? topLevelEnd
            lines.insert(setting, at: first)
        }
        return lines.joined(separator: "\n")
    }

    /// The bare key a `key = value` line sets, if it is one.
    static func key(of line: String) -> String? {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        guard !trimmed.hasPrefix("#"), let equals = trimmed.firstIndex(of: "=") else { return nil }
        return trimmed[..<equals].trimmingCharacters(in: .whitespaces)
    }

    /// Rewrites the file at `path` atomically, keeping its mode and owner.
    /// Returns false when it already said so.
    @discardableResult
    public static func apply(path: String, enabled: Bool) throws -> Bool {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CommandError("cannot read \(path)", hint: "check that it exists and that you may read it", exit: .config)
        }
        let text = String(decoding: data, as: UTF8.self)
        let updated = rewrite(text, enabled: enabled)
        if updated == text { return false }
        var info = stat()
        guard stat(path, &info) == 0 else { throw SystemError.errno("stat", path: path) }
        do {
            try Files.writeAtomically(Data(updated.utf8), to: path, mode: info.st_mode & 0o7777)
        } catch {
            throw CommandError("cannot write \(path): \(error)", hint: "run sigctl setup as root", exit: .failed)
        }
        if info.st_uid != getuid() || info.st_gid != getgid() { _ = chown(path, info.st_uid, info.st_gid) }
        return true
    }
}
