import Foundation

/// What `publish` did (also `sigctl publish --json`).
public struct PublishResult: Encodable, Sendable, Equatable {
    public var generation: Int
    public var directory: String
    /// False when the tree already held this generation.
    public var changed: Bool
    public var files: Int?
    /// Files the tree did not have before.
    public var written: Int?
    /// Old files pruned.
    public var removed: Int?
    /// Official databases published as a `.cld` that libfreshclam patched here from
    /// cdiffs: freshclam gateways take them without a signature (sigctl gateways check
    /// them against the signed manifest).
    public var unsignedForFreshclam: [String]?
}

/// Writes the live set into a static tree any web server can serve (see "Fleet" in
/// the README):
///
///     DIR/files/<sha256>/<name>        the shared files, by content (never rewritten)
///     DIR/<name>.cld|.cvd              official databases, where freshclam's PrivateMirror looks
///     DIR/manifests/<gen>.json(.sig)   each generation's manifest and detached signature
///     DIR/manifest.json(.sig)          the current generation's, renamed into place last
///
/// Files go first and the manifest last, each by rename, so a gateway never reads a
/// manifest that names a file not there yet. Files stay while any of the last
/// `publish_keep` manifests names them.
public struct Publisher {
    let settings: Settings
    let feeds: [Feed]
    let loadOptions: LoadOptions
    let log: Log
    let now: Date

    public init(config: Configuration, log: Log, now: Date) {
        settings = config.settings
        feeds = config.feeds
        loadOptions = config.clamd.loadOptions
        self.log = log
        self.now = now
    }

    /// Publishes the live set of `state` into `directory` (default: publish_dir).
    public func publish(state: State, into directory: String? = nil, force: Bool = false) throws -> PublishResult {
        guard let root = directory ?? settings.publishDir else {
            throw CommandError("no publish directory", hint: "give one (sigctl publish DIR) or set publish_dir in sigctl.toml", exit: .usage)
        }
        guard let key = settings.publishKey else {
            throw CommandError("publish_key is not set", hint: "set publish_key in sigctl.toml to the fingerprint of the site key that signs manifests", exit: .config)
        }
        guard let live = state.live else {
            throw CommandError("nothing is installed yet, so there is nothing to publish", hint: "run sigctl update first")
        }
        let generations = Generations(stateDir: settings.stateDir)
        guard let kept = generations.manifest(live.generation), kept.status.isKept else {
            throw CommandError("set \(live.generation) is not confirmed by clamd yet, so it is not published",
                               hint: "sigctl publishes only sets clamd has shown it uses; check clamd and run sigctl update again")
        }
        try Files.makeDirectory(root)
        try Files.makeDirectory(root + "/files")
        try Files.makeDirectory(root + "/manifests")
        if !force, let current = try? PublishManifest.decode(Data(contentsOf: URL(fileURLWithPath: root + "/" + PublishManifest.currentPath))),
           current.generation == live.generation {
            return PublishResult(generation: live.generation, directory: root, changed: false,
                                 unsignedForFreshclam: Self.nonEmpty(FreshclamTop.unsigned(root: root)))
        }

        // 1. The files, by content: what is live now. After a rollback that kept newer
        // official databases, those come from the database directory, not the kept set.
        var entries: [PublishManifest.File] = []
        var written = 0
        for name in live.owned.sorted() {
            guard let (feed, record) = state.record(of: name), let sha256 = record.sha256, shared(feed: feed, name: name) else { continue }
            let path = PublishManifest.filePath(sha256: sha256, name: name)
            let target = root + "/" + path
            if !Files.exists(target) {
                try Files.makeDirectory((target as NSString).deletingLastPathComponent)
                let source = kept.files[name]?.sha256 == sha256 ? generations.directory(live.generation) + "/" + name
                    : settings.databaseDir + "/" + name
                try copyAtomically(source, to: target, sha256: sha256)
                written += 1
            }
            entries.append(PublishManifest.File(name: name, sha256: sha256, size: record.size ?? Files.size(target) ?? 0,
                                                signatures: record.signatures ?? kept.files[name]?.signatures ?? 0,
                                                feed: feed, version: version(of: target, name: name, record: record), path: path))
        }
        // 2. The manifest: archived and signed first, then renamed into place.
        // Web servers derive ETag and Last-Modified from the mtime in whole seconds (nginx:
        // mtime and size): a new manifest must never look like the one before it.
        let current = root + "/" + PublishManifest.currentPath
        let stamp = max(now, (Files.modificationTime(current) ?? .distantPast).addingTimeInterval(1))
        let manifest = PublishManifest(
            generation: live.generation, publishedAt: Date(timeIntervalSince1970: stamp.timeIntervalSince1970.rounded(.down)),
            publisher: ProcessInfo.processInfo.hostName,
            verified: .init(libclamav: ClamAV.version, loadOptions: loadOptions.directives, signatures: kept.loadedSignatures,
                            installedAt: live.installedAt, confirmedByClamd: kept.status == .confirmed),
            files: entries,
            feeds: feeds.filter { $0.enabled && Set(entries.map(\.feed)).contains($0.name) }.map { feed in
                PublishManifest.FeedVerdict(name: feed.name, lastSuccess: state.feeds[feed.name]?.lastSuccess,
                                            heldBack: state.feeds[feed.name]?.lastError)
            })
        let data = try JSONOutput.encode(manifest)
        let archived = root + "/" + PublishManifest.archivedPath(manifest.id)
        try Files.writeAtomically(data, to: archived)
        let signature = try ManifestSigner(key: key, home: settings.publishGnupgHome).sign(archived)
        try Files.writeAtomically(signature, to: archived + ".sig")
        // 3. The official databases where freshclam looks, once the manifest is signed:
        // a publication that fails before here leaves freshclam gateways where they were.
        try FreshclamTop.update(root: root, selected: FreshclamTop.select(entries))
        try Files.writeAtomically(signature, to: current + ".sig", modified: manifest.publishedAt)
        try Files.writeAtomically(data, to: current, modified: manifest.publishedAt)
        let removed = prune(root, current: manifest)
        log.info("published set \(live.generation) (\(entries.count) files, \(written) new) into \(root)")
        return PublishResult(generation: live.generation, directory: root, changed: true, files: entries.count, written: written,
                             removed: removed, unsignedForFreshclam: Self.nonEmpty(FreshclamTop.unsigned(root: root)))
    }

