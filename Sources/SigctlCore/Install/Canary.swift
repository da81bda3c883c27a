import Foundation

/// A signature name as defined in its database: clamd and libclamav append
/// ".UNOFFICIAL" to names from third-party files when they report them.
public func definedName(_ reported: String) -> String {
    reported.hasSuffix(".UNOFFICIAL") ? String(reported.dropLast(".UNOFFICIAL".count)) : reported
}

/// The reload canary. Every installed set gets a new one, so clamd detecting it
/// proves clamd runs that set.
///
/// The signature is an MD5 hash signature of a random payload, and what sigctl
/// scans is a mail message that carries the payload base64-encoded as an
/// attachment. The raw message never matches: only an engine that parses the
/// mail and decodes the attachment finds the canary. So the proof covers what a
/// mail gateway needs, not only that the set loaded. When clamd.conf has
/// `ScanMail no` the payload itself is the probe.
public struct Canary: Sendable, Equatable {
    public let name: String
    /// The random bytes the signature matches (the attachment's content).
    public let payload: Data
    /// What is scanned: the mail message, or the payload when mail scanning is off.
    public let probe: Data

    public init(name: String, payload: Data, mail: Bool = true) {
        self.name = name
        self.payload = payload
        self.probe = mail ? Canary.message(name: name, payload: payload) : payload
    }

    /// Every canary's name starts with this; `hits` ignores them (sigctl's own scans).
    public static let namePrefix = "Sigctl.Canary."

    /// A new canary for `generation`. The payload is random, so it can never match real mail.
    public static func make(generation: Int, mail: Bool = true) throws -> Canary {
        var bytes = [UInt8](repeating: 0, count: 512)
        for index in bytes.indices { bytes[index] = UInt8.random(in: 0...255) }
        let tag = (0..<4).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        let payload = Data("sigctl reload canary, generation \(generation), \(tag)\n".utf8) + Data(bytes)
        return Canary(name: "\(namePrefix)G\(generation).\(tag)", payload: payload, mail: mail)
    }

    /// The message: multipart/mixed, a text part, and the payload as a base64 attachment.
    static func message(name: String, payload: Data) -> Data {
        let boundary = "sigctl-canary-" + (name.split(separator: ".").last.map(String.init) ?? "x")
        let encoded = payload.base64EncodedString(options: [.lineLength76Characters, .endLineWithLineFeed])
        let text = """
        From: sigctl <canary@sigctl.invalid>
        To: postmaster <postmaster@localhost>
        Subject: sigctl reload canary \(name)
        Message-ID: <\(name)@sigctl.invalid>
        MIME-Version: 1.0
        Content-Type: multipart/mixed; boundary="\(boundary)"

        This message proves that clamd runs the signature set that sigctl installed.

        --\(boundary)
        Content-Type: text/plain; charset=us-ascii

        The attachment holds random bytes that only this set's canary signature matches.

        --\(boundary)
        Content-Type: application/octet-stream; name="canary.bin"
        Content-Transfer-Encoding: base64
        Content-Disposition: attachment; filename="canary.bin"

        \(encoded)
        --\(boundary)--

        """
        return Data(text.utf8)
    }

    /// The `.hdb` line: md5:size:name.
    public func databaseLine() throws -> String {
        "\(try ClamAV.hash("md5", payload)):\(payload.count):\(name)\n"
    }

    /// Writes the `.hdb` file and the payload (`<dir>/sigctl-canary.hdb`, `<payloadPath>`).
    public func write(databaseTo path: String, payloadTo payloadPath: String) throws {
        try Files.writeAtomically(Data(try databaseLine().utf8), to: path, mode: 0o644)
        try Files.writeAtomically(payload, to: payloadPath, mode: 0o644)
    }

    public static func read(name: String, payloadPath: String, mail: Bool = true) -> Canary? {
        guard let payload = FileManager.default.contents(atPath: payloadPath) else { return nil }
        return Canary(name: name, payload: payload, mail: mail)
    }

    /// True when a clamd or libclamav verdict names this canary (clamd appends ".UNOFFICIAL").
    public func matches(_ verdict: String) -> Bool {
        definedName(verdict) == name
    }
}
