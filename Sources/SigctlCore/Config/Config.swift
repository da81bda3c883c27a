import Foundation

/// sigctl's version, sent in the User-Agent and printed by `--version`.
public let sigctlVersion = "0.1.0"

/// `sigctl.toml`: where things live and how careful to be.
public struct Settings: Sendable {
    public var configDir: String
    public var databaseDir = "/var/lib/clamav"
    public var stateDir = "/var/lib/sigctl"
    public var clamdConf = "/etc/clamav/clamd.conf"
    /// nil: take the socket from clamd.conf. `.some(nil)`: "none", never talk to clamd.
    public var clamdOverride: ClamdAddress?? = nil
    public var sleep: ClosedRange<Int> = 30...600
    public var keepGenerations = 3
    public var connectTimeout = 30
    public var stallTimeout = 60
    public var maxFileSize: Int64 = 512 << 20
    public var userAgent = "sigctl/\(sigctlVersion) (+https://github.com/sigctl/sigctl)"
    /// Every transport goes through it: libcurl, libfreshclam, and rsync (HTTP proxies).
    public var proxy: Proxy?
    public var verifyMemoryLimit: Int64 = 4 << 30
    /// What a whole-set check may use (nil: what the host can spare, measured each run).
    public var memoryBudget: Int64?
    public var verifyTimeout = 600
    public var reloadTimeout = 180
    public var maxConnectionsPerHost = 2
    /// What verification loads: the whole candidate set ("set", as clamd will) or
    /// only the changed files ("changed", for hosts without memory for a second copy).
    public var verifyScope: VerifyScope = .set
    /// Legitimate mail that no update may start detecting (false-positive gate).
    public var hamCorpus: String?
    /// Mail that should be detected: each update reports what it newly detects or loses.
    public var detectCorpus: String?
    /// What an unattended `update` prints (and so what cron mails).
    public var report: ReportLevel = .errors
    /// Where to write the Prometheus textfile after every run (nil: not written).
    public var metricsTextfile: String?
    /// Where to publish each confirmed set for gateways (nil: not published after updates).
    public var publishDir: String?
    /// The fingerprint of the site key that signs published manifests.
    public var publishKey: String?
    /// The GnuPG home holding that key (nil: gpg's default for the user).
    public var publishGnupgHome: String?
    /// Published generations whose files stay in the tree.
    public var publishKeep = 5
    /// The feeds whose files are published (nil: every feed).
    public var publishFeeds: [String]?
    /// The mail logs `hits` and `status` read: paths, or "journald" (nil:
    /// /var/log/mail.log and its rotations when it exists, else journald).
    public var mailLogs: [String]?
    /// The systemd units whose journal entries are mail log lines.
    public var journalUnits = ["postfix*", "clamav-daemon*", "clamav-milter*", "amavis*", "exim4*"]
    /// Read the journal files in this directory instead of the system journal.
    public var journalDirectory: String?
    /// The site's own networks: a detection from a client in them is a machine of ours.
    public var localNetworks: [IPNetwork] = []
    /// Clients and sender domains whose detections `hits` suspects as false positives.
    public var trustedNetworks: [IPNetwork] = []
    public var trustedDomains: [String] = []

    public init(configDir: String) { self.configDir = configDir }
}

extension Settings {
    /// Whether `feed`'s files go into a publish tree (publish_feeds; all when unset).
    public func shares(feed: String) -> Bool {
        publishFeeds.map { $0.contains(feed) } ?? true
    }

    /// Whether this host publishes `feed`'s files after each update (publish_dir set).
    public func publishes(feed: String) -> Bool {
        publishDir != nil && shares(feed: feed)
    }
}

/// What an unattended run prints: errors only, or also one line per change.
public enum ReportLevel: String, Sendable, Codable {
    case errors, changes
}

public enum VerifyScope: String, Sendable, Codable {
    case set, changed
}

public enum Integrity: String, Sendable, Codable, CaseIterable {
    case gpg, sha256, md5, none
}

public enum Risk: String, Sendable, Codable, CaseIterable {
    case low, medium, high
}

/// Which of a feed's mirrors sigctl uses.
public enum Transport: String, Sendable, Codable, CaseIterable {
    /// Every mirror: the rsync:// ones first (one connection per mirror for all files), then http(s)://.
    case auto
    /// Only the rsync:// mirrors.
    case rsync
    /// Only the http(s):// mirrors (for hosts whose firewall blocks rsync's port 873).
    case http
}

/// One database file a feed publishes.
public struct FeedFile: Sendable {
    public var name: String
    public var risk: Risk = .low
    public var enabled = true
    /// A full URL when the file does not live at mirror + name.
    public var url: String?
    /// The mirror serves this file gzip-compressed.
    public var gzip = false
}

