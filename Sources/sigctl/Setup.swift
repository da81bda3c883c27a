import ArgumentParser
import Foundation
import SigctlCore

extension OfficialOwner: ExpressibleByArgument {}
extension Schedule: ExpressibleByArgument {}

struct Setup: Subcommand {
    static let configuration = CommandConfiguration(
        abstract: "First run: choose who updates the official databases (sigctl or freshclam), then schedule updates.",
        discussion: """
        Detects freshclam and clamav-unofficial-sigs. Asks on a terminal; otherwise takes --official and --schedule \
        (without --official it chooses sigctl only where freshclam is not installed). Writes the choice into the official \
        feed's file, stops freshclam when sigctl takes over, and only then installs the cron file or enables the timer. \
        Running it again with another choice switches.
        """
    )

    @OptionGroup var options: GlobalOptions
    @ParentCommand var parent: Sigctl

    @Option(help: ArgumentHelp("Who updates main, daily and bytecode.", valueName: "sigctl|freshclam"))
    var official: OfficialOwner?

    @Option(help: ArgumentHelp("How updates start: /etc/cron.d/sigctl, sigctl-update.timer, or neither (default: the timer where systemd runs, else cron).", valueName: "cron|timer|none"))
    var schedule: Schedule?

    @Option(help: ArgumentHelp("The user cron runs sigctl as (default: the owner of the state directory, clamav after the package's install).", valueName: "name"))
    var user: String?

    @Option(help: ArgumentHelp("Work on the system image at DIR: its /etc and unit links; nothing is started or stopped.", valueName: "dir"))
    var root: String?

    @Flag(help: "Print the cron file setup would install, and change nothing.")
    var printCron = false

    @OptionGroup var output: OutputOptions

    func run() throws {
        let log = global.log
        try execute(log, json: output.json) {
            let config = try global.load(log)
            if printCron {
                return print(FirstRun.cronText(context: global.context(log), config: config, user: user), terminator: "")
            }
            let systemRoot = SystemRoot(root)
            let facts = SystemFacts.probe(config: config, root: systemRoot)
            let interactive = Terminal.stdinIsTTY && !output.json
            if interactive { describe(facts) }
            let owner = try official ?? choose(facts, interactive: interactive)
            let when = try schedule ?? (interactive ? ask(schedule: facts) : Schedule.suggested(facts))
            let result = try FirstRun.run(context: global.context(log), config: config, root: systemRoot, facts: facts,
                                          official: owner, schedule: when, user: user)
            result.warnings.forEach(log.warning)
            if output.json { return try printJSON(result) }
            print("official databases: updated by \(owner.rawValue)")
            print("schedule: \(when.rawValue)")
            result.changes.forEach { print("changed: \($0)") }
            if result.changes.isEmpty { print("nothing to change: the system already matched this choice") }
            if when != .none {
                print("next: run 'sigctl update -v --no-sleep' once now (as the user the schedule uses), then 'sigctl status'")
            }
        }
    }

    /// What setup found, before it asks.
    func describe(_ facts: SystemFacts) {
        print("freshclam: \(facts.freshclamConflict ?? (facts.freshclamInstalled ? "installed, not updating sigctl's database directory" : "not installed"))")
        if let other = facts.unofficialSigs {
            print("clamav-unofficial-sigs: installed\(other.schedule.map { ", scheduled by \($0)" } ?? ", not scheduled")")
        }
        print("schedule now: \(facts.timerEnabled ? "sigctl-update.timer" : facts.cronFilePresent ? "/etc/cron.d/sigctl" : "none")")
    }

    func choose(_ facts: SystemFacts, interactive: Bool) throws -> OfficialOwner {
        if interactive {
            let answer = prompt("Who should update the official databases (main, daily, bytecode)? [sigctl/freshclam]",
                                default: facts.freshclamConflict == nil ? "sigctl" : nil, choices: OfficialOwner.allCases.map(\.rawValue))
            return OfficialOwner(rawValue: answer)!
        }
        guard !facts.freshclamInstalled else {
            throw CommandError("freshclam is installed, so setup needs to be told who updates the official databases",
                               hint: "run sigctl setup --official sigctl (stops freshclam) or --official freshclam (sigctl leaves main, daily and bytecode to it)",
                               exit: .usage)
        }
        return .sigctl
    }

    func ask(schedule facts: SystemFacts) throws -> Schedule {
        let suggested = Schedule.suggested(facts)
        let answer = prompt("How should updates start? [cron/timer/none]", default: suggested.rawValue,
                            choices: Schedule.allCases.map(\.rawValue))
        return Schedule(rawValue: answer)!
    }

    /// Asks until the answer is one of `choices` (a unique prefix will do).
    func prompt(_ question: String, default fallback: String?, choices: [String]) -> String {
        while true {
            print(question + (fallback.map { " (default \($0)) " } ?? " "), terminator: "")
            fflush(nil)
            guard let line = readLine() else { return fallback ?? choices[0] }
            let answer = line.trimmingCharacters(in: .whitespaces).lowercased()
            if answer.isEmpty, let fallback { return fallback }
            let matches = choices.filter { !answer.isEmpty && $0.hasPrefix(answer) }
            if matches.count == 1 { return matches[0] }
        }
    }
}
