import Foundation

/// Detached-signature checks with gpgv against sigctl's own keyring for a feed.
/// The user's keyrings are never read: each feed has one key file in
/// `state_dir/keys/<feed>-<fingerprint>.gpg`, accepted only if its fingerprint is the configured one.
public struct GPGVerifier: Sendable {
    public let keyDirectory: String

    public init(stateDir: String) { keyDirectory = stateDir + "/keys" }

    /// One keyring per feed and fingerprint, so changing gpg_fingerprint fetches the new key.
    public func keyringPath(feed: String, fingerprint: String) -> String { keyDirectory + "/\(feed)-\(fingerprint).gpg" }

    public func hasKey(feed: String, fingerprint: String) -> Bool { Files.exists(keyringPath(feed: feed, fingerprint: fingerprint)) }

    /// Imports a downloaded key into the feed's keyring, if and only if it holds
    /// a key with `fingerprint`. Only that key is kept.
    public func importKey(feed: String, keyFile: String, fingerprint: String) throws {
        let home = try Files.makeTemporaryDirectory(in: keyDirectory, prefix: ".import-\(feed)-")
        defer { Files.remove(home) }
        let base = ["--homedir", home, "--batch", "--no-tty", "--quiet", "--no-autostart", "--no-options"]
        let imported = try Self.run("/usr/bin/gpg", base + ["--import", keyFile])
        guard imported.status == 0 else {
            throw Rejection("the key from gpg_key_url is not an OpenPGP key (gpg: \(imported.errorLine))",
                            hint: "check gpg_key_url")
        }
        let listing = try Self.run("/usr/bin/gpg", base + ["--with-colons", "--fingerprint", "--list-keys"])
        let fingerprints = listing.output.split(separator: "\n")
            .filter { $0.hasPrefix("fpr:") }
            .compactMap { $0.split(separator: ":", omittingEmptySubsequences: false).dropFirst(9).first.map(String.init) }
        guard fingerprints.contains(fingerprint) else {
            throw Rejection("the key from gpg_key_url has fingerprint \(fingerprints.first ?? "none"), not the configured \(fingerprint)",
                            hint: "the key may have been replaced or the URL is wrong; confirm the fingerprint with the provider before changing gpg_fingerprint")
        }
        let exported = try Self.run("/usr/bin/gpg", base + ["--export", fingerprint])
        guard exported.status == 0, !exported.outputData.isEmpty else {
            throw Rejection("gpg could not export the key (\(exported.errorLine))", hint: "check that gnupg is installed")
        }
        try Files.makeDirectory(keyDirectory, mode: 0o755)
        try Files.writeAtomically(exported.outputData, to: keyringPath(feed: feed, fingerprint: fingerprint), mode: 0o644)
    }

    /// Verifies `signature` over `file` with gpgv and the feed's keyring, and
    /// checks that the signing key is the configured one.
    public func verify(feed: String, file: String, signature: String, fingerprint: String) throws {
        let result = try Self.run("/usr/bin/gpgv", ["--status-fd", "1", "--keyring", keyringPath(feed: feed, fingerprint: fingerprint), signature, file])
        let validsig = result.output.split(separator: "\n").first { $0.hasPrefix("[GNUPG:] VALIDSIG ") }
        guard result.status == 0, let validsig else {
            let bad = result.output.contains("BADSIG") ? "the signature does not match the file"
                : result.output.contains("NO_PUBKEY") ? "it is signed by a key other than \(fingerprint)"
                : "gpgv rejected it (\(result.errorLine))"
            throw Rejection("GPG check failed: \(bad)",
                            hint: "the file was altered or the download is corrupt; the installed version stays")
        }
        let fields = validsig.split(separator: " ")
        let primary = fields.count > 11 ? String(fields[11]) : String(fields[2])
        guard primary == fingerprint || String(fields[2]) == fingerprint else {
            throw Rejection("GPG check failed: signed by \(primary), not \(fingerprint)", hint: "the installed version stays")
        }
    }

    struct Output {
        var status: Int32
        var outputData: Data
        var errorData: Data
        var output: String { String(decoding: outputData, as: UTF8.self) }
        var errorLine: String {
            String(decoding: errorData, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? "no message"
        }
    }

    static func run(_ tool: String, _ arguments: [String]) throws -> Output {
        guard FileManager.default.isExecutableFile(atPath: tool) else {
            throw Rejection("\(tool) is not installed", hint: "install the gpg and gpgv packages")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // gpg's output is small; read both pipes fully before waiting.
        let errReader = DispatchQueue.global()
        nonisolated(unsafe) var errorData = Data()
        let group = DispatchGroup()
        errReader.async(group: group) { errorData = err.fileHandleForReading.readDataToEndOfFile() }
        let outputData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Output(status: process.terminationStatus, outputData: outputData, errorData: errorData)
    }
}
