import Testing
@testable import SigctlCore

@Suite struct DurationParserTests {
    @Test func parsesUnits() {
        #expect(DurationParser.seconds("90s") == 90)
        #expect(DurationParser.seconds("1h30m") == 5400)
        #expect(DurationParser.seconds("2d") == 172_800)
        #expect(DurationParser.seconds("45") == 45)
        #expect(DurationParser.seconds("1x") == nil)
        #expect(DurationParser.seconds("h") == nil)
        #expect(DurationParser.seconds("") == nil)
    }

    @Test func parsesRanges() {
        #expect(DurationParser.range("30s-600s") == 30...600)
        #expect(DurationParser.range("0") == 0...0)
        #expect(DurationParser.range("10m-1m") == nil)
    }

    @Test func parsesSizes() {
        #expect(DurationParser.bytes("512M") == 512 << 20)
        #expect(DurationParser.bytes("2g") == 2 << 30)
        #expect(DurationParser.bytes("-1") == nil)
    }
}
