import Foundation
import TOMLKit

/// Reads and checks the config directory.
public enum ConfigLoader {
    public static let defaultDirectory = "/etc/sigctl"

    /// The config directory: `--config`, else `SIGCTL_CONFIG`, else /etc/sigctl.
    public static func directory(option: String?) -> String {
        if let option, !option.isEmpty { return option }
        if let env = ProcessInfo.processInfo.environment["SIGCTL_CONFIG"], !env.isEmpty { return env }
        return defaultDirectory
    }

    public static func load(directory: String) throws -> Configuration {
        var warnings: [String] = []
        let settingsPath = directory + "/sigctl.toml"
        // Absolute, so that the cron file and the timer's drop-in can name it.
        var settings = Settings(configDir: URL(fileURLWithPath: directory).standardizedFileURL.path)
        if FileManager.default.fileExists(atPath: settingsPath) {
            let document = try Document(path: settingsPath)
            try readSettings(document, into: &settings, warnings: &warnings)
        } else if !Files.isDirectory(directory) {
            throw ConfigError(file: directory, "the config directory does not exist; create it or pass --config DIR")
        }

        var feeds: [Feed] = []
        let feedsDir = directory + "/feeds.d"
        for entry in Files.list(feedsDir) where entry.hasSuffix(".toml") {
            let document = try Document(path: feedsDir + "/" + entry)
            let feed = try readFeed(document, defaultName: String(entry.dropLast(5)), settings: settings, warnings: &warnings)
            if let other = feeds.first(where: { $0.name == feed.name }) {
                throw ConfigError(file: document.path, line: document.line(of: "name"), key: "name",
                                  "feed name '\(feed.name)' is already used by \(other.source)")
            }
            feeds.append(feed)
        }
        try checkFileNamesAreUnique(feeds)

        var clamd: ClamdConf
        if FileManager.default.fileExists(atPath: settings.clamdConf) {
            clamd = try ClamdConf.read(settings.clamdConf)
            if settings.clamdOverride == nil && clamd.address == nil {
                throw ConfigError(file: settingsPath, key: "clamd",
                                  "\(settings.clamdConf) has no LocalSocket (absolute path) or TCPSocket, so sigctl cannot reach clamd; set clamd = \"unix:/path\", \"tcp:host:port\" or \"none\"")
            }
            if let dbdir = clamd.databaseDirectory,
               URL(fileURLWithPath: dbdir).standardizedFileURL.path != URL(fileURLWithPath: settings.databaseDir).standardizedFileURL.path {
                warnings.append("\(settings.clamdConf) has DatabaseDirectory \(dbdir) but sigctl installs into \(settings.databaseDir): clamd will not see sigctl's files; make them the same")
            }
        } else if settings.clamdOverride != nil {
            clamd = ClamdConf(path: settings.clamdConf)
            warnings.append("\(settings.clamdConf) does not exist: verifying with clamd's default load options")
        } else {
            throw ConfigError(file: settingsPath, key: "clamd_conf",
                              "\(settings.clamdConf) does not exist; point clamd_conf at clamd's configuration, or set clamd = \"unix:/path\" or \"none\"")
        }
        return Configuration(settings: settings, feeds: feeds, clamd: clamd, warnings: warnings)
    }

    private static func checkFileNamesAreUnique(_ feeds: [Feed]) throws {
        var owner: [String: String] = [:]
        for feed in feeds where feed.enabled {
            for file in feed.enabledFiles {
                if let other = owner[file.name] {
                    throw ConfigError(file: feed.source, key: "files",
                                      "file \(file.name) is also delivered by feed '\(other)'; disable it in one of them")
                }
                owner[file.name] = feed.name
            }
        }
    }

    static let settingsKeys: Set<String> = [
        "database_dir", "state_dir", "clamd_conf", "clamd", "sleep", "keep_generations", "connect_timeout",
        "stall_timeout", "max_file_size", "user_agent", "proxy", "verify_memory_limit", "memory_budget", "verify_timeout",
        "reload_timeout", "max_connections_per_host", "verify_scope", "ham_corpus", "detect_corpus", "report", "metrics_textfile",
        "publish_dir", "publish_key", "publish_gnupg_home", "publish_keep", "publish_feeds",
        "mail_logs", "local_networks", "trusted_networks", "trusted_domains", "journal_units", "journal_directory",
    ]

