import Foundation
import Testing
@testable import SigctlCore

@Suite struct ReloadProverTests {
    let canary = Canary(name: "Sigctl.Canary.G1.ab", payload: Data("payload".utf8))

    @Test func clamdThatAcceptsAndNeverAnswersIsBoundedByTheTimeout() throws {
        let clock = ManualClock()
        let clamd = ScriptedClamd(clock: clock)
        clamd.reloads = [.success("RELOADING"), .success("RELOADING")]
        clamd.scans = [.hang(seconds: 3600)]
        let start = clock.now()
        let outcome = try ReloadProver(clamd: clamd, clock: clock, timeout: 30).reloadAndProve(canary)
        guard case .unreachable(let why) = outcome else { Issue.record("\(outcome)"); return }
        #expect(why.contains("did not answer"))
        #expect(clock.now().timeIntervalSince(start) <= 30.5, "reload_timeout bounds the whole proof")
    }

    @Test func theCanaryIsConfirmedOnceClamdShowsIt() throws {
        let clock = ManualClock()
        let clamd = ScriptedClamd(clock: clock)
        clamd.reloads = [.success("RELOADING")]
        clamd.scans = [.verdict(nil), .verdict("Old.Canary.UNOFFICIAL"), .verdict(canary.name + ".UNOFFICIAL")]
        let outcome = try ReloadProver(clamd: clamd, clock: clock, timeout: 30).reloadAndProve(canary)
        guard case .confirmed = outcome else { Issue.record("\(outcome)"); return }
        #expect(clamd.scanCalls == 3)
        #expect(clamd.reloadCalls == 1)
    }

    @Test func clamdThatAnswersButNeverShowsTheCanaryDidNotLoadTheSet() throws {
        let clock = ManualClock()
        let clamd = ScriptedClamd(clock: clock)
        clamd.reloads = [.success("RELOADING"), .success("RELOADING")]
        clamd.scans = [.verdict(nil)]
        let outcome = try ReloadProver(clamd: clamd, clock: clock, timeout: 9).reloadAndProve(canary)
        #expect(outcome == .notConfirmed(lastVerdict: "clamd reported the canary clean"))
        #expect(clamd.reloadCalls == 2, "one RELOAD resend once clamd cannot still be loading")
    }

    /// At production size a load takes tens of seconds: no second RELOAD while clamd may
    /// still be loading the first, and a deadline that grows with the set.
    @Test func aSecondReloadWaitsForTwiceTheLoadTimeAndTheDeadlineScales() throws {
        let clock = ManualClock()
        let clamd = ScriptedClamd(clock: clock)
        clamd.reloads = [.success("RELOADING"), .success("RELOADING")]
        clamd.scans = [.verdict("Old.Canary.UNOFFICIAL")]
        let prover = ReloadProver(clamd: clamd, clock: clock, timeout: 60, expectedLoad: 40)
        #expect(prover.deadline == 160)
        let start = clock.now()
        var resentAt: Double?
        clamd.onReload = { if clamd.reloadCalls == 2 { resentAt = clock.now().timeIntervalSince(start) } }
        let outcome = try prover.reloadAndProve(canary)
        #expect(outcome == .notConfirmed(lastVerdict: "clamd reported Old.Canary.UNOFFICIAL"))
        #expect(clamd.reloadCalls == 2)
        #expect((resentAt ?? 0) >= 80, "never before twice the load time")
        #expect(clock.now().timeIntervalSince(start) >= 160)
    }

    @Test func aClamdThatDoesNotAnswerScansGetsNoSecondReload() throws {
        let clock = ManualClock()
        let clamd = ScriptedClamd(clock: clock)
        clamd.reloads = [.success("RELOADING")]
        clamd.scans = [.error(ClamdError(kind: .unreachable, message: "cannot connect to clamd: Connection refused"))]
        let outcome = try ReloadProver(clamd: clamd, clock: clock, timeout: 30, expectedLoad: 5).reloadAndProve(canary)
        #expect(outcome == .unreachable("cannot connect to clamd: Connection refused"))
        #expect(clamd.reloadCalls == 1, "only a clamd that shows an older set is asked again")
    }

    @Test func noSocketIsUnreachableAtOnce() throws {
        let clock = ManualClock()
        let clamd = ScriptedClamd(clock: clock)
        clamd.reloads = [.failure(ClamdError(kind: .unreachable, message: "cannot connect to clamd: Connection refused"))]
        let outcome = try ReloadProver(clamd: clamd, clock: clock, timeout: 30).reloadAndProve(canary)
        #expect(outcome == .unreachable("cannot connect to clamd: Connection refused"))
        #expect(clamd.scanCalls == 0)
    }
}
