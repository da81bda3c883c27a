import Foundation
import SigctlCore
import Testing

/// `memory_budget`: when a whole-set check cannot fit, sigctl says so once and checks the
/// changed files plus the canary, and a limit the child runs into is a clean fallback,
/// never an out-of-memory kill that lets the kernel choose.
@Suite(.serialized) struct MemoryBudgetTests {
    @Test func aBudgetBelowClamdsEngineChecksTheChangedFilesAndSaysSoOnce() throws {
        let box = try Sandbox()
        try box.clamd.start()
        try box.writeSettings("memory_budget = \"16M\"")
        let first = GeneratedSignatures.ndb("Test.Budget", count: 2)
        try box.publish(feed: "f", file: "sigs.ndb", first.text)
        try box.writeFeed("f", files: ["sigs.ndb"], interval: "0s")
        let (installed, report) = try box.update()
        #expect(installed.status == 0, "\(installed.stderr)")
        #expect(report?.installed == true)
        #expect(report?.memoryFallback?.contains("more than the memory budget of 16 MiB (memory_budget)") == true, "\(String(describing: report?.memoryFallback))")
        #expect(installed.stderr.contains("verified the changed files plus the canary instead of the whole set"))
        #expect(try box.clamd.scan(first.samples["Test.Budget-2"]!) == "Test.Budget-2.UNOFFICIAL")
        // The estimate comes from clamd itself: its pid from the socket's peer, its RSS from /proc.
        let clamdRSS = try #require(HostMemory.read(clamd: .unix(box.clamd.socket)).clamdRSS)
        #expect(clamdRSS > 10 << 20)

        // The next change is checked the same way, and cron is not told again.
        let more = GeneratedSignatures.ndb("Test.More", count: 1)
        try box.publish(feed: "f", file: "sigs.ndb", first.text + more.text)
        let (again, againReport) = try box.update()
        #expect(again.status == 0, "\(again.stderr)")
        #expect(againReport?.memoryFallback != nil)
        #expect(!again.stderr.contains("memory budget"), "said once: \(again.stderr)")
        #expect(try box.sigctl(["status"]).stderr.contains("updates check only the changed files plus the canary"), "status keeps saying it")
        #expect(try box.clamd.scan(more.samples["Test.More-1"]!) == "Test.More-1.UNOFFICIAL")

        // A broken download is still caught: the changed file does not load, nothing goes live.
        try box.publish(feed: "f", file: "sigs.ndb", first.text + "Broken.Sig:0:*:zz-not-hex\n")
        let (broken, brokenReport) = try box.update()
        #expect(broken.status != 0)
        #expect(brokenReport?.file("f", "sigs.ndb")?.status == .rejected)
        #expect(try box.clamd.scan(more.samples["Test.More-1"]!) == "Test.More-1.UNOFFICIAL", "clamd keeps scanning with the live set")
        try box.liveSetLoads()

        // With the budget gone, the whole set is checked again.
        try box.writeSettings()
        try box.publish(feed: "f", file: "sigs.ndb", first.text)
        let (whole, wholeReport) = try box.update()
        #expect(whole.status == 0, "\(whole.stderr)")
        #expect(wholeReport?.memoryFallback == nil)
        #expect(try box.state().memoryFallbackSince == nil)
    }

    @Test func aChildThatRunsIntoTheBudgetFallsBackInsteadOfFailing() throws {
        // No clamd to measure, so the estimate (240 bytes a signature) lets the whole-set
        // check start; the child's address-space limit (RLIMIT_AS = the budget) stops it.
        let box = try Sandbox()
        try box.writeSettings("clamd = \"none\"")
        let big = (0..<200_000).map { String(format: "%032x:%d:Test.Big-%d\n", $0 &* 2_654_435_761, 100 + $0 % 900, $0) }.joined()
        try box.publish(feed: "big", file: "big.hdb", big)
        try box.writeFeed("big", files: ["big.hdb"])
        let small = GeneratedSignatures.ndb("Test.Small", count: 1)
        try box.publish(feed: "small", file: "small.ndb", small.text)
        try box.writeFeed("small", files: ["small.ndb"], interval: "0s")
        #expect(try box.update().0.status == 0)

        try box.writeSettings("clamd = \"none\"\nmemory_budget = \"\(MemoryBudgetTests.tightBudgetMiB)M\"")
        try box.publish(feed: "small", file: "small.ndb", small.text + GeneratedSignatures.ndb("Test.Small2", count: 1).text)
        let (result, report) = try box.update(["--feed", "small"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(report?.installed == true)
        #expect(report?.memoryFallback?.contains("ran out of the memory budget of \(MemoryBudgetTests.tightBudgetMiB) MiB") == true,
                "\(String(describing: report?.memoryFallback))")
        try box.liveSetLoads()
    }

    /// Above what a whole-set estimate of the 200,000 hash signatures asks for (about 110 MiB),
    /// below what the verification child maps to load them.
    static let tightBudgetMiB = 160
}
