import Foundation
import Testing
@testable import SigctlCore

@Suite struct ConfigTests {
    func configDir(settings: String = "", feeds: [String: String] = [:]) -> TempDir {
        let dir = TempDir()
        dir.write("clamd.conf", "LocalSocket /run/clamav/clamd.ctl\nDatabaseDirectory /var/lib/clamav\n")
        dir.write("sigctl.toml", "clamd_conf = \"\(dir.path)/clamd.conf\"\n" + settings)
        for (name, body) in feeds { dir.write("feeds.d/\(name).toml", body) }
        return dir
    }

    @Test func defaultsMatchTheDocumentedContract() throws {
        let dir = configDir()
        let config = try ConfigLoader.load(directory: dir.path)
        #expect(config.settings.databaseDir == "/var/lib/clamav")
        #expect(config.settings.stateDir == "/var/lib/sigctl")
        #expect(config.settings.sleep == 30...600)
        #expect(config.settings.keepGenerations == 3)
        #expect(config.settings.connectTimeout == 30)
        #expect(config.settings.stallTimeout == 60)
        #expect(config.clamdAddress == .unix("/run/clamav/clamd.ctl"))
        #expect(config.settings.userAgent.hasPrefix("sigctl/\(sigctlVersion)"))
    }

    @Test func feedFileIsParsed() throws {
        let dir = configDir(feeds: ["ss": """
            enabled = true
            mirrors = ["https://a.example/ss/", "https://b.example/ss"]
            interval = "2h"
            integrity = "gpg"
            gpg_key_url = "https://a.example/key.gpg"
            gpg_fingerprint = "4e02 5a1c ba90 a065 3f38 d2d8 d691 ded9 31ea 4d9e"
            [[files]]
            name = "phish.ndb"
            risk = "low"
            [[files]]
            name = "junk.ndb"
            risk = "medium"
            enabled = false
            """])
        let feed = try #require(try ConfigLoader.load(directory: dir.path).feed(named: "ss"))
        #expect(feed.interval == 7200)
        #expect(feed.integrity == .gpg)
        #expect(feed.gpgFingerprint == "4E025A1CBA90A0653F38D2D8D691DED931EA4D9E")
        #expect(feed.enabledFiles.map(\.name) == ["phish.ndb"])
        #expect(feed.url(of: feed.files[0], mirror: feed.mirrors[1]) == "https://b.example/ss/phish.ndb")
    }

    @Test func badValueNamesFileLineAndKey() throws {
        let dir = configDir(feeds: ["x": "mirrors = [\"https://a/\"]\n\n[[files]]\nname = \"a.ndb\"\n\n[[files]]\nname = \"b.ndb\"\nrisk = \"extreme\"\n"])
        #expect {
            try ConfigLoader.load(directory: dir.path)
        } throws: { error in
            let error = error as? ConfigError
            return error?.line == 8 && error?.key == "risk" && error?.file.hasSuffix("feeds.d/x.toml") == true
                && error?.exitStatus == .config
        }
    }

    @Test func syntaxErrorNamesTheLine() throws {
        let dir = configDir(settings: "sleep = \"0\"\nkeep_generations = = 3\n")
        #expect {
            try ConfigLoader.load(directory: dir.path)
        } throws: { error in
            (error as? ConfigError)?.line == 3
        }
    }

    @Test func unknownKeysWarnWithTheirLine() throws {
        let dir = configDir(settings: "sleeep = \"0\"\n",
                            feeds: ["x": "mirrors = [\"https://a/\"]\n[[files]]\nname = \"a.ndb\"\nrisky = \"low\"\n"])
        let config = try ConfigLoader.load(directory: dir.path)
        #expect(config.warnings.contains { $0.contains("sigctl.toml:2: unknown key 'sleeep' ignored (did you mean 'sleep'?)") })
        #expect(config.warnings.contains { $0.contains("x.toml:4: unknown key 'risky'") })
    }

    @Test func twoFeedsMayNotInstallTheSameFile() throws {
        let feed = "mirrors = [\"https://a/\"]\n[[files]]\nname = \"same.ndb\"\n"
        let dir = configDir(feeds: ["a": feed, "b": feed])
        #expect(throws: ConfigError.self) { try ConfigLoader.load(directory: dir.path) }
    }

    @Test func rejectsWhatWouldBeUnsafe() throws {
        for body in [
            "mirrors = [\"ftp://a/\"]\n[[files]]\nname = \"a.ndb\"\n",
            "mirrors = [\"https://a/\"]\n[[files]]\nname = \"../etc/passwd.ndb\"\n",
            "mirrors = [\"https://a/\"]\n[[files]]\nname = \"notes.txt\"\n",
            "mirrors = [\"https://a/\"]\n[[files]]\nname = \"sigctl-canary.hdb\"\n",
            "mirrors = [\"https://a/\"]\nintegrity = \"gpg\"\n[[files]]\nname = \"a.ndb\"\n",
            "mirrors = [\"https://a/\"]\n",
        ] {
            let dir = configDir(feeds: ["x": body])
            #expect(throws: ConfigError.self, "\(body)") { try ConfigLoader.load(directory: dir.path) }
        }
    }

    @Test func shippedFeedDefinitionsLoad() throws {
        let dir = configDir()
        try FileManager.default.removeItem(atPath: dir.path + "/sigctl.toml")
        dir.write("sigctl.toml", "clamd_conf = \"\(dir.path)/clamd.conf\"\n")
        try FileManager.default.createDirectory(atPath: dir.path + "/feeds.d", withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: packageRoot + "/feeds.d") {
            try FileManager.default.copyItem(atPath: packageRoot + "/feeds.d/" + name, toPath: dir.path + "/feeds.d/" + name)
        }
        let config = try ConfigLoader.load(directory: dir.path)
        #expect(config.warnings.isEmpty, "\(config.warnings)")
        let sanesecurity = try #require(config.feed(named: "sanesecurity"))
        #expect(sanesecurity.enabled)
        #expect(sanesecurity.integrity == .gpg)
        #expect(sanesecurity.gpgFingerprint == "4E025A1CBA90A0653F38D2D8D691DED931EA4D9E")
        #expect(sanesecurity.mirrors.count >= 2)
        #expect(sanesecurity.files.contains { $0.name == "phish.ndb" && $0.risk == .low && $0.enabled })
        #expect(config.feed(named: "urlhaus")?.enabled == true)
        #expect(config.feed(named: "securiteinfo")?.enabled == false)
        #expect(config.feed(named: "msrbl")?.enabled == false)
    }

    @Test func clamdConfDecidesLoadOptionsAndSocket() throws {
        let dir = TempDir()
        let path = dir.write("clamd.conf", """
            # comment
            TCPSocket 3310
            TCPAddr 127.0.0.1
            PhishingSignatures no
            Bytecode false
            DetectPUA yes
            ConcurrentDatabaseReload no
            DatabaseDirectory /srv/clamav
            """)
        let conf = try ClamdConf.read(path)
        #expect(conf.address == .tcp(host: "127.0.0.1", port: 3310))
        #expect(!conf.loadOptions.phishingSignatures)
        #expect(conf.loadOptions.phishingScanURLs)
        #expect(!conf.loadOptions.bytecode)
        #expect(conf.loadOptions.detectPUA)
        #expect(!conf.concurrentDatabaseReload)
        #expect(conf.databaseDirectory == "/srv/clamav")
        dir.write("bad.conf", "Bytecode maybe\n")
        #expect(throws: ConfigError.self) { try ClamdConf.read(dir.path + "/bad.conf") }
    }

    @Test func clamdAddressesParse() {
        #expect(ClamdAddress.parse("unix:/run/clamd.sock") == .unix("/run/clamd.sock"))
        #expect(ClamdAddress.parse("tcp:127.0.0.1:3310") == .tcp(host: "127.0.0.1", port: 3310))
        #expect(ClamdAddress.parse("tcp:host:99999") == nil)
        #expect(ClamdAddress.parse("unix:relative") == nil)
    }
}

