import Foundation
import Testing
@testable import SigctlCore

@Suite struct MemoryBudgetResolveTests {
    @Test func theSettingWinsOverWhatTheHostHas() {
        let host = HostMemory(available: 8 << 30, cgroupRoom: nil, clamdRSS: 1 << 30)
        #expect(MemoryBudget.resolve(setting: 512 << 20, host: host) == MemoryBudget(bytes: 512 << 20, source: "memory_budget"))
    }

    @Test func autoTakesTheTighterOfMemAvailableAndTheCgroupLessAReserve() throws {
        let free = try #require(MemoryBudget.resolve(setting: nil, host: HostMemory(available: 4 << 30, cgroupRoom: nil, clamdRSS: nil)))
        #expect(free.bytes == (4 << 30) - (4 << 30) / 20)
        #expect(free.source.contains("available memory"))
        let boxed = try #require(MemoryBudget.resolve(setting: nil, host: HostMemory(available: 4 << 30, cgroupRoom: 1 << 30, clamdRSS: nil)))
        #expect(boxed.bytes == (1 << 30) - (128 << 20), "the reserve is at least 128 MiB")
        #expect(boxed.source.contains("cgroup"))
        #expect(MemoryBudget.resolve(setting: nil, host: HostMemory(available: nil, cgroupRoom: nil, clamdRSS: nil)) == nil)
    }

    @Test func theNeedFollowsClamdsEngineOrTheSignatureCount() {
        #expect(MemoryBudget.need(signatures: 0, clamdRSS: 1000 << 20) == (1100 << 20) + (64 << 20))
        #expect(MemoryBudget.need(signatures: 1_000_000, clamdRSS: nil) == 240_000_000 + 24_000_000 + (64 << 20))
    }

    @Test func thisHostAndThisProcessCanBeRead() {
        let host = HostMemory.read(clamd: nil)
        #expect((host.available ?? 0) > 0)
        #expect(HostMemory.rss(getpid()).map { $0 > 0 } == true)
    }
}
