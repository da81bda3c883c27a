import Foundation

/// Pruning of kept sets and their canaries.
struct History {
    let layout: Layout
    let keep: Int

    func prune(live: Int?) {
        layout.generations.prune(keep: keep, live: live)
        let kept = Set(Files.list(layout.generations.root).compactMap(Int.init)).union(live.map { [$0] } ?? [])
        for entry in Files.list(layout.canaryDir) {
            guard let id = Int(entry.replacingOccurrences(of: ".bin", with: "")), !kept.contains(id) else { continue }
            unlink(layout.canaryDir + "/" + entry)
        }
    }
}
