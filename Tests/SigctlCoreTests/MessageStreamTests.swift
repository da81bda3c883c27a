import Foundation
import Testing
@testable import SigctlCore

/// The corpus is read as a stream: an mbox is split as it is read, across read chunks.
@Suite struct MessageStreamTests {
    func all(_ stream: MessageStream) -> [MessageSource] {
        var messages: [MessageSource] = []
        while let message = stream.next() { messages.append(message) }
        return messages
    }

    @Test func anMboxIsSplitAcrossReadChunksWithoutHoldingTheFile() throws {
        let dir = TempDir()
        let big = String(repeating: "x", count: (1 << 20) + 4096) // longer than one 1 MiB read
        let bodies = ["first\nFrom inside a line is not a boundary\n", big, "third\r\n", "last, no final newline"]
        var mbox = ""
        for (number, body) in bodies.enumerated() {
            mbox += "From sender\(number)@example.invalid Mon Nov 23 10:00:00 2026\nSubject: \(number)\n\n\(body)"
            if number < bodies.count - 1 { mbox += "\n\n" }
        }
        let path = dir.write("box.mbox", mbox)
        let messages = all(MessageStream([path]))
        #expect(messages.map(\.label) == (1...4).map { "\(path)#\($0)" })
        let joined = messages.compactMap(\.data).reduce(Data(), +)
        #expect(joined == Data(mbox.utf8), "every byte lands in exactly one message")
        #expect(String(decoding: messages[1].data ?? Data(), as: UTF8.self).contains(big))
        #expect(String(decoding: messages[0].data ?? Data(), as: UTF8.self).hasSuffix("boundary\n\n\n"))
    }

    @Test func filesDirectoriesAndAFilterKeepInputOrder() throws {
        let dir = TempDir()
        dir.write("mail/b.eml", "Subject: b\n\nb\n")
        dir.write("mail/a.eml", "Subject: a\n\na\n")
        dir.write("mail/.hidden", "skip me")
        let one = dir.write("one.eml", "Subject: one\n\n1\n")
        let missing = dir.path + "/missing.eml"
        let messages = all(MessageStream([one, dir.path + "/mail", missing]))
        #expect(messages.map(\.label) == [one, dir.path + "/mail/a.eml", dir.path + "/mail/b.eml", missing])
        #expect(messages.last?.error == "cannot read the file")
        let stream = MessageStream([one, dir.path + "/mail"])
        stream.only = [dir.path + "/mail/b.eml"]
        #expect(all(stream).map(\.label) == [dir.path + "/mail/b.eml"])
    }
}