/// What a `kind = "official"` feed needs: ClamAV's own databases, fetched by libfreshclam.
public struct OfficialSettings: Sendable {
    /// Database names such as "main", "daily", "bytecode".
    public var databases: [String] = ["main", "daily", "bytecode"]
    /// The mirrors are private mirrors (plain file layout, no CDN rules).
    public var privateMirror = false
    /// The DNS name holding the current versions, or nil for "none" (HTTP header checks).
    public var dns: String? = "current.cvd.clamav.net"
    /// libfreshclam patches a database with cdiffs into a `.cld` (true), or downloads the
    /// whole signed `.cvd` of each new version (false). Resolved when the config is read:
    /// `scripted_updates` when set, else false on a host that publishes this feed, whose
    /// freshclam gateways can only take signed CVDs.
    public var scriptedUpdates = true
    /// Whether `scripted_updates` was set in the feed's file.
    public var scriptedUpdatesChosen = false

    /// The files a database may have in the database directory.
    public static func fileNames(_ database: String) -> [String] {
        ["\(database).cvd", "\(database).cld", "\(database).cud"]
    }

    /// The database a file name belongs to, if it is one of these databases' files.
    public func database(of fileName: String) -> String? {
        databases.first { OfficialSettings.fileNames($0).contains(fileName) }
    }
}

/// One `feeds.d/*.toml` file.
public struct Feed: Sendable {
    public var name: String
    public var source: String
    /// Set for `kind = "official"`: ClamAV's databases through libfreshclam.
    public var official: OfficialSettings?
    /// True for `kind = "sigctl"`: the verified set another sigctl publishes (`sigctl publish`).
    public var publication = false
    public var enabled = true
    public var mirrors: [String] = []
    public var transport: Transport = .auto
    public var interval = 3600
    public var integrity: Integrity = .none
    public var gpgKeyURL: String?
    public var gpgFingerprint: String?
    /// This feed's own ham corpus for the false-positive gate (overrides the global one).
    public var hamCorpus: String?
    /// The admin lets this feed ship allow lists that switch off other feeds' or ClamAV's detections.
    public var maySilence = false
    /// The admin lets this feed ship engine configuration (.cfg) and file-type magic (.ftm).
    public var mayConfigure = false
    public var files: [FeedFile] = []

    public var enabledFiles: [FeedFile] { files.filter(\.enabled) }

    /// The rsync:// mirrors sigctl uses, in the listed order.
    public var rsyncMirrors: [String] {
        transport == .http ? [] : mirrors.filter { $0.lowercased().hasPrefix("rsync://") }
    }

    /// The mirrors sigctl uses, in the order it tries them (rsync first).
    public var usedMirrors: [String] { official == nil && !publication ? rsyncMirrors + httpMirrors : mirrors }

    /// The http(s):// mirrors sigctl uses, in the listed order.
    public var httpMirrors: [String] {
        transport == .rsync ? [] : mirrors.filter { !$0.lowercased().hasPrefix("rsync://") }
    }

    /// The URL of `file` on `mirror`.
    public func url(of file: FeedFile, mirror: String) -> String {
        if let url = file.url { return url }
        return mirror.hasSuffix("/") ? mirror + file.name : mirror + "/" + file.name
    }
}

/// Everything sigctl read from its config directory.
public struct Configuration: Sendable {
    public var settings: Settings
    public var feeds: [Feed]
    public var clamd: ClamdConf
    /// Problems that do not stop sigctl (unknown keys, suspicious values).
    public var warnings: [String]

    /// The clamd socket to use, or nil for "none".
    public var clamdAddress: ClamdAddress? {
        if let override = settings.clamdOverride { return override }
        return clamd.address
    }

    public func feed(named name: String) -> Feed? { feeds.first { $0.name == name } }
}

/// The name of the file that holds the reload canary in the database directory.
public let canaryFileName = "sigctl-canary.hdb"

/// The allow list `sigctl allow` maintains in the database directory.
public let allowListFileName = "sigctl-allow.ign2"

/// File extensions libclamav loads from a database directory.
public let databaseExtensions: Set<String> = [
    "db", "hdb", "hdu", "fp", "mdb", "mdu", "hsb", "hsu", "sfp", "msb", "msu", "ndb", "ndu", "ldb", "ldu",
    "sdb", "zmd", "rmd", "pdb", "gdb", "wdb", "cbc", "ftm", "cfg", "cvd", "cld", "cud", "cdb", "cat", "crb",
    "idb", "ioc", "yar", "yara", "pwdb", "ign", "ign2", "imp",
]

public func isDatabaseFile(_ name: String) -> Bool {
    guard let dot = name.lastIndex(of: "."), !name.hasPrefix(".") else { return false }
    return databaseExtensions.contains(name[name.index(after: dot)...].lowercased())
}
