import CClamAV
import Foundation

/// What a database file, or a file inside a container, is to the delta scan.
enum DeltaRole: Equatable {
    /// One named signature a line: only the lines whose names changed go into the small engines.
    case signatures
    /// Allow lists (.ign, .ign2, .fp, .sfp): entries only ever take detections away.
    case allowList
    /// Everything else that decides how signatures match (.ftm, .cfg, .pdb, .wdb, .cbc, .idb, .crb…): loaded whole.
    case context
    /// Container metadata (.info): not signatures.
    case skip

    static func of(_ name: String) -> DeltaRole {
        switch (name as NSString).pathExtension.lowercased() {
        case "hdb", "hsb", "mdb", "msb", "hdu", "hsu", "mdu", "msu", "ndb", "ndu", "ldb", "ldu", "db", "cdb", "imp": .signatures
        case "ign", "ign2", "fp", "sfp": .allowList
        case "info": .skip
        default: .context
        }
    }
}

/// One file to load into a small engine.
struct DeltaFile: Codable, Sendable {
    var path: String
    /// Flags libclamav adds itself for files inside a container (official, signed).
    var flags: UInt32
    var allowList: Bool
}

/// The two small engines of a delta scan, or why the whole sets must be compared.
struct DeltaPlan: Sendable {
    var live: [DeltaFile] = []
    var candidate: [DeltaFile] = []
    /// Hashes of the names on the lines the update adds or removes.
    var names: Set<UInt64> = []
    var changedNames: Int { names.count }
    /// Signature lines in the two small engines together.
    var lines = 0
    /// Why a ham corpus cannot be compared by delta (nil: it can).
    var hamBlocker: String?
    /// Why a detect corpus cannot be compared by delta (nil: it can).
    var detectBlocker: String?
}

/// Works out which signatures an update changes, file by file and, inside containers,
/// member by member, and writes the small engines' files: the context files whole
/// (file types, engine configuration, allow lists, bytecode), plus every line of the
/// changed files, live and candidate, whose name is on a line the update adds or removes.
///
/// Why that is enough: a message's hits can differ between the sets only for such a
/// name (the other names' lines and the context are the same in both), and for such a
/// name the small engines see every line of the changed files. A line of the same name
/// in an unchanged file can only make the small engines flag a message that the whole
/// sets then show to be unchanged; the whole sets decide every flagged message.
struct SetDelta {
    let live: String
    let candidate: String
    let options: LoadOptions
    let scratch: String
    /// Where unchanged containers' context files are kept between runs (nil: unpack every time).
    let cache: String?
    /// Above this many lines in the small engines, the whole sets are cheaper to compare.
    let maxLines: Int

    func plan() throws -> DeltaPlan {
        var plan = DeltaPlan()
        let liveOrder = try DirectoryLoad.order(of: live, officialOnly: options.officialDatabaseOnly, liveDirectory: live)
            .filter { $0 != canaryFileName }
        let candidateOrder = try DirectoryLoad.order(of: candidate, officialOnly: options.officialDatabaseOnly, liveDirectory: live)
            .filter { $0 != canaryFileName }
        guard !liveOrder.isEmpty else {
            plan.hamBlocker = "the live set is empty (first install)"
            plan.detectBlocker = plan.hamBlocker
            return plan
        }
        var pairs: [(name: String, old: DeltaFile?, new: DeltaFile?)] = []
        var usedCache: Set<String> = []
        for (number, name) in (candidateOrder + liveOrder.filter { !candidateOrder.contains($0) }).enumerated() {
            let old = liveOrder.contains(name) ? live + "/" + name : nil
            let new = candidateOrder.contains(name) ? candidate + "/" + name : nil
            if let old, let new, try Self.sameContent(old, new) {
                let members = try unchangedContext(old, label: "u\(number)", used: &usedCache)
                plan.live += members
                plan.candidate += members
                continue
            }
            let oldMembers = try old.map { try expand($0, into: scratch + "/l\(number)") } ?? []
            let newMembers = try new.map { try expand($0, into: scratch + "/c\(number)") } ?? []
            for member in Set(oldMembers.map(\.name)).union(newMembers.map(\.name)).sorted() {
                let before = oldMembers.first { $0.name == member }, after = newMembers.first { $0.name == member }
                let label = name == member ? name : "\(name) (\(member) inside it)"
                switch DeltaRole.of(member) {
                case .skip:
                    continue
                case .context:
                    if let before { plan.live.append(before.file) }
                    if let after { plan.candidate.append(after.file) }
                    if try !Self.same(before?.file.path, after?.file.path) {
                        plan.hamBlocker = plan.hamBlocker ?? "\(label) changed, and it decides how every signature matches"
                        plan.detectBlocker = plan.detectBlocker ?? plan.hamBlocker
                    }
                case .allowList:
                    if let before { plan.live.append(before.file) }
                    if let after { plan.candidate.append(after.file) }
                    let (added, removed) = try Self.lineChanges(before?.file.path, after?.file.path)
                    if removed > 0 {
                        plan.hamBlocker = plan.hamBlocker ?? "\(label) drops allow-list entries, which can bring back any detection"
                    }
                    if added + removed > 0 {
                        plan.detectBlocker = plan.detectBlocker ?? "\(label) changed, which can take away any detection"
                    }
                case .signatures:
                    pairs.append((member, before?.file, after?.file))
                }
            }
        }
        if let cache { Self.prune(cache, keeping: usedCache) }
        var names = Set<UInt64>()
        for pair in pairs where try Self.changedNames(old: pair.old?.path, new: pair.new?.path, into: &names) {
            plan.hamBlocker = plan.hamBlocker ?? "\(pair.name) changes a signature that takes part in a macro, which ties signatures of different names together"
            plan.detectBlocker = plan.detectBlocker ?? plan.hamBlocker
        }
        plan.names = names
        if names.count > maxLines {
            plan.hamBlocker = plan.hamBlocker ?? "the update changes too many signatures (\(names.count) names) for a delta scan"
            plan.detectBlocker = plan.detectBlocker ?? plan.hamBlocker
        }
        guard plan.hamBlocker == nil || plan.detectBlocker == nil, !names.isEmpty else { return plan }
        try Files.makeDirectory(scratch + "/small-live")
        try Files.makeDirectory(scratch + "/small-candidate")
        for (number, pair) in pairs.enumerated() {
            for (source, side, list) in [(pair.old, "small-live", \DeltaPlan.live), (pair.new, "small-candidate", \DeltaPlan.candidate)] {
                guard let source else { continue }
                let target = "\(scratch)/\(side)/\(number)-\(pair.name)"
                let kept = try Self.extract(source.path, names: names, to: target)
                plan.lines += kept
                if plan.lines > maxLines {
                    plan.hamBlocker = plan.hamBlocker ?? "the update changes too many signatures (over \(maxLines) lines) for a delta scan"
                    plan.detectBlocker = plan.detectBlocker ?? plan.hamBlocker
                    return plan
                }
                if kept > 0 { plan[keyPath: list].append(DeltaFile(path: target, flags: source.flags, allowList: false)) }
            }
        }
        return plan
    }

