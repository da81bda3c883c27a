import Foundation
import SigctlCore
import Testing

/// `sigctl test`: per-part reports, feed attribution, input formats, exit codes, parity with clamscan.
@Suite(.serialized) struct TestCommandTests {
    struct Line: Decodable {
        var path: String?
        var index: Int?
        var verdict: Verdict?
        var matches: [MatchReport]?
        var error: String?
        var summary: TestSummary?
        var label: String { index.map { "\(path ?? "")#\($0)" } ?? (path ?? "") }
    }

    /// Mail made by Tests/Support/make_mail.py, and a database matching its markers.
    func makeMail(_ root: String) throws -> (mail: String, db: String) {
        let mail = root + "/mail", db = root + "/testdb"
        let made = try runProgram("/usr/bin/python3", [Paths.packageRoot + "/Tests/Support/make_mail.py", mail])
        guard made.status == 0 else { throw HarnessError("make_mail.py failed: \(made.stderr)") }
        try FileManager.default.createDirectory(atPath: db, withIntermediateDirectories: true)
        try """
        Test.Alpha:0:*:\(hex("MARKER-ALPHA-1234567"))
        Test.Bravo:0:*:\(hex("MARKER-BRAVO-7654321"))
        Test.MailTarget:4:*:\(hex("html body"))

        """.trimmingCharacters(in: .newlines).appending("\n").write(toFile: db + "/markers.ndb", atomically: true, encoding: .utf8)
        return (mail, db)
    }

    func lines(_ result: RunResult) throws -> [Line] {
        try result.stdout.split(separator: "\n").map { try JSONDecoder.output.decode(Line.self, from: Data($0.utf8)) }
    }

