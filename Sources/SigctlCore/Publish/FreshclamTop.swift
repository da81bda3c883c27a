import Foundation

/// The top of a publish tree, where freshclam's PrivateMirror looks for the official
/// databases. For each database freshclam asks for `<database>.cld` and only when that
/// request fails for `<database>.cvd`, so a stale CLD there would hide every newer CVD.
enum FreshclamTop {
    /// Whether freshclam asks a private mirror for this name.
    static func isMirrored(_ name: String) -> Bool {
        name.hasSuffix(".cvd") || name.hasSuffix(".cld")
    }

    /// One file per database: the newer of its CLD and CVD by header version, the CVD
    /// on a tie (freshclam checks its signature).
    static func select(_ entries: [PublishManifest.File]) -> [PublishManifest.File] {
        var chosen: [String: PublishManifest.File] = [:]
        for entry in entries where isMirrored(entry.name) {
            let database = String(entry.name.dropLast(4))
            guard let other = chosen[database] else {
                chosen[database] = entry
                continue
            }
            let (mine, theirs) = (Int(entry.version ?? "") ?? -1, Int(other.version ?? "") ?? -1)
            if mine > theirs || (mine == theirs && entry.name.hasSuffix(".cvd")) { chosen[database] = entry }
        }
        return chosen.values.sorted { $0.name < $1.name }
    }

    /// Links `selected` at the top of `root` (hard links to their immutable copies under
    /// files/), then removes every other CLD or CVD there: successors first, so freshclam
    /// never finds a database missing.
    static func update(root: String, selected: [PublishManifest.File]) throws {
        for entry in selected {
            let target = root + "/" + entry.name
            if FileStamp.read(target)?.inode == FileStamp.read(root + "/" + entry.path)?.inode { continue }
            let temp = root + "/.\(entry.name).tmp-\(getpid())"
            unlink(temp)
            guard link(root + "/" + entry.path, temp) == 0 || (try? Files.copy(root + "/" + entry.path, to: temp)) != nil,
                  rename(temp, target) == 0 else {
                unlink(temp)
                throw SystemError.errno("rename", path: target)
            }
        }
        let names = Set(selected.map(\.name))
        for name in Files.list(root) where isMirrored(name) && !names.contains(name) {
            guard unlink(root + "/" + name) == 0 || errno == ENOENT else {
                throw CommandError("cannot remove the stale \(root)/\(name) (\(String(cString: strerror(errno))))",
                                   hint: "freshclam gateways would keep reading it; remove it by hand and make the tree writable by the user sigctl runs as")
            }
        }
    }

    /// The CLDs at the top now: freshclam takes them without a signature check.
    static func unsigned(root: String) -> [String] {
        Files.list(root).filter { $0.hasSuffix(".cld") }.sorted()
    }
}
