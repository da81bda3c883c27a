import Foundation

/// ClamAV's official databases, through libfreshclam in a child process.
struct OfficialSource: FeedSource {
    let context: SigctlContext
    let settings: Settings

    func handles(_ feed: Feed) -> Bool { feed.official != nil }

    func acquire(_ plans: [FeedPlan], state: State, into acquisition: inout Acquisition) {
        let owned = Set(state.live?.owned ?? [])
        for plan in plans {
            guard case .official(let databases) = plan.decision else { continue }
            let start = context.clock.now()
            let fetcher = OfficialFetcher(settings: settings, feed: plan.feed, context: context)
            let (outcomes, coolDown) = fetcher.run(databases: databases)
            var feed = FeedAcquisition(feed: plan.feed.name)
            feed.coolDown = .some(coolDown.flatMap { $0 > context.clock.now() ? $0 : nil })
            for outcome in outcomes {
                let label = outcome.newFiles.count == 1 ? outcome.newFiles.keys.first! : outcome.database
                switch outcome.status {
                case .updated:
                    do {
                        var staged: [StagedFile] = []
                        for (name, path) in outcome.newFiles.sorted(by: { $0.key < $1.key }) {
                            let signatures = try ContentChecks.check(path: path, name: name, contentType: nil)
                            var file = StagedFile(feed: plan.feed.name, name: name, path: path,
                                                  sha256: try ClamAV.hashFile("sha256", path: path),
                                                  size: Files.size(path) ?? 0, signatures: signatures)
                            file.mirror = plan.feed.mirrors.first
                            file.adopting = !owned.contains(name)
                            staged.append(file)
                        }
                        feed.files += staged.map { FileResult(name: $0.name, outcome: .staged($0)) }
                        feed.replaced += outcome.removed
                    } catch {
                        feed.files.append(FileResult(name: label, outcome: .rejected("\(error)")))
                    }
                case .failed:
                    feed.files.append(FileResult(name: label, outcome: .failed(outcome.message ?? "libfreshclam failed")))
                case .not_due:
                    feed.files.append(FileResult(name: label, outcome: .deferred(outcome.message ?? "cool-down")))
                default:
                    feed.files.append(FileResult(name: label, outcome: .unchanged(mirror: nil)))
                }
            }
            acquisition.feeds[plan.feed.name] = feed
            acquisition.fetchSeconds += context.clock.now().timeIntervalSince(start)
        }
    }
}
