import Foundation
import SigctlCore
import Testing

/// Every command's `--json` follows one schema (sigctl(1), JSON OUTPUT): `"schema": 1`
/// first, snake_case keys, null for an absent value, ISO 8601 times with the zone, plain
/// decimals. The shape of each document (keys and value types) is kept in Golden/;
/// run with SIGCTL_UPDATE_GOLDEN=1 to rewrite them after an intended change.
@Suite struct JSONSchemaTests {
    static let golden = Paths.packageRoot + "/Tests/EndToEndTests/Golden"
    /// Objects whose keys are data (feed, file, signature or phase names), not property names.
    static let dataKeyed: Set<String> = ["allowed", "phases", "error_totals", "hits_per_feed", "detect_corpus", "per_feed"]

    /// The document with every leaf replaced by its type and arrays by their first element.
    static func shape(_ value: Any, parent: String = "", path: String = "$", problems: inout [String]) -> Any {
        switch value {
        case let object as [String: Any]:
            var out: [String: Any] = [:]
            for (key, member) in object {
                if !dataKeyed.contains(parent), key.range(of: "^[a-z][a-z0-9_]*$", options: .regularExpression) == nil {
                    problems.append("\(path).\(key) is not snake_case")
                }
                if key == "repeated" { problems.append("\(path).repeated is internal") }
                out[key] = shape(member, parent: key, path: path + "." + key, problems: &problems)
            }
            return out
        case let array as [Any]:
            return array.first.map { [shape($0, parent: parent, path: path + "[0]", problems: &problems)] } ?? []
        case let string as String:
            if string.range(of: "^[0-9]{4}-[0-9]{2}-[0-9]{2}T", options: .regularExpression) != nil {
                if string.range(of: "T[0-9:]+(Z|[+-][0-9]{2}:[0-9]{2})$", options: .regularExpression) == nil {
                    problems.append("\(path) is a time without a zone: \(string)")
                }
                return "time"
            }
            return "string"
        case let number as NSNumber:
            return String(cString: number.objCType) == "c" ? "bool" : "number"
        case is NSNull:
            return "null"
        default:
            return "?"
        }
    }

    /// Checks one document against its golden shape and the schema's rules.
    func check(_ name: String, _ text: String) throws {
        #expect(!text.contains("e-0") && !text.contains("e+"), "\(name): a number in exponent form")
        let document = try JSONSerialization.jsonObject(with: Data(text.utf8))
        let object = try #require(document as? [String: Any], "\(name) is an object")
        #expect(object["schema"] as? Int == 1, "\(name) has schema 1")
        #expect(text.hasPrefix("{\n  \"schema\": 1") || text.hasPrefix("{\"schema\":1"), "\(name): schema comes first")
        var problems: [String] = []
        let shape = Self.shape(document, problems: &problems)
        #expect(problems.isEmpty, "\(name): \(problems)")
        let rendered = String(decoding: try JSONSerialization.data(withJSONObject: shape, options: [.prettyPrinted, .sortedKeys]), as: UTF8.self) + "\n"
        let path = Self.golden + "/\(name).json"
        if ProcessInfo.processInfo.environment["SIGCTL_UPDATE_GOLDEN"] == "1" {
            try rendered.write(toFile: path, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOfFile: path, encoding: .utf8)
        #expect(rendered == expected, "\(name): the shape changed; if intended, run with SIGCTL_UPDATE_GOLDEN=1 and say so in CHANGELOG.md\n\(rendered)")
    }

    @Test func everyCommandSpeaksTheSameSchema() throws {
        let box = try Sandbox()
        try box.clamd.start()
        let sigs = GeneratedSignatures.ndb("Test.Schema", count: 2)
        try box.publish(feed: "f", file: "a.ndb", sigs.text)
        try box.writeFeed("f", files: ["a.ndb", "missing.ndb"])

        let update = try box.sigctl(["update", "--json"])
        #expect(update.status == 1, "missing.ndb fails: \(update.stderr)")
        try check("update", update.stdout)
        let status = try box.sigctl(["status", "--json"])
        try check("status", status.stdout)
        try check("check", try box.sigctl(["check", "--json"]).stdout)
        try check("feeds", try box.sigctl(["feeds", "--json"]).stdout)
        try check("verify", try box.sigctl(["verify", "--json", box.dbDir + "/a.ndb"]).stdout)
        try check("explain", try box.sigctl(["explain", "--json", "Test.Schema-1"]).stdout)
        try check("allow", try box.sigctl(["allow", "--json", "--reason", "schema test", "Test.Schema-2"]).stdout)
        try check("reload", try box.sigctl(["reload", "--json"]).stdout)
        try check("rollback", try box.sigctl(["rollback", "--json"]).stdout)
        let mail = box.root + "/sample.eml"
        try ("From: a@example.org\nSubject: x\n\n" + String(decoding: sigs.samples["Test.Schema-1"]!, as: UTF8.self) + "\n")
            .write(toFile: mail, atomically: true, encoding: .utf8)
        let lines = try box.sigctl(["test", "--json", mail]).stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 2, "one line per message, then the summary: \(lines)")
        try check("test-message", lines[0])
        try check("test-summary", lines[1])
        let log = box.root + "/mail.log"
        try (HitsTests.amavis(60, "Test.Schema-1.UNOFFICIAL", ip: "192.0.2.1", sender: "a@example.org", queue: "ABCDEF123")
            .write(toFile: log, atomically: true, encoding: .utf8))
        let hits = try box.sigctl(["hits", "--json", log]).stdout.split(separator: "\n").map(String.init)
        #expect(hits.count == 2, "one line per detection, then the summary: \(hits)")
        try check("hits-detection", hits[0])
        try check("hits-summary", hits[1])

        // Errors are documents too, on stdout, with the exit code.
        let broken = try runProgram(Paths.sigctl, ["status", "--json", "--config", box.root + "/nonexistent"])
        #expect(broken.status == 78)
        try check("error", broken.stdout)
        let error = try #require(try JSONSerialization.jsonObject(with: Data(broken.stdout.utf8)) as? [String: Any])
        #expect((error["error"] as? [String: Any])?["exit_code"] as? Int == 78)
    }

    @Test func absentValuesAreNullAndDecimalsArePlain() throws {
        struct Sample: Encodable {
            var missing: String?
            var tiny = 7.15e-07
            var whole = 3.0
            var camelCase = 1
            var names = ["Keep.This-Name": 1]
            var at = Date(timeIntervalSince1970: 0)
        }
        let text = String(decoding: try JSONOutput.encode(Sample()), as: UTF8.self)
        let zone = Timestamp.text(Date(timeIntervalSince1970: 0))
        #expect(text == """
            {
              "schema": 1,
              "at": "\(zone)",
              "camel_case": 1,
              "missing": null,
              "names": {
                "Keep.This-Name": 1
              },
              "tiny": 0.000001,
              "whole": 3.0
            }

            """)
        #expect(String(decoding: try JSONOutput.encode(["a": [1, 2]], lines: true), as: UTF8.self) == "{\"schema\":1,\"a\":[1,2]}\n")
    }
}