    /// A list of networks ("192.0.2.0/24", "2001:db8::/32", single addresses).
    private static func networks(_ doc: Document, _ key: String, in table: TOMLTable) throws -> [IPNetwork] {
        try (doc.strings(key, in: table) ?? []).map { text in
            guard let network = IPNetwork(text) else {
                throw doc.error(key, "must list networks such as \"192.0.2.0/24\" or \"2001:db8::/32\"; \"\(text)\" is not one")
            }
            return network
        }
    }

    private static func readSettings(_ doc: Document, into settings: inout Settings, warnings: inout [String]) throws {
        let table = doc.table
        doc.warnUnknown(table, allowed: settingsKeys, warnings: &warnings)
        if let v = try doc.path("database_dir", in: table) { settings.databaseDir = v }
        if let v = try doc.path("state_dir", in: table) { settings.stateDir = v }
        if let v = try doc.path("clamd_conf", in: table) { settings.clamdConf = v }
        if let v = try doc.string("clamd", in: table) {
            if v == "none" {
                settings.clamdOverride = .some(nil)
            } else if let address = ClamdAddress.parse(v) {
                settings.clamdOverride = .some(address)
            } else {
                throw doc.error("clamd", "must be \"unix:/path\", \"tcp:host:port\" or \"none\", found \"\(v)\"")
            }
        }
        if let v = try doc.string("sleep", in: table, orInteger: true) {
            guard let range = DurationParser.range(v) else {
                throw doc.error("sleep", "must be a range such as \"30s-600s\", a duration, or \"0\"; found \"\(v)\"")
            }
            settings.sleep = range
        }
        if let v = try doc.int("keep_generations", in: table, range: 1...100) { settings.keepGenerations = v }
        if let v = try doc.duration("connect_timeout", in: table) { settings.connectTimeout = max(1, v) }
        if let v = try doc.duration("stall_timeout", in: table) { settings.stallTimeout = max(1, v) }
        if let v = try doc.size("max_file_size", in: table) { settings.maxFileSize = v }
        if let v = try doc.string("user_agent", in: table) { settings.userAgent = v }
        if let v = try doc.string("proxy", in: table), !v.isEmpty {
            do { settings.proxy = try Proxy.parse(v) } catch { throw doc.error("proxy", error.description) }
            if let proxy = settings.proxy, proxy.defaultedPort {
                warnings.append("\(doc.path):\(doc.line(of: "proxy") ?? 0): proxy names no port, so libcurl's default \(proxy.port) is used; write the proxy's port (squid's is 3128)")
            }
        }
        if let v = try doc.size("verify_memory_limit", in: table) { settings.verifyMemoryLimit = v }
        if table["memory_budget"]?.string != "auto", let v = try doc.size("memory_budget", in: table) { settings.memoryBudget = v }
        if let v = try doc.duration("verify_timeout", in: table) { settings.verifyTimeout = max(1, v) }
        if let v = try doc.duration("reload_timeout", in: table) { settings.reloadTimeout = max(1, v) }
        if let v = try doc.int("max_connections_per_host", in: table, range: 1...8) { settings.maxConnectionsPerHost = v }
        if let v = try doc.path("ham_corpus", in: table) { settings.hamCorpus = v }
        if let v = try doc.path("metrics_textfile", in: table) {
            guard v.hasSuffix(".prom") else {
                throw doc.error("metrics_textfile", "must end in .prom, or node_exporter's textfile collector ignores it; found \"\(v)\"")
            }
            settings.metricsTextfile = v
        }
        if let v = try doc.path("detect_corpus", in: table) { settings.detectCorpus = v }
        if let v = try doc.path("publish_dir", in: table) { settings.publishDir = v }
        settings.publishKey = try fingerprint(doc, "publish_key", in: table, what: "of the key that signs manifests")
        if let v = try doc.path("publish_gnupg_home", in: table) { settings.publishGnupgHome = v }
        if let v = try doc.int("publish_keep", in: table, range: 1...100) { settings.publishKeep = v }
        if let v = try doc.strings("publish_feeds", in: table) { settings.publishFeeds = v }
        if let v = try doc.strings("mail_logs", in: table) {
            if let bad = v.first(where: { !$0.hasPrefix("/") && $0 != "journald" }) {
                throw doc.error("mail_logs", "must list absolute paths or \"journald\", found \"\(bad)\"")
            }
            settings.mailLogs = v
        }
        if let v = try doc.strings("journal_units", in: table) { settings.journalUnits = v }
        if let v = try doc.path("journal_directory", in: table) { settings.journalDirectory = v }
        settings.localNetworks = try networks(doc, "local_networks", in: table)
        settings.trustedNetworks = try networks(doc, "trusted_networks", in: table)
        if let v = try doc.strings("trusted_domains", in: table) { settings.trustedDomains = v.map { $0.lowercased() } }
        if settings.publishDir != nil && settings.publishKey == nil {
            throw doc.error("publish_dir", "needs publish_key too, the fingerprint of the key that signs manifests")
        }
        if let v = try doc.string("report", in: table) {
            guard let level = ReportLevel(rawValue: v) else {
                throw doc.error("report", "must be \"errors\" (unattended runs print only errors) or \"changes\" (also each change); found \"\(v)\"")
            }
            settings.report = level
        }
        if let v = try doc.string("verify_scope", in: table) {
            guard let scope = VerifyScope(rawValue: v) else {
                throw doc.error("verify_scope", "must be \"set\" (verify everything clamd will load) or \"changed\" (only the new files)")
            }
            settings.verifyScope = scope
        }
    }

