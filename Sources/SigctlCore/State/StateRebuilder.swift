import Foundation

/// Rebuilds what sigctl knows from the kept sets when `state.json` is lost: the files
/// sigctl installed are recognised by the sha256 their set recorded.
struct StateRebuilder {
    let layout: Layout

    func rebuild() -> State {
        var state = State()
        let manifests = layout.generations.all()
        state.nextGeneration = (manifests.map(\.id).max() ?? 0) + 1
        // The newest set whose files are all live as recorded, else the newest with any.
        let scored = manifests.map { manifest in (manifest, matching(manifest)) }
        guard let (manifest, _) = scored.first(where: { $0.1.count == $0.0.files.count && !$0.1.isEmpty })
                ?? scored.first(where: { !$0.1.isEmpty }) else { return state }
        state = adopt(manifest, into: state, installed: manifest.created)
        if let allowList = state.live?.owned.contains(allowListFileName), allowList,
           let data = FileManager.default.contents(atPath: layout.live(allowListFileName)) {
            var allowed: [String: AllowEntry] = [:]
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where !line.isEmpty {
                allowed[String(line)] = AllowEntry(reason: "recovered from \(allowListFileName) after state.json was lost",
                                                   by: "sigctl", at: manifest.created)
            }
            state.allowed = allowed
        }
        return state
    }

    /// Files of `manifest` whose live copy has the recorded sha256.
    func matching(_ manifest: GenerationManifest) -> Set<String> {
        Set(manifest.files.filter { name, file in
            (try? ClamAV.hashFile("sha256", path: layout.live(name))) == file.sha256
        }.keys)
    }

    /// Makes `manifest` the live set of `state`, owning the files that match it.
    func adopt(_ manifest: GenerationManifest, into state: State, installed: Date, canaryName: String? = nil) -> State {
        var state = state
        let owned = matching(manifest)
        for name in owned {
            let file = manifest.files[name]!
            var record = state.feeds[file.feed, default: FeedState()].files[name] ?? FileState()
            if record.sha256 != file.sha256 { record.dropValidators() }
            record.sha256 = file.sha256
            record.size = file.size
            record.signatures = file.signatures
            record.stamp = FileStamp.read(layout.live(name))
            state.feeds[file.feed, default: FeedState()].files[name] = record
        }
        var names = owned
        if Files.exists(layout.live(canaryFileName)) { names.insert(canaryFileName) }
        // Official databases sigctl owned stay its own even where the set's record is older:
        // restores and rollbacks leave them as they are.
        for name in state.live?.owned ?? [] where ContentChecks.isContainer(name) && Files.exists(layout.live(name)) {
            names.insert(name)
        }
        state.live = LiveSet(generation: manifest.id, canaryName: canaryName ?? manifest.canaryName ?? "", installedAt: installed,
                             confirmed: false, confirmedAt: nil, signatures: manifest.loadedSignatures, owned: names.sorted())
        state.nextGeneration = max(state.nextGeneration, manifest.id + 1)
        return state
    }
}
