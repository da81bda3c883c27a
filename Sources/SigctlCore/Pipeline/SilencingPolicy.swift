import Foundation

/// A feed may only add detections. Files that switch detections off or change how
/// libclamav scans are refused unless the admin lets that feed do it:
/// - allow lists (`.ign`, `.ign2`) are accepted when every entry is one of the
///   feed's own signatures: defined in its files, or carrying a name prefix only
///   the feed's own signatures use (a withdrawn `Sanesecurity.…` name) that is
///   neither a ClamAV platform prefix nor used by another feed;
/// - hash and certificate allow lists (`.fp`, `.sfp`, `.wdb`, `.crb`, `.cat`) stop
///   detections of every feed: they need `may_silence = true`;
/// - engine configuration (`.cfg`) and file-type magic (`.ftm`) change how clamd
///   scans: they need `may_configure = true`.
/// Everything else a feed ships must be a signature database.
public enum SilencingPolicy {
    public enum Kind: Sendable { case signatures, ignoreList, allowList, configuration, container }

    public static func kind(of name: String) -> Kind {
        switch (name as NSString).pathExtension.lowercased() {
        case "cvd", "cld", "cud": return .container
        case "ign", "ign2": return .ignoreList
        case "fp", "sfp", "wdb", "crb", "cat": return .allowList
        case "cfg", "ftm": return .configuration
        default: return .signatures
        }
    }

    /// ClamAV's platform and category prefixes: names under them are ClamAV's own.
    /// Platform prefixes of today's names, and the category prefixes of ClamAV's older names.
    static let officialPrefixes: Set<String> = [
        "andr", "archive", "asp", "bc", "broken", "clamav", "doc", "email", "eicar-test-signature", "embedded", "heuristics",
        "html", "img", "ios", "java", "js", "legacy", "multios", "osx", "pdf", "php", "ppt", "pua", "py", "rtf", "swf", "txt",
        "unix", "vba", "vbs", "win", "xls", "xml", "packed", "revoked", "trusted",
        "adware", "backdoor", "dialer", "exploit", "flooder", "hoax", "joke", "phishing", "rootkit", "spyware", "trojan",
        "virus", "w32", "w97m", "worm", "x97m", "macro", "htm", "ole2", "sis", "safebrowsing",
    ]

    static func prefix(_ name: Substring) -> String { String(name.split(separator: ".", maxSplits: 1).first ?? name).lowercased() }

    /// Names defined by a text database file (empty for containers and unreadable files).
    public static func names(in path: String) -> [Substring] {
        let ext = (path as NSString).pathExtension.lowercased()
        guard kind(of: path) == .signatures, !ContentChecks.isContainer(path),
              let data = Files.readRegular(path) else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap {
            SignatureLine.name($0.hasSuffix("\r") ? $0.dropLast() : $0, fileExtension: ext)
        }
    }

    /// Rejections (file → reason) for the staged files of feeds that would silence or reconfigure.
    /// `others` lists, for each other feed (or "a local file"), the database files it has in the set.
    public static func check(_ files: [StagedFile], config: Configuration, ownFiles: [String: [String]],
                             others: [String: [String]]) -> [String: String] {
        var rejected: [String: String] = [:]
        for file in files where file.origin == .download {
            guard let feed = config.feed(named: file.feed), feed.official == nil else { continue }
            let source = feed.source
            switch kind(of: file.name) {
            case .signatures:
                continue
            case .configuration where !feed.mayConfigure:
                rejected[file.name] = "it would change how clamd scans (\(file.name.hasSuffix(".ftm") ? "file-type detection" : "engine configuration")), and a feed may only add detections; if you trust \(feed.name) with that, set may_configure = true in \(source)"
            case .allowList where !feed.maySilence:
                rejected[file.name] = "it is an allow list that stops detections of every feed and of ClamAV's own databases, and a feed may only add detections; if you trust \(feed.name) with that, set may_silence = true in \(source)"
            case .container where !(feed.maySilence && feed.mayConfigure):
                rejected[file.name] = "it is a CVD container, which can carry allow lists and engine configuration sigctl cannot check file by file, and a feed may only add detections; if you trust \(feed.name) with that, set may_silence = true and may_configure = true in \(source)"
            case .ignoreList where !feed.maySilence:
                let foreign = foreignEntries(file, own: ownFiles[feed.name] ?? [], others: others)
                guard !foreign.isEmpty else { continue }
                let shown = foreign.prefix(3).joined(separator: ", ") + (foreign.count > 3 ? " and \(foreign.count - 3) more" : "")
                rejected[file.name] = "it would silence \(foreign.count) signature(s) that are not \(feed.name)'s own: \(shown); a feed may only add detections; if you want \(feed.name) to switch those off, set may_silence = true in \(source)"
            default:
                continue
            }
        }
        return rejected
    }

    /// Entries of an ignore list that name signatures the feed does not own, each with who defines it.
    static func foreignEntries(_ file: StagedFile, own: [String], others: [String: [String]]) -> [String] {
        let ext = (file.name as NSString).pathExtension.lowercased()
        guard let data = Files.readRegular(file.path) else { return [] }
        var ownNames = Set<Substring>()
        var ownPrefixes = Set<String>()
        for path in own {
            for name in names(in: path) {
                ownNames.insert(name)
                ownPrefixes.insert(prefix(name))
            }
        }
        var definedBy: [Substring: String] = [:]
        var otherPrefixes = Set<String>()
        for (owner, paths) in others {
            for path in paths {
                for name in names(in: path) {
                    definedBy[name] = "\(owner) \((path as NSString).lastPathComponent)"
                    otherPrefixes.insert(prefix(name))
                }
            }
        }
        var foreign: [String] = []
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            guard let name = SignatureLine.name(line.hasSuffix("\r") ? line.dropLast() : line, fileExtension: ext) else { continue }
            let entry = ext == "ign2" ? Substring(name.split(separator: ":").first ?? name) : name
            let p = prefix(entry)
            // ClamAV's names and other feeds' names come first: a feed that defines a decoy
            // under a ClamAV name must not thereby switch ClamAV's signature of that name off.
            if officialPrefixes.contains(p) {
                foreign.append("\(entry) (a ClamAV name)")
            } else if let owner = definedBy[entry] {
                foreign.append("\(entry) (defined by \(owner))")
            } else if ownNames.contains(entry) || (ownPrefixes.contains(p) && !otherPrefixes.contains(p)) {
                continue
            } else {
                foreign.append("\(entry) (not defined by \(file.feed))")
            }
        }
        return foreign
    }
}
