import Foundation

/// Keeps `explain`'s name index next to the live set: one `<file>.idx` per database file
/// in the state directory, rebuilt when its file changed, removed when its file is gone.
struct NameIndexes {
    let layout: Layout
    let log: Log

    func refresh() {
        let directory = layout.nameIndexes
        let live = Files.list(layout.databaseDir).filter { isDatabaseFile($0) && $0 != canaryFileName }
        do {
            try Files.makeDirectory(directory)
        } catch {
            log.debug("name index: cannot create \(directory): \(error)")
            return
        }
        for file in live {
            let path = layout.live(file), index = directory + "/" + file + ".idx"
            guard !NameIndex.isCurrent(index, path: path) else { continue }
            do {
                if try !NameIndex.build(path, into: index) { Files.remove(index) }
            } catch {
                log.debug("name index: cannot index \(path): \(error)")
            }
        }
        // sets/: `hits`' indexes of the kept sets, which it prunes itself.
        for entry in Files.list(directory) where entry != "sets" && (!live.contains(String(entry.dropLast(4))) || !entry.hasSuffix(".idx")) {
            Files.remove(directory + "/" + entry)
        }
    }
}
