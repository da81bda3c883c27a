import ArgumentParser
import SigctlCore

struct Feeds: Subcommand {
    static let configuration = CommandConfiguration(
        abstract: "List the configured feeds: enabled, interval, integrity, mirrors and each file's false-positive risk."
    )

    @OptionGroup var options: GlobalOptions
    @ParentCommand var parent: Sigctl

    @OptionGroup var output: OutputOptions

    func run() throws {
        let log = global.log
        try execute(log, json: output.json) {
            let config = try global.load(log)
            if config.feeds.isEmpty {
                log.warning("no feeds in \(config.settings.configDir)/feeds.d")
            }
            if output.json {
                struct Listing: Encodable { var feeds: [FeedListing] }
                return try printJSON(Listing(feeds: config.feeds.map(FeedListing.init)))
            }
            for feed in config.feeds {
                if let official = feed.official {
                    print("\(feed.name): \(feed.enabled ? "enabled" : "disabled"), every \(DurationParser.format(feed.interval)), official databases \(official.databases.joined(separator: ", ")) through libfreshclam (CVD signatures), DNS \(official.dns ?? "none")\(official.privateMirror ? ", private mirror" : "")\(updates(official))")
                    for mirror in feed.mirrors { print("  mirror \(Redact.url(mirror))") }
                    continue
                }
                if feed.publication {
                    print("\(feed.name): \(feed.enabled ? "enabled" : "disabled"), every \(DurationParser.format(feed.interval)), a publisher's verified set (kind = \"sigctl\"), manifest signed by \(feed.gpgFingerprint ?? "?")")
                    for mirror in feed.mirrors { print("  publisher \(Redact.url(mirror))") }
                    continue
                }
                print("\(feed.name): \(feed.enabled ? "enabled" : "disabled"), every \(DurationParser.format(feed.interval)), integrity \(feed.integrity.rawValue)\(feed.gpgFingerprint.map { " (key \($0))" } ?? ""), transport \(feed.transport.rawValue)")
                for mirror in feed.usedMirrors { print("  mirror \(Redact.url(mirror))") }
                for mirror in feed.mirrors where !feed.usedMirrors.contains(mirror) {
                    print("  mirror \(Redact.url(mirror)) (not used: transport = \(feed.transport.rawValue))")
                }
                for file in feed.files {
                    print("  \(file.name.padding(toLength: 34, withPad: " ", startingAt: 0)) risk \(file.risk.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0))\(file.enabled ? "enabled" : "disabled")\(file.gzip ? ", gzip" : "")")
                }
            }
        }
    }

    /// How new versions come, when it is not the usual cdiffs.
    func updates(_ official: OfficialSettings) -> String {
        if official.scriptedUpdates { return official.scriptedUpdatesChosen ? ", cdiffs" : "" }
        return official.scriptedUpdatesChosen ? ", whole CVDs (scripted_updates = false)" : ", whole CVDs (published for freshclam gateways)"
    }
}
