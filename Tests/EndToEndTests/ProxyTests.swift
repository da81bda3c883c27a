import Foundation
import SigctlCore
import Testing

/// Behind a proxy, every transport goes through it: feeds over HTTP (libcurl), over
/// rsync (CONNECT, RSYNC_PROXY) and the official databases (libfreshclam).
@Suite(.serialized) struct ProxyTests {
    /// An rsync feed (rsync mirror first, HTTP fallback) and a plain HTTP feed, with `proxy` set.
    final class Setup {
        let box: Sandbox
        let rsyncd: RsyncDaemon
        let key: TestKey
        let proxy: Tinyproxy
        let overRsync = GeneratedSignatures.ndb("Test.ProxyRsync", count: 2)
        let overHTTP = GeneratedSignatures.ndb("Test.ProxyHTTP", count: 2)

        init(connectPorts: (RsyncDaemon) -> [Int] = { _ in [] }, transport: String? = nil, proxy address: ((Tinyproxy) -> String)? = nil) throws {
            box = try Sandbox()
            try box.clamd.start()
            rsyncd = try RsyncDaemon(root: box.mirror.root, workDir: box.root)
            key = try TestKey(directory: box.root + "/gnupg")
            proxy = try Tinyproxy(workDir: box.root + "/tinyproxy", connectPorts: connectPorts(rsyncd))
            try box.publish(feed: "rs", file: "a.ndb", overRsync.text, key: key)
            try box.publish(feed: "web", file: "w.ndb", overHTTP.text)
            try box.writeFeed("rs", files: ["a.ndb"], integrity: "gpg", mirrors: [rsyncd.url("rs/"), box.mirror.url("rs/")], key: key,
                              extra: transport.map { "transport = \"\($0)\"" } ?? "")
            try box.writeFeed("web", files: ["w.ndb"])
            try box.writeSettings("proxy = \"\(address?(proxy) ?? proxy.url)\"")
        }

        func detects(_ sigs: GeneratedSignatures, _ name: String) throws -> Bool {
            try box.clamd.scan(sigs.samples[name + "-1"]!) == name + "-1.UNOFFICIAL"
        }
    }