    /// After an update, rollback or reload: publishes the live set into publish_dir when
    /// it is set and clamd confirmed a set the tree does not have yet. Never throws: a
    /// problem comes back as one message for the run's errors.
    public static func afterRun(context: SigctlContext, config: Configuration, state: State) -> (generation: Int?, problem: String?) {
        guard let directory = config.settings.publishDir, let live = state.live, live.confirmed || config.clamdAddress == nil else {
            return (nil, nil)
        }
        do {
            let result = try Publisher(config: config, log: context.log, now: context.clock.now()).publish(state: state, into: directory)
            return (result.changed ? result.generation : nil, nil)
        } catch {
            return (nil, "publishing set \(live.generation) into \(directory) failed: \(error); the gateways keep the set published before")
        }
    }

    /// Whether a file of the live set goes into the tree: never the canary or sigctl's
    /// own allow list, and only the feeds publish_feeds names (all when unset).
    func shared(feed: String, name: String) -> Bool {
        guard name != canaryFileName, name != allowListFileName, feed != AllowListSource.feedName else { return false }
        return settings.shares(feed: feed)
    }

    static func nonEmpty(_ names: [String]) -> [String]? { names.isEmpty ? nil : names }

    /// The CVD version from the header, or the Last-Modified the file was installed with.
    func version(of path: String, name: String, record: FileState) -> String? {
        if ContentChecks.isContainer(name), let number = DirectoryLoad.version(path) { return String(number) }
        return record.installedLastModified
    }

    /// Copies into a temporary name beside `target`, checks the digest, renames.
    func copyAtomically(_ source: String, to target: String, sha256: String) throws {
        let temp = (target as NSString).deletingLastPathComponent + "/.\((target as NSString).lastPathComponent).tmp-\(getpid())"
        unlink(temp)
        try Files.copy(source, to: temp)
        guard try ClamAV.hashFile("sha256", path: temp) == sha256 else {
            unlink(temp)
            throw CommandError("\(source) no longer has the digest its set recorded", hint: "run sigctl update to repair the kept set, then publish again")
        }
        guard rename(temp, target) == 0 else {
            let error = SystemError.errno("rename", path: target)
            unlink(temp)
            throw error
        }
    }

    /// Keeps the newest publish_keep publications (by time, whatever their generation
    /// numbers) and the files they name, always the one just written; removes the rest.
    func prune(_ root: String, current: PublishManifest) -> Int {
        var archived: [PublishManifest] = []
        for name in Files.list(root + "/manifests") where name.hasSuffix(".json") {
            guard let data = Files.readRegular(root + "/manifests/" + name), let manifest = try? PublishManifest.decode(data),
                  PublishManifest.archivedPath(manifest.id) == "manifests/" + name else {
                return 0 // something unreadable: keep everything rather than guess
            }
            archived.append(manifest)
        }
        archived.sort { $0.publishedAt > $1.publishedAt }
        let keep = [current] + archived.filter { $0.id != current.id }.prefix(max(1, settings.publishKeep) - 1)
        let named = Set(keep.flatMap { $0.files.map(\.sha256) })
        for manifest in archived where !keep.contains(where: { $0.id == manifest.id }) {
            unlink(root + "/" + PublishManifest.archivedPath(manifest.id))
            unlink(root + "/" + PublishManifest.archivedPath(manifest.id) + ".sig")
        }
        var removed = 0
        for digest in Files.list(root + "/files") where !named.contains(digest) {
            Files.remove(root + "/files/" + digest)
            removed += 1
        }
        return removed
    }
}

/// Signs manifests with the site's key: `gpg --detach-sign` as the user sigctl runs as.
struct ManifestSigner {
    let key: String
    let home: String?

    func sign(_ path: String) throws -> Data {
        var arguments = ["--batch", "--no-tty", "--yes", "--pinentry-mode", "error", "--local-user", key + "!",
                         "--detach-sign", "--output", "-", path]
        if let home { arguments = ["--homedir", home] + arguments }
        let result: GPGVerifier.Output
        do {
            result = try GPGVerifier.run("/usr/bin/gpg", arguments)
        } catch {
            throw CommandError("cannot run gpg to sign the manifest (\(error))", hint: "install the gpg package")
        }
        guard result.status == 0, !result.outputData.isEmpty else {
            throw CommandError("gpg could not sign the manifest with \(key) (\(result.errorLine))",
                               hint: "import the site's secret key without a passphrase into \(home ?? "the GnuPG home of the user sigctl runs as"), or set publish_gnupg_home")
        }
        return result.outputData
    }
}