    /// The files of an unchanged database that are not plain signatures (a container's
    /// are unpacked once per container and kept in the cache).
    private func unchangedContext(_ path: String, label: String, used: inout Set<String>) throws -> [DeltaFile] {
        let name = (path as NSString).lastPathComponent
        guard ContentChecks.isContainer(name) else {
            let role = DeltaRole.of(name)
            return role == .context || role == .allowList ? [DeltaFile(path: path, flags: 0, allowList: role == .allowList)] : []
        }
        var st = stat()
        guard let cache, stat(path, &st) == 0 else {
            return try expand(path, into: scratch + "/" + label).map(\.file).filter { !Self.isSignatures($0.path) }
        }
        let key = "\(name)-\(st.st_dev)-\(st.st_ino)-\(st.st_size)-\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)"
        used.insert(key)
        let kept = cache + "/" + key
        if !Files.exists(kept + "/.complete") {
            Files.remove(kept)
            let members = try expand(path, into: kept)
            for member in members where Self.isSignatures(member.file.path) { Files.remove(member.file.path) }
            try Files.writeAtomically(Data(), to: kept + "/.complete")
        }
        let flags = containerFlags(name)
        return Files.list(kept).filter { isDatabaseFile($0) && DeltaRole.of($0) != .skip }.map {
            DeltaFile(path: kept + "/" + $0, flags: flags, allowList: DeltaRole.of($0) == .allowList)
        }
    }

    private static func isSignatures(_ path: String) -> Bool {
        let role = DeltaRole.of(path)
        return role == .signatures || role == .skip
    }

    /// A plain file is its own member; a container is unpacked (without the signature
    /// check: the live set's `.cld` files carry none, and every file here was loaded).
    private func expand(_ path: String, into directory: String) throws -> [(name: String, file: DeltaFile)] {
        let name = (path as NSString).lastPathComponent
        guard ContentChecks.isContainer(name) else {
            return [(name, DeltaFile(path: path, flags: 0, allowList: DeltaRole.of(name) == .allowList))]
        }
        try Files.makeDirectory(directory)
        try ClamAV.unpackContainer(path, into: directory, verify: false)
        let flags = containerFlags(name)
        return Files.list(directory).filter(isDatabaseFile).map {
            ($0, DeltaFile(path: directory + "/" + $0, flags: flags, allowList: DeltaRole.of($0) == .allowList))
        }
    }

    /// What `cli_cvdload` adds when it loads a container's files.
    private func containerFlags(_ name: String) -> UInt32 {
        name.lowercased().hasSuffix(".cud") ? SIGCTL_CL_DB_UNSIGNED : SIGCTL_CL_DB_OFFICIAL | SIGCTL_CL_DB_SIGNED
    }
}