    static let feedKeys: Set<String> = [
        "name", "kind", "enabled", "mirrors", "interval", "integrity", "gpg_key_url", "gpg_fingerprint", "files", "ham_corpus",
        "may_silence", "may_configure", "transport",
    ]
    static let fileKeys: Set<String> = ["name", "risk", "enabled", "url", "compressed"]
    static let officialKeys: Set<String> = [
        "name", "kind", "enabled", "mirrors", "interval", "databases", "private_mirror", "dns", "scripted_updates",
    ]

    /// A `kind = "official"` feed: no [[files]]; databases, mirrors, DNS, private-mirror
    /// mode and how new versions come (cdiffs, or whole CVDs on a publisher).
    private static func readOfficialFeed(_ doc: Document, into feed: inout Feed, settings: Settings,
                                         warnings: inout [String]) throws -> Feed {
        doc.warnUnknown(doc.table, allowed: officialKeys, warnings: &warnings)
        var official = OfficialSettings()
        if let databases = try doc.strings("databases", in: doc.table) {
            guard !databases.isEmpty, databases.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isLetter || $0.isNumber || "-_".contains($0) } }) else {
                throw doc.error("databases", "must list database names such as \"main\", \"daily\", \"bytecode\"")
            }
            official.databases = databases
        }
        if let privateMirror = try doc.bool("private_mirror", in: doc.table) { official.privateMirror = privateMirror }
        if let dns = try doc.string("dns", in: doc.table) {
            official.dns = dns == "none" || dns.isEmpty ? nil : dns
        }
        if let scripted = try doc.bool("scripted_updates", in: doc.table) {
            official.scriptedUpdates = scripted
            official.scriptedUpdatesChosen = true
        } else {
            official.scriptedUpdates = !settings.publishes(feed: feed.name)
        }
        if feed.mirrors.isEmpty { feed.mirrors = ["https://database.clamav.net"] }
        feed.official = official
        return feed
    }

    static let publicationKeys: Set<String> = [
        "name", "kind", "enabled", "mirrors", "interval", "gpg_key_url", "gpg_fingerprint", "ham_corpus", "may_silence", "may_configure",
    ]

    /// A `kind = "sigctl"` feed: a publisher's tree (`sigctl publish`), its manifest signed
    /// by the site key whose fingerprint is pinned here.
    private static func readPublicationFeed(_ doc: Document, into feed: inout Feed, warnings: inout [String]) throws -> Feed {
        let table = doc.table
        doc.warnUnknown(table, allowed: publicationKeys, warnings: &warnings)
        guard !feed.mirrors.isEmpty else {
            throw doc.error("mirrors", "a kind = \"sigctl\" feed needs the publisher's URL, such as [\"https://publisher.example/sigctl/\"]")
        }
        for mirror in feed.mirrors where mirror.lowercased().hasPrefix("rsync://") {
            throw doc.error("mirrors", "a publisher is read over http:// or https://, not \"\(mirror)\"")
        }
        feed.publication = true
        feed.integrity = .gpg
        feed.gpgKeyURL = try doc.string("gpg_key_url", in: table)
        guard feed.gpgKeyURL != nil else { throw doc.error("gpg_key_url", "a kind = \"sigctl\" feed needs gpg_key_url, where the site key is") }
        guard let pinned = try fingerprint(doc, "gpg_fingerprint", in: table, what: "of the publisher's site key") else {
            throw doc.error("gpg_fingerprint", "a kind = \"sigctl\" feed needs gpg_fingerprint, the full fingerprint of the publisher's site key")
        }
        feed.gpgFingerprint = pinned
        feed.hamCorpus = try doc.path("ham_corpus", in: table)
        if let value = try doc.bool("may_silence", in: table) { feed.maySilence = value }
        if let value = try doc.bool("may_configure", in: table) { feed.mayConfigure = value }
        return feed
    }

    /// A key's full fingerprint (spaces dropped, upper case), or nil when the key is absent.
    private static func fingerprint(_ doc: Document, _ key: String, in table: TOMLTable, what: String) throws -> String? {
        guard let value = try doc.string(key, in: table) else { return nil }
        let cleaned = value.replacingOccurrences(of: " ", with: "").uppercased()
        guard cleaned.count == 40 || cleaned.count == 64, cleaned.allSatisfy(\.isHexDigit) else {
            throw doc.error(key, "must be the full fingerprint (40 or 64 hex digits) \(what)")
        }
        return cleaned
    }

    /// A file name rsync passes through literally: no wildcards, escapes or spaces.
    static func rsyncSafe(_ name: String) -> Bool {
        name.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || "._-+".contains($0) }
    }

    private static func readFeed(_ doc: Document, defaultName: String, settings: Settings, warnings: inout [String]) throws -> Feed {
        let table = doc.table
        var feed = Feed(name: defaultName, source: doc.path)
        if let name = try doc.string("name", in: table) { feed.name = name }
        guard !feed.name.isEmpty, feed.name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw doc.error("name", "feed names may hold only letters, digits, '-', '_' and '.'")
        }
        if let enabled = try doc.bool("enabled", in: table) { feed.enabled = enabled }
        if let mirrors = try doc.strings("mirrors", in: table) { feed.mirrors = mirrors }
        if let interval = try doc.duration("interval", in: table) { feed.interval = interval }
        let kind = try doc.string("kind", in: table) ?? "files"
        let rsyncAllowed = kind == "files"
        for mirror in feed.mirrors {
            let lower = mirror.lowercased()
            if lower.hasPrefix("http://") || lower.hasPrefix("https://") { continue }
            if lower.hasPrefix("rsync://") && rsyncAllowed {
                guard let url = URLComponents(string: mirror), url.host?.isEmpty == false, url.path.count > 1 else {
                    throw doc.error("mirrors", "rsync mirror \"\(mirror)\" needs a host and a module: rsync://HOST[:PORT]/MODULE/PATH/")
                }
                continue
            }
            throw doc.error("mirrors", "mirror \"\(mirror)\" must start with http:// or https://\(rsyncAllowed ? " (or rsync://)" : "")")
        }
        switch kind {
        case "files": break
        case "official": return try readOfficialFeed(doc, into: &feed, settings: settings, warnings: &warnings)
        case "sigctl": return try readPublicationFeed(doc, into: &feed, warnings: &warnings)
        case let other: throw doc.error("kind", "must be \"files\", \"official\" or \"sigctl\", found \"\(other)\"")
        }
        if let transport = try doc.string("transport", in: table) {
            guard let value = Transport(rawValue: transport) else {
                throw doc.error("transport", "must be \"auto\" (rsync mirrors first, then HTTP), \"rsync\" or \"http\"; found \"\(transport)\"")
            }
            feed.transport = value
        }
        doc.warnUnknown(table, allowed: feedKeys, warnings: &warnings)
        if let integrity = try doc.string("integrity", in: table) {
            guard let value = Integrity(rawValue: integrity) else {
                throw doc.error("integrity", "must be gpg, sha256, md5 or none; found \"\(integrity)\"")
            }
            feed.integrity = value
        }
        feed.gpgKeyURL = try doc.string("gpg_key_url", in: table)
        feed.hamCorpus = try doc.path("ham_corpus", in: table)
        if let value = try doc.bool("may_silence", in: table) { feed.maySilence = value }
        if let value = try doc.bool("may_configure", in: table) { feed.mayConfigure = value }
        feed.gpgFingerprint = try fingerprint(doc, "gpg_fingerprint", in: table, what: "of the feed's signing key")
        if feed.integrity == .gpg {
            if feed.gpgKeyURL == nil { throw doc.error("integrity", "integrity = \"gpg\" needs gpg_key_url") }
            if feed.gpgFingerprint == nil { throw doc.error("integrity", "integrity = \"gpg\" needs gpg_fingerprint") }
        }

        guard let filesValue = table["files"] else {
            throw doc.error("files", "a feed needs at least one [[files]] entry")
        }
        guard let files = filesValue.array else { throw doc.error("files", "must be an array of [[files]] tables") }
        for (index, value) in files.enumerated() {
            guard let fileTable = value.table else { throw doc.error("files", "entry \(index + 1) is not a table") }
            doc.warnUnknown(fileTable, allowed: fileKeys, warnings: &warnings, section: ("files", index))
            let at = (table: "files", index: index)
            guard let name = try doc.string("name", in: fileTable, section: at) else {
                throw doc.error("files", "[[files]] entry \(index + 1) has no name")
            }
            guard !name.contains("/"), name != canaryFileName, name != allowListFileName, isDatabaseFile(name) else {
                throw doc.error("name", "\"\(name)\" is not a ClamAV database file name (it needs an extension such as .ndb, .hdb, .ldb)", section: at)
            }
            var file = FeedFile(name: name)
            if let risk = try doc.string("risk", in: fileTable, section: at) {
                guard let value = Risk(rawValue: risk) else {
                    throw doc.error("risk", "must be low, medium or high; found \"\(risk)\"", section: at)
                }
                file.risk = value
            }
            if let enabled = try doc.bool("enabled", in: fileTable, section: at) { file.enabled = enabled }
            if let url = try doc.string("url", in: fileTable, section: at) {
                guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
                    throw doc.error("url", "must start with http:// or https://", section: at)
                }
                file.url = url
            }
            if let compressed = try doc.string("compressed", in: fileTable, section: at) {
                guard compressed == "gzip" || compressed == "none" else {
                    throw doc.error("compressed", "must be \"gzip\" or \"none\"", section: at)
                }
                file.gzip = compressed == "gzip"
            }
            if feed.files.contains(where: { $0.name == name }) {
                throw doc.error("name", "\(name) is listed twice", section: at)
            }
            feed.files.append(file)
        }
        if feed.mirrors.isEmpty && feed.files.contains(where: { $0.url == nil }) {
            throw doc.error("mirrors", "a feed needs at least one mirror (or a url on every file)")
        }
        if !feed.mirrors.isEmpty && feed.rsyncMirrors.isEmpty && feed.httpMirrors.isEmpty {
            throw doc.error("transport", "transport = \"\(feed.transport.rawValue)\" leaves none of the feed's mirrors: list a \(feed.transport == .rsync ? "rsync://" : "http(s)://") mirror or change transport")
        }
        if !feed.rsyncMirrors.isEmpty, let odd = feed.files.first(where: { !Self.rsyncSafe($0.name) }) {
            throw doc.error("name", "\"\(odd.name)\" cannot be fetched over rsync (rsync would read it as a pattern): use only letters, digits, '.', '_' and '-'")
        }
        return feed
    }
}
