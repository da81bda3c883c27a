import Foundation

/// Which feed shipped each database file of the live set, from sigctl's records.
public enum FeedAttribution {
    /// file name → feed name for the files of the live set (or of set `generation`).
    public static func map(config: Configuration, generation: Int? = nil) -> [String: String] {
        let store = StateStore(directory: config.settings.stateDir)
        guard let state = try? store.load() else { return [:] }
        let id = generation ?? state.live?.generation
        guard let id, let manifest = Generations(stateDir: config.settings.stateDir).manifest(id) else { return [:] }
        return manifest.files.mapValues(\.feed)
    }

    /// A directory that looks like the database directory did with set `generation`
    /// live: its files plus the live files sigctl does not own, as hard links.
    public static func generationView(config: Configuration, generation: Int, scratch: String) throws -> String {
        let generations = Generations(stateDir: config.settings.stateDir)
        guard let manifest = generations.manifest(generation) else {
            let kept = generations.all().map { String($0.id) }.joined(separator: ", ")
            throw CommandError("there is no installed set \(generation)", hint: kept.isEmpty ? "no sets are kept yet" : "kept sets: \(kept)", exit: .usage)
        }
        let owned = Set((try? StateStore(directory: config.settings.stateDir).load())?.live?.owned ?? [])
        try Files.makeDirectory(scratch)
        for name in Files.list(config.settings.databaseDir) where isDatabaseFile(name) && !owned.contains(name) && manifest.files[name] == nil {
            try Files.linkOrCopy(config.settings.databaseDir + "/" + name, to: scratch + "/" + name)
        }
        for name in manifest.files.keys {
            try Files.linkOrCopy(generations.directory(generation) + "/" + name, to: scratch + "/" + name)
        }
        return scratch
    }
}