    @Test func partsFormatsAndOrder() throws {
        let box = try Sandbox()
        let (mail, db) = try makeMail(box.root)
        let result = try box.sigctl(["test", "--db", db, "--json", mail])
        #expect(result.status == 1, "detections exit 1: \(result.stderr)")
        let all = try lines(result)
        let messages = all.filter { $0.summary == nil }
        #expect(messages.map(\.label) == [
            mail + "/Maildir/cur/1.host:2,S", mail + "/Maildir/new/2.host",
            mail + "/box.mbox#1", mail + "/box.mbox#2", mail + "/box.mbox#3",
            mail + "/dkim.eml", mail + "/ham.eml", mail + "/nested.eml", mail + "/rfc822.eml",
        ], "input order, mbox split, Maildir tmp/ skipped")
        let byLabel = Dictionary(uniqueKeysWithValues: messages.map { ($0.label, $0) })
        let nested = try #require(byLabel[mail + "/nested.eml"]?.matches)
        #expect(nested.contains(MatchReport(signature: "Test.Alpha.UNOFFICIAL", feed: nil, file: "markers.ndb",
                                            part: "1/3", type: "CL_TYPE_TEXT_ASCII", filename: "payload.bin")))
        #expect(nested.contains { $0.signature == "Test.MailTarget.UNOFFICIAL" && $0.part == "1" && $0.type == "CL_TYPE_MAIL" })
        let rfc822 = try #require(byLabel[mail + "/rfc822.eml"]?.matches)
        #expect(rfc822 == [MatchReport(signature: "Test.Bravo.UNOFFICIAL", feed: nil, file: "markers.ndb",
                                       part: "1/2/2/1", type: "CL_TYPE_TEXT_ASCII", filename: "inner.txt")],
                "message/rfc822 → zip → inner.txt")
        #expect(byLabel[mail + "/box.mbox#2"]?.matches?.first?.part == "1/2/2/1")
        #expect(byLabel[mail + "/ham.eml"]?.verdict == .clean)
        #expect(byLabel[mail + "/box.mbox#3"]?.verdict == .clean)
        // Absent values are explicit nulls, as documented.
        let firstLine = try #require(result.stdout.split(separator: "\n").first)
        #expect(firstLine.contains("\"index\":null") && firstLine.contains("\"error\":null"), "\(firstLine)")
        let mboxLine = try #require(result.stdout.split(separator: "\n").first { $0.contains("box.mbox") })
        #expect(mboxLine.contains("\"index\":1") && mboxLine.contains("\"filename\":"))
        let summary = try #require(all.last?.summary)
        #expect(summary.messages == 9)
        #expect(summary.detected == 6)
        #expect(summary.clean == 3)

        // The same result whatever the number of threads.
        let one = try box.sigctl(["test", "--db", db, "--json", "--jobs", "1", mail])
        let two = try box.sigctl(["test", "--db", db, "--json", "--jobs", "2", mail])
        #expect(try lines(one).filter { $0.summary == nil }.map(\.label) == messages.map(\.label))
        #expect(try lines(one).compactMap(\.matches) == (try lines(two).compactMap(\.matches)))
    }

    @Test func resultsStreamOutWhileTheInputIsStillBeingWritten() throws {
        // An mbox on stdin: the second message is written only after the first one's
        // result has come out, so the test finishes only if sigctl scans as it reads.
        let box = try Sandbox()
        let (_, db) = try makeMail(box.root)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Paths.sigctl)
        process.arguments = ["test", "--db", db, "--json", "-"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // A guard against a hang, not a synchronisation: it only fires if streaming is broken.
        let guardTimer = DispatchWorkItem { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 120, execute: guardTimer)
        defer { guardTimer.cancel() }
        func message(_ marker: String) -> Data {
            Data("From a@example.invalid Mon Nov 23 10:00:00 2026\nSubject: s\n\nbody \(marker)\n\n".utf8)
        }
        var received = Data()
        func nextLine() -> String? {
            while !received.contains(0x0a) {
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { return nil }
                received += chunk
            }
            let end = received.firstIndex(of: 0x0a)!
            defer { received = Data(received[(end + 1)...]) }
            return String(decoding: received[..<end], as: UTF8.self)
        }
        input.fileHandleForWriting.write(message("MARKER-ALPHA-1234567"))
        // The mbox reader needs the next "From " line to know the first message ended.
        input.fileHandleForWriting.write(Data("From b@example.invalid Mon Nov 23 10:00:01 2026\n".utf8))
        let first = try #require(nextLine(), "a result before the input ends")
        #expect(first.contains("\"path\":\"-\"") && first.contains("\"index\":1") && first.contains("Test.Alpha"))
        input.fileHandleForWriting.write(Data("Subject: s\n\nbody MARKER-BRAVO-7654321\n".utf8))
        try input.fileHandleForWriting.close()
        let second = try #require(nextLine())
        #expect(second.contains("\"index\":2") && second.contains("Test.Bravo"))
        let summary = try #require(nextLine())
        #expect(summary.contains("\"messages\":2"))
        process.waitUntilExit()
        #expect(process.terminationStatus == 1, "detections exit 1")
    }

    @Test func milterPresentationVersusRaw() throws {
        let box = try Sandbox()
        let (mail, db) = try makeMail(box.root)
        // A DKIM-Signature first line makes libclamav see MHTML; the milter's From line makes it mail again.
        let milter = try lines(try box.sigctl(["test", "--db", db, "--json", mail + "/dkim.eml"]))
        #expect(milter.first?.matches?.contains { $0.signature == "Test.MailTarget.UNOFFICIAL" } == true)
        let raw = try lines(try box.sigctl(["test", "--db", db, "--json", "--raw", mail + "/dkim.eml"]))
        #expect(raw.first?.matches?.contains { $0.signature == "Test.MailTarget.UNOFFICIAL" } == false)
        // --first stops at one signature per message.
        let first = try lines(try box.sigctl(["test", "--db", db, "--json", "--first", mail + "/nested.eml"]))
        #expect(first.first?.matches?.count == 1)
    }

    @Test func expectationsErrorsAndStdin() throws {
        let box = try Sandbox()
        let (mail, db) = try makeMail(box.root)
        let hamOK = try box.sigctl(["test", "--db", db, "--expect", "clean", mail + "/ham.eml"])
        #expect(hamOK.status == 0)
        let hamCaught = try box.sigctl(["test", "--db", db, "--expect", "clean", mail + "/ham.eml", mail + "/nested.eml"])
        #expect(hamCaught.status == 1)
        #expect(hamCaught.stdout.contains("expected clean, but 1 message(s) were not:\n  \(mail)/nested.eml"))
        let missed = try box.sigctl(["test", "--db", db, "--expect", "detected", mail + "/ham.eml", mail + "/nested.eml"])
        #expect(missed.status == 1)
        #expect(missed.stdout.contains("  \(mail)/ham.eml"))
        let unreadable = try box.sigctl(["test", "--db", db, "--json", mail + "/ham.eml", box.root + "/no-such.eml"])
        #expect(unreadable.status == 2)
        #expect(try lines(unreadable).contains { $0.verdict == .error && $0.error != nil })
        // stdin
        let stdin = try runProgram("/bin/sh", ["-c", "'\(Paths.sigctl)' test --db '\(db)' - < '\(mail)/rfc822.eml'"])
        #expect(stdin.status == 1)
        #expect(stdin.stdout.contains("-: Test.Bravo.UNOFFICIAL FOUND in part 1/2/2/1"))
        // --db works with no sigctl configuration at all.
        let bare = try runProgram(Paths.sigctl, ["test", "--config", box.root + "/nowhere", "--db", db, mail + "/ham.eml"])
        #expect(bare.status == 0, "\(bare.stderr)")
    }

    @Test func matchesAreAttributedToTheFeedThatShippedThem() throws {
        let box = try Sandbox()
        try box.writeSettings("clamd = \"none\"")
        let v1 = GeneratedSignatures.ndb("Test.Feed", count: 1)
        try box.publish(feed: "phishfeed", file: "phish.ndb", v1.text)
        try box.writeFeed("phishfeed", files: ["phish.ndb"])
        #expect(try box.update().0.status == 0)
        let v2 = GeneratedSignatures.ndb("Test.Later", count: 1)
        try box.publish(feed: "phishfeed", file: "phish.ndb", v1.text + v2.text)
        #expect(try box.update().0.status == 0)
        let sample = box.root + "/sample.eml"
        try (String(decoding: v1.samples["Test.Feed-1"]!, as: UTF8.self) + String(decoding: v2.samples["Test.Later-1"]!, as: UTF8.self))
            .write(toFile: sample, atomically: true, encoding: .utf8)

        let live = try lines(try box.sigctl(["test", "--json", sample]))
        let matches = try #require(live.first?.matches)
        #expect(Set(matches.map(\.signature)) == ["Test.Feed-1.UNOFFICIAL", "Test.Later-1.UNOFFICIAL"])
        #expect(matches.allSatisfy { $0.feed == "phishfeed" && $0.file == "phish.ndb" })
        #expect(live.last?.summary?.hitsPerFeed["phishfeed"] == 2)
        let text = try box.sigctl(["test", sample])
        #expect(text.stdout.contains("feed phishfeed, file phish.ndb"))
        // An earlier installed set knows only the first signature.
        let older = try lines(try box.sigctl(["test", "--json", "--generation", "1", sample]))
        #expect(older.first?.matches?.map(\.signature) == ["Test.Feed-1.UNOFFICIAL"])
    }

    @Test func throughClamdTheLiveSetIsNotLoadedUntilSomethingIsDetected() throws {
        let box = try Sandbox()
        try box.clamd.start()
        let sigs = GeneratedSignatures.ndb("Test.Clamd", count: 1)
        try box.publish(feed: "viaclamd", file: "c.ndb", sigs.text)
        try box.writeFeed("viaclamd", files: ["c.ndb"])
        #expect(try box.update().0.status == 0)
        let corpus = box.root + "/corpus"
        try FileManager.default.createDirectory(atPath: corpus, withIntermediateDirectories: true)
        try "From: a@example.invalid\nSubject: hello\n\nnothing to see\n".write(toFile: corpus + "/a-ham.eml", atomically: true, encoding: .utf8)

        // Clean mail: clamd answers, nothing is loaded here.
        let clean = try lines(try box.sigctl(["test", "--clamd", "--json", corpus]))
        #expect(clean.first?.verdict == .clean)
        #expect(clean.last?.summary?.signatures == 0, "no local engine for clean mail")

        // A detection gets its per-part report and its feed from a local engine of the same set.
        try sigs.samples["Test.Clamd-1"]!.write(to: URL(fileURLWithPath: corpus + "/b-caught.eml"))
        let result = try box.sigctl(["test", "--clamd", "--json", corpus])
        #expect(result.status == 1, "\(result.stderr)")
        let all = try lines(result)
        #expect(all.filter { $0.summary == nil }.map(\.label) == [corpus + "/a-ham.eml", corpus + "/b-caught.eml"], "input order")
        let caught = try #require(all.first { $0.label.hasSuffix("b-caught.eml") }?.matches)
        #expect(caught.contains { $0.signature == "Test.Clamd-1.UNOFFICIAL" && $0.feed == "viaclamd" && $0.file == "c.ndb" && $0.part != "" })
        #expect((all.last?.summary?.signatures ?? 0) > 0)

        #expect(try box.sigctl(["test", "--clamd", "--db", box.dbDir, corpus]).status == 64)
        box.clamd.stop()
        let down = try box.sigctl(["test", "--clamd", corpus])
        #expect(down.status == 2, "an error, as for unreadable mail")
        #expect(down.stderr.contains("does not answer"), "\(down.stderr)")
    }

    @Test(.enabled(if: Paths.haveFixtures, "../shared/fixtures is absent: clamscan parity skipped"))
    func rawModeFindsTheSamePairsAsClamscan() throws {
        let box = try Sandbox()
        let db = box.root + "/paritydb"
        try FileManager.default.createDirectory(atPath: db, withIntermediateDirectories: true)
        let thirdparty = Paths.fixtures + "/thirdparty"
        for provider in try FileManager.default.contentsOfDirectory(atPath: thirdparty) where Files.isDirectory(thirdparty + "/" + provider) {
            for name in try FileManager.default.contentsOfDirectory(atPath: thirdparty + "/" + provider)
            where isDatabaseFile(name) && name != "urlhaus-2024-07-27.ndb" {
                try FileManager.default.copyItem(atPath: "\(thirdparty)/\(provider)/\(name)", toPath: "\(db)/\(name)")
            }
        }
        try FileManager.default.copyItem(atPath: Paths.fixtures + "/mail/clamav-testfiles/clamav.hdb", toPath: db + "/clamav.hdb")
        let mail = Paths.fixtures + "/mail"
        let ours = try box.sigctl(["test", "--db", db, "--raw", "--json", mail])
        #expect(ours.status == 1)
        var pairs: Set<String> = []
        for line in try lines(ours) where line.summary == nil {
            for match in line.matches ?? [] { pairs.insert("\(line.path ?? "")\t\(match.signature)") }
        }
        let clamscan = try runProgram("/usr/bin/clamscan", ["--no-summary", "-d", db, "-r", "--allmatch", mail])
        var theirs: Set<String> = []
        for line in clamscan.stdout.split(separator: "\n") where line.hasSuffix(" FOUND") {
            let text = String(line.dropLast(" FOUND".count))
            guard let colon = text.range(of: ": ", options: .backwards) else { continue }
            theirs.insert("\(text[..<colon.lowerBound])\t\(text[colon.upperBound...])")
        }
        #expect(!theirs.isEmpty)
        #expect(pairs == theirs, "only sigctl: \(pairs.subtracting(theirs)); only clamscan: \(theirs.subtracting(pairs))")
    }
}
