import Foundation

/// Which files a rollback changes: the target set's files that differ from what is
/// live, taken from its kept copy; owned files the target does not have go. Official
/// databases are not touched either way.
struct RollbackPlan {
    var files: [StagedFile] = []
    var drops: [String: String] = [:]
    var keptOfficial: [String] = []

    static func make(target: GenerationManifest, state: State, config: Configuration, layout: Layout) -> RollbackPlan {
        var plan = RollbackPlan()
        let dir = layout.generations.directory(target.id)
        let owned = Set(state.live?.owned ?? []).subtracting([canaryFileName])
        func official(_ name: String) -> Bool { Planner.isOfficial(name, config: config) }
        for (name, file) in target.files.sorted(by: { $0.key < $1.key }) {
            if official(name) {
                if state.record(of: name)?.file.sha256 != file.sha256 { plan.keptOfficial.append(name) }
                continue
            }
            guard state.record(of: name)?.file.sha256 != file.sha256 || !owned.contains(name) else { continue }
            var staged = StagedFile(feed: file.feed, name: name, path: dir + "/" + name, sha256: file.sha256,
                                    size: file.size, signatures: file.signatures)
            staged.origin = .repair(generation: target.id)
            plan.files.append(staged)
        }
        for name in owned where target.files[name] == nil {
            if official(name) {
                plan.keptOfficial.append(name)
            } else {
                plan.drops[name] = state.record(of: name)?.feed ?? "unknown"
            }
        }
        plan.keptOfficial.sort()
        return plan
    }
}