    @Test func feedsOverHTTPAndRsyncGoThroughTheProxy() throws {
        let env = try Setup()
        let (result, report) = try env.box.update()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(report?.file("rs", "a.ndb")?.mirror?.hasPrefix("rsync://") == true)
        let requests = env.proxy.requests
        #expect(requests.contains { $0.hasPrefix("CONNECT 127.0.0.1:\(env.rsyncd.port) ") }, "rsync tunnels through the proxy: \(requests)")
        #expect(env.rsyncd.connections == 1)
        #expect(requests.contains { $0.hasPrefix("GET \(env.box.mirror.url("web/w.ndb")) ") }, "\(requests)")
        #expect(!env.box.mirror.requests().isEmpty && requests.filter { $0.hasPrefix("GET ") }.count == env.box.mirror.requests().count,
                "every HTTP request went through the proxy")
        #expect(try env.detects(env.overRsync, "Test.ProxyRsync"))
        #expect(try env.detects(env.overHTTP, "Test.ProxyHTTP"))
    }

    @Test func aProxyThatRefusesCONNECTToTheRsyncPortLeavesTheHTTPMirrorsQuietly() throws {
        // Most sites' proxies let CONNECT reach port 443 only.
        let env = try Setup(connectPorts: { _ in [443] })
        let (result, report) = try env.box.update()
        #expect(result.status == 0, "\(result.stderr)")
        let about = result.stderr.split(separator: "\n").filter { $0.contains("rs/") || $0.contains("rsync") || $0.contains("proxy") }
        #expect(about.isEmpty, "cron hears nothing of it: the HTTP mirror delivered \(result.stderr)")
        #expect(env.proxy.log.contains("Refused CONNECT method on port \(env.rsyncd.port)"), "\(env.proxy.log)")
        #expect(env.rsyncd.connections == 0, "rsync never went around the proxy")
        #expect(report?.file("rs", "a.ndb")?.mirror == env.box.mirror.url("rs/"))
        #expect(env.proxy.requests.contains { $0.hasPrefix("GET \(env.box.mirror.url("rs/a.ndb")) ") })
        #expect(try env.detects(env.overRsync, "Test.ProxyRsync"))

        // -v says why rsync was left: the proxy's answer, and which proxy.
        let verbose = try env.box.sigctl(["update", "-v", "--force", "--feed", "rs"])
        #expect(verbose.stderr.contains("bad response from proxy -- HTTP/1.0 403 Access violation (through the proxy \(env.proxy.url))"),
                "\(verbose.stderr)")
    }

    @Test func rsyncAloneBehindASOCKSProxyIsAClearFailureAndTheLiveSetStays() throws {
        let env = try Setup(transport: "rsync")
        #expect(try env.box.update().0.status == 0)
        // The site moves to a SOCKS proxy, which rsync cannot use; a new version upstream.
        try env.box.writeSettings("proxy = \"socks5://127.0.0.1:\(env.proxy.port)\"")
        try env.box.publish(feed: "rs", file: "a.ndb", GeneratedSignatures.ndb("Test.ProxyRsync2", count: 2).text, key: env.key)
        let before = try env.box.liveSnapshot(), connections = env.rsyncd.connections
        let (result, _) = try env.box.update(["--feed", "rs"])
        #expect(result.status != 0)
        let lines = result.stderr.split(separator: "\n").filter { $0.contains("rs") }
        #expect(lines.count == 1 && lines[0].contains("rsync can only go through an HTTP proxy, and proxy is socks5://127.0.0.1:\(env.proxy.port)"),
                "\(result.stderr)")
        #expect(env.rsyncd.connections == connections, "rsync never went around the proxy")
        #expect(try env.box.liveSnapshot() == before)
        try env.box.liveSetLoads()
        #expect(try env.detects(env.overRsync, "Test.ProxyRsync"), "clamd keeps scanning with the installed version")
    }

    @Test func aProxyThatIsDownIsNamedInTheError() throws {
        let env = try Setup()
        env.proxy.stop()
        let (result, _) = try env.box.update(["--feed", "web"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("through the proxy http://127.0.0.1:\(env.proxy.port)"), "\(result.stderr)")
        #expect(env.box.mirror.requests().isEmpty)
    }

    @Test(.enabled(if: Paths.haveFixtures, "../shared/fixtures is absent: the official databases are not tested through the proxy"))
    func theOfficialDatabasesComeThroughTheProxy() throws {
        let box = try Sandbox()
        let proxy = try Tinyproxy(workDir: box.root + "/tinyproxy")
        try box.mirror.put("clamav/test.cvd", try Data(contentsOf: URL(fileURLWithPath: OfficialTests.cvds + "/test-6.cvd")))
        try box.writeOfficialTestFeed()
        try box.writeSettings("clamd = \"none\"\nproxy = \"\(proxy.url)/\"")
        let (result, _) = try box.update()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(FileManager.default.fileExists(atPath: box.dbDir + "/test.cvd"))
        // libfreshclam tunnels every request through the proxy (CURLOPT_HTTPPROXYTUNNEL).
        let requests = proxy.requests
        #expect(requests.contains { $0.hasPrefix("CONNECT 127.0.0.1:\(box.mirror.port) ") }, "libfreshclam used the proxy: \(requests)")

        // The proxy down: the official feed fails, and nothing goes around the proxy.
        proxy.stop()
        try box.mirror.put("clamav/test.cvd", try Data(contentsOf: URL(fileURLWithPath: OfficialTests.cvds + "/test-5.cvd")))
        let requestsBefore = box.mirror.requests().count
        let (down, _) = try box.update()
        #expect(down.status != 0)
        #expect(box.mirror.requests().count == requestsBefore, "nothing went around the proxy")
    }
}
