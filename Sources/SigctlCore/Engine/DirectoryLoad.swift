import CClamAV
import Foundation

/// The order in which libclamav's `cl_load(directory)` loads the files of a database
/// directory (`cli_loaddbdir` in readdb.c, libclamav 0.103 to 1.4), so that the
/// verification child can load the same files into one engine one `cl_load` at a time
/// and learn each file's signature count from that single load.
///
/// The rules, from readdb.c:
/// - only names ending (case-insensitively) in a database extension are loaded;
/// - priorities: `.ign`/`.ign2` first, then `daily.cld`, `daily.cvd`, `local.gdb`,
///   `daily.cfg`, then `.crb`, then everything else; within one priority, directory order;
/// - of `daily.cld` and `daily.cvd`, only the higher version (the `.cld` on a tie);
/// - with `OfficialDatabaseOnly`, files other than `.cvd`/`.cld` after the first four kinds are skipped;
/// - each file is loaded with the caller's flags plus `CL_DB_DIRECTORY`.
public enum DirectoryLoad {
    /// libclamav versions whose `cli_loaddbdir` the rules above were read from.
    /// Any other version loads the directory whole (and gives no per-file counts).
    public static func ruleKnown(for version: String = ClamAV.version) -> Bool {
        let parts = version.split(separator: ".").compactMap { Int($0.prefix { $0.isNumber }) }
        guard parts.count >= 2 else { return false }
        return (parts[0] == 0 && parts[1] >= 103) || (parts[0] == 1 && parts[1] <= 4)
    }

    static let extensions = [".db", ".hdb", ".hdu", ".fp", ".mdb", ".mdu", ".hsb", ".hsu", ".sfp", ".msb", ".msu",
                             ".ndb", ".ndu", ".ldb", ".ldu", ".sdb", ".zmd", ".rmd", ".pdb", ".gdb", ".wdb", ".cbc",
                             ".ftm", ".cfg", ".cvd", ".cld", ".cud", ".cdb", ".cat", ".crb", ".idb", ".ioc", ".yar",
                             ".yara", ".pwdb", ".ign", ".ign2", ".imp"]

    /// Whether libclamav loads a file of this name from a database directory.
    public static func isLoaded(_ name: String) -> Bool {
        let lower = name.lowercased()
        return extensions.contains { lower.hasSuffix($0) }
    }

    static func priority(of name: String, officialOnly: Bool) -> Int? {
        let lower = name.lowercased()
        if lower.hasSuffix(".ign") || lower.hasSuffix(".ign2") { return 1 }
        switch name {
        case "daily.cld": return 2
        case "daily.cvd": return 3
        case "local.gdb": return 4
        case "daily.cfg": return 5
        default: break
        }
        if officialOnly && !lower.hasSuffix(".cld") && !lower.hasSuffix(".cvd") { return nil }
        if lower.hasSuffix(".crb") { return 6 }
        return 7
    }

    /// The names in `directory` in the order `cl_load(directory)` loads them.
    /// - Parameter officialOnly: clamd.conf's `OfficialDatabaseOnly`. libclamav does not
    ///   apply it when the directory's path contains "clamav-" (its own temporary
    ///   directories); `liveDirectory` is the path clamd loads, used for that test.
    public static func order(of directory: String, officialOnly: Bool, liveDirectory: String) throws -> [String] {
        guard let dir = opendir(directory) else {
            throw CommandError("cannot read \(directory): \(String(cString: strerror(errno)))", exit: .failed)
        }
        defer { closedir(dir) }
        let skipOfficial = officialOnly && !liveDirectory.contains("clamav-")
        var entries: [(priority: Int, name: String)] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            guard entry.pointee.d_ino != 0, name != ".", name != "..", isLoaded(name),
                  let priority = priority(of: name, officialOnly: skipOfficial) else { continue }
            entries.append((priority, name))
        }
        // A stable sort by priority keeps directory order within one priority, as
        // libclamav's insertion into its sorted list does.
        var ordered = entries.enumerated().sorted { a, b in
            a.element.priority != b.element.priority ? a.element.priority < b.element.priority : a.offset < b.offset
        }.map(\.element.name)
        let names = Set(ordered)
        if names.contains("daily.cld"), names.contains("daily.cvd") {
            let cld = version(directory + "/daily.cld"), cvd = version(directory + "/daily.cvd")
            ordered.removeAll { $0 == ((cld ?? 0) < (cvd ?? 0) ? "daily.cld" : "daily.cvd") }
        }
        return ordered
    }

    /// `cl_cvdhead`: the version in a container's header.
    static func version(_ path: String) -> UInt32? {
        guard let head = cl_cvdhead(path) else { return nil }
        defer { cl_cvdfree(head) }
        return head.pointee.version
    }
}

extension ClamEngine {
    /// Loads `directory` as `cl_load(directory)` does, one file at a time in libclamav's
    /// order, and returns the signatures each file added; `beforeFile` is told the number
    /// and name of each file before it loads. With a libclamav whose rules sigctl does not
    /// know, it calls `cl_load(directory)` and returns no counts. A path that is a single
    /// file is loaded as it is.
    public func loadDirectory(_ directory: String, options: LoadOptions, liveDirectory: String,
                              beforeFile: (Int, String) -> Void = { _, _ in }) throws -> [String: Int]? {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), !isDirectory.boolValue {
            let name = (directory as NSString).lastPathComponent
            beforeFile(0, name)
            return [name: Int(try load(directory, options: options))]
        }
        guard DirectoryLoad.ruleKnown() else {
            try load(directory, options: options)
            return nil
        }
        let names = try DirectoryLoad.order(of: directory, officialOnly: options.officialDatabaseOnly, liveDirectory: liveDirectory)
        guard !names.isEmpty else {
            // libclamav's own error for a directory without databases.
            try load(directory, options: options)
            return [:]
        }
        var counts: [String: Int] = [:]
        for (number, name) in names.enumerated() {
            beforeFile(number, name)
            counts[name] = Int(try load(directory + "/" + name, options: options, extraFlags: SIGCTL_CL_DB_DIRECTORY))
        }
        return counts
    }
}
