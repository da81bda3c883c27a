import Foundation

/// A JSON value being built by `TreeEncoder`. Reference type, so that nested
/// containers can fill in their part after the parent handed it out.
final class JSONNode {
    enum Value {
        case empty
        case null
        case bool(Bool)
        /// A number, already written as JSON.
        case number(String)
        case string(String)
        case array([JSONNode])
        case object([String: JSONNode])
    }

    var value: Value

    init(_ value: Value = .empty) { self.value = value }

    /// This node as an object (turning an empty node into one) and the child for `key`.
    func child(_ key: String) -> JSONNode {
        if case .object(var members) = value {
            let node = members[key] ?? JSONNode()
            members[key] = node
            value = .object(members)
            return node
        }
        let node = JSONNode()
        value = .object([key: node])
        return node
    }

    /// This node as an array (turning an empty node into one) with a new last element.
    func append() -> JSONNode {
        let node = JSONNode()
        if case .array(var elements) = value {
            elements.append(node)
            value = .array(elements)
        } else {
            value = .array([node])
        }
        return node
    }

    var count: Int {
        if case .array(let elements) = value { return elements.count }
        return 0
    }

    /// JSON text: keys sorted, but `first` (the schema version) ahead of the others;
    /// `indent` nil gives one line.
    func text(indent: Int?, level: Int = 0, first: String? = nil) -> String {
        let pad = indent.map { String(repeating: " ", count: $0 * (level + 1)) } ?? ""
        let close = indent.map { String(repeating: " ", count: $0 * level) } ?? ""
        let newline = indent == nil ? "" : "\n"
        let separator = indent == nil ? "," : ",\n"
        switch value {
        case .empty: return "{}"
        case .null: return "null"
        case .bool(let flag): return flag ? "true" : "false"
        case .number(let number): return number
        case .string(let string): return Self.quote(string)
        case .array(let elements):
            if elements.isEmpty { return "[]" }
            return "[" + newline + elements.map { pad + $0.text(indent: indent, level: level + 1) }.joined(separator: separator) + newline + close + "]"
        case .object(let members):
            if members.isEmpty { return "{}" }
            let keys = members.keys.sorted { a, b in a == first ? b != first : b == first ? false : a < b }
            let colon = indent == nil ? ":" : ": "
            return "{" + newline + keys.map { pad + Self.quote($0) + colon + members[$0]!.text(indent: indent, level: level + 1) }
                .joined(separator: separator) + newline + close + "}"
        }
    }

    static func quote(_ string: String) -> String {
        var out = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
