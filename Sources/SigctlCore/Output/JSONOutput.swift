import Foundation

/// sigctl's one JSON schema for every command's `--json` (see JSON OUTPUT in sigctl(1)):
/// each document is an object whose first key is `"schema": 1`.
public enum JSONOutput {
    public static let schema = 1

    /// `value` as a schema document: pretty-printed, or one line for JSON Lines.
    public static func encode<T: Encodable>(_ value: T, lines: Bool = false) throws -> Data {
        let root = JSONNode()
        try TreeEncoder.store(value, in: root, path: [])
        if case .object = root.value {
            root.child("schema").value = .number(String(schema))
        }
        return Data((root.text(indent: lines ? nil : 2, first: "schema") + "\n").utf8)
    }

    /// The document for a command that failed: what went wrong, what to do, and the exit code.
    public static func error(_ message: String, hint: String?, exitCode: Int32) -> Data {
        struct Failure: Encodable {
            var error: Detail
            struct Detail: Encodable { var message: String; var hint: String?; var exitCode: Int32 }
        }
        return (try? encode(Failure(error: .init(message: message, hint: hint, exitCode: exitCode)))) ?? Data()
    }
}

extension JSONDecoder {
    /// Reads what `JSONOutput` writes (for tests and for scripts in Swift).
    public static var output: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }
}