/// `proxy`: read once, in the form each transport takes.
@Suite struct ProxySettingTests {
    @Test func eachTransportGetsItsForm() throws {
        let plain = try Proxy.parse("proxy.example.org:3128")
        #expect(plain.url == "http://proxy.example.org:3128")
        #expect(plain.rsyncProxy == "proxy.example.org:3128")
        #expect(plain.freshclamServer == "http://proxy.example.org" && plain.port == 3128)

        let withUser = try Proxy.parse("http://mail%20relay:p%3Ass@Proxy.Example.org:8080/")
        #expect(withUser.url == "http://mail%20relay:p%3Ass@Proxy.Example.org:8080")
        #expect(withUser.rsyncProxy == "mail relay:p:ss@Proxy.Example.org:8080", "rsync takes them literally")
        #expect(withUser.freshclamServer == "http://Proxy.Example.org", "libfreshclam gets the credentials apart")
        #expect(withUser.user == "mail relay" && withUser.password == "p:ss")
        #expect(withUser.redacted == "http://…@Proxy.Example.org:8080", "never the password")
        #expect(try Proxy.parse("http://user@proxy:3128").rsyncProblem?.contains("with a password") == true)
        #expect(try Proxy.parse("http://[::1]:3128").rsyncProxy == nil, "rsync splits at the first colon")
        #expect(try Proxy.parse("http://[::1]:3128").url == "http://[::1]:3128")

        let socks = try Proxy.parse("socks5h://127.0.0.1:1080")
        #expect(socks.url == "socks5h://127.0.0.1:1080")
        #expect(socks.rsyncProxy == nil, "rsync tunnels only through HTTP proxies")
    }

    @Test func whatIsNotAProxyAddressIsRefusedWithTheReason() {
        let cases = ["http://proxy.example.org:99999": "no valid port",
                     "ftp://proxy.example.org:21": "not a proxy scheme",
                     "http://proxy.example.org:3128/path": "has a path",
                     "http://:3128": "not a proxy address"]
        for (text, reason) in cases {
            #expect {
                try Proxy.parse(text)
            } throws: { error in
                (error as? ProxyError)?.description.contains(reason) == true
            }
        }
    }

    @Test func aBadProxyIsAConfigErrorNamingTheKeyAndNeverThePassword() throws {
        let dir = ConfigTests().configDir(settings: "proxy = \"http://relay:s3cret@squid.example.org/cache\"\n")
        #expect {
            try ConfigLoader.load(directory: dir.path)
        } throws: { error in
            let error = error as? ConfigError
            return error?.key == "proxy" && error?.line == 2 && "\(error!)".contains("has a path") && !"\(error!)".contains("s3cret")
        }
    }

    /// libcurl took a proxy without a port (its default, 1080); it still works, with a warning.
    @Test func aProxyWithoutAPortGetsLibcurlsDefaultAndAWarning() throws {
        let dir = ConfigTests().configDir(settings: "proxy = \"squid.example.org\"\n")
        let config = try ConfigLoader.load(directory: dir.path)
        #expect(config.settings.proxy?.url == "http://squid.example.org:1080")
        #expect(config.warnings.contains { $0.contains("sigctl.toml:2: proxy names no port, so libcurl's default 1080 is used") })
        #expect(try Proxy.parse("https://squid.example.org").port == 443)
    }
}
