import Foundation

/// Pruning of kept sets and their canaries.
struct History {
    let layout: Layout
    let keep: Int

    /// Keeps the newest `keep` kept sets and the live one, and the canary payloads
    /// they (and the live set) name.
    func prune(live: LiveSet?) {
        layout.generations.prune(keep: keep, live: live?.generation)
        var names = Set(layout.generations.all().compactMap(\.canaryName))
        var ids = Set(Files.list(layout.generations.root).compactMap(Int.init))
        if let live {
            names.insert(live.canaryName)
            ids.insert(live.generation)
        }
        for entry in Files.list(layout.canaryDir) where entry.hasSuffix(".bin") {
            let base = String(entry.dropLast(4))
            if names.contains(base) { continue }
            if let id = Int(base), ids.contains(id) { continue } // named by generation (older sets)
            unlink(layout.canaryDir + "/" + entry)
        }
    }
}
