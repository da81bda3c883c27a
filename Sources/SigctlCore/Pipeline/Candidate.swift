import Foundation

/// The set an update proposes: the live set with these files changed and these removed.
public struct Candidate: Sendable {
    public var generation: Int
    public var canary: Canary
    /// New or changed files (downloads, repairs, the allow list).
    public var files: [StagedFile]
    /// Owned files the set no longer holds (name → feed).
    public var drops: [String: String]
    /// Live files replaced under another name (daily.cvd → daily.cld), name → feed.
    public var replaced: [String: String]
    /// Feeds whose changes go in whole or not at all (a publisher's set): when one of
    /// them is rejected, its drops stay out too.
    public var wholeFeeds: Set<String> = []

    public var isEmpty: Bool { files.isEmpty && drops.isEmpty && replaced.isEmpty }
    public var replacing: [String: String] { Dictionary(files.map { ($0.name, $0.path) }, uniquingKeysWith: { a, _ in a }) }
    public var removing: Set<String> { Set(drops.keys).union(replaced.keys) }

    /// The same candidate without `feeds`' files (they were rejected).
    public func without(feeds: Set<String>) -> Candidate {
        var copy = self
        copy.files.removeAll { feeds.contains($0.feed) }
        copy.replaced = replaced.filter { !feeds.contains($0.value) }
        copy.drops = drops.filter { !(feeds.contains($0.value) && wholeFeeds.contains($0.value)) }
        return copy
    }

    /// Pure: what the plan and the acquisition add up to.
    public static func assemble(generation: Int, canary: Canary, plan: UpdatePlan, acquisition: Acquisition,
                                local: [StagedFile]) -> Candidate {
        var files = local
        var replaced: [String: String] = [:]
        for (_, feed) in acquisition.feeds.sorted(by: { $0.key < $1.key }) {
            for result in feed.files {
                if case .staged(let file) = result.outcome { files.append(file) }
            }
            if feed.files.contains(where: { if case .staged = $0.outcome { return true } else { return false } }) {
                for name in feed.replaced { replaced[name] = feed.feed }
            }
        }
        var drops = plan.drops
        if plan.allowList == .remove { drops[allowListFileName] = AllowListSource.feedName }
        var candidate = Candidate(generation: generation, canary: canary, files: files, drops: drops, replaced: replaced)
        candidate.wholeFeeds = Set(acquisition.feeds.values.filter { $0.publication != nil }.map(\.feed))
        return candidate
    }
}
