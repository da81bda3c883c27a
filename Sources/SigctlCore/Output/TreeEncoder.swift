import Foundation

/// An `Encoder` that builds a `JSONNode` the way sigctl's JSON schema wants it:
/// an absent optional is `null` (not a missing key), property names are snake_case
/// (dictionary keys, which are data, stay as they are), dates are ISO 8601 with the
/// zone, and fractional numbers are fixed decimals, never `7.15e-07`.
struct TreeEncoder: Encoder {
    let node: JSONNode
    var codingPath: [CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .empty = node.value { node.value = .object([:]) }
        return KeyedEncodingContainer(Keyed<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> UnkeyedEncodingContainer {
        if case .empty = node.value { node.value = .array([]) }
        return Unkeyed(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> SingleValueEncodingContainer { Single(node: node, codingPath: codingPath) }

    /// Stores `value` in `node`, handling the types whose own encoding is not the schema's.
    static func store<T: Encodable>(_ value: T, in node: JSONNode, path: [CodingKey]) throws {
        switch value {
        case let date as Date: node.value = .string(Timestamp.text(date))
        case let url as URL: node.value = .string(url.absoluteString)
        case let number as Double: node.value = number.isFinite ? .number(decimal(number)) : .null
        case let number as Float: node.value = number.isFinite ? .number(decimal(Double(number))) : .null
        default: try value.encode(to: TreeEncoder(node: node, codingPath: path))
        }
    }

    /// Up to six decimals, trailing zeros dropped but one kept: 0.000001, 2.5, 3.0.
    static func decimal(_ number: Double) -> String {
        var text = String(format: "%.6f", number)
        while text.hasSuffix("0") && !text.hasSuffix(".0") { text.removeLast() }
        return text == "-0.0" ? "0.0" : text
    }

    /// camelCase to snake_case; an acronym stays one word ("gpgKeyURL" is "gpg_key_url").
    static func snake(_ key: String) -> String {
        let characters = Array(key)
        var out = ""
        for (index, character) in characters.enumerated() {
            if character.isUppercase, index > 0 {
                let previous = characters[index - 1]
                let next = index + 1 < characters.count ? characters[index + 1] : nil
                if previous.isLowercase || previous.isNumber || (previous.isUppercase && next?.isLowercase == true) { out += "_" }
            }
            out += character.lowercased()
        }
        return out
    }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let node: JSONNode
        var codingPath: [CodingKey]
        /// Dictionary keys are data (feed or signature names), not property names.
        let isDictionary = String(describing: Key.self).contains("DictionaryCodingKey")

        func name(_ key: Key) -> String { isDictionary ? key.stringValue : TreeEncoder.snake(key.stringValue) }
        func put(_ value: JSONNode.Value, _ key: Key) { node.child(name(key)).value = value }
        func number<N: BinaryInteger>(_ value: N, _ key: Key) { put(.number(String(value)), key) }

        mutating func encodeNil(forKey key: Key) throws { put(.null, key) }
        mutating func encode(_ value: Bool, forKey key: Key) throws { put(.bool(value), key) }
        mutating func encode(_ value: String, forKey key: Key) throws { put(.string(value), key) }
        mutating func encode(_ value: Double, forKey key: Key) throws { try encode(value as Double?, forKey: key) }
        mutating func encode(_ value: Float, forKey key: Key) throws { try encode(Double(value), forKey: key) }
        mutating func encode(_ value: Int, forKey key: Key) throws { number(value, key) }
        mutating func encode(_ value: Int8, forKey key: Key) throws { number(value, key) }
        mutating func encode(_ value: Int16, forKey key: Key) throws { number(value, key) }
        mutating func encode(_ value: Int32, forKey key: Key) throws { number(value, key) }
        mutating func encode(_ value: Int64, forKey key: Key) throws { number(value, key) }
        mutating func encode(_ value: UInt, forKey key: Key) throws { number(value, key) }
        mutating func encode(_ value: UInt8, forKey key: Key) throws { number(value, key) }
        mutating func encode(_ value: UInt16, forKey key: Key) throws { number(value, key) }
        mutating func encode(_ value: UInt32, forKey key: Key) throws { number(value, key) }
        mutating func encode(_ value: UInt64, forKey key: Key) throws { number(value, key) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            try TreeEncoder.store(value, in: node.child(name(key)), path: codingPath + [key])
        }

        // Absent is null, for every type.
        mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: Float?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: Int8?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: Int16?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: Int32?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: UInt?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: UInt8?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: UInt16?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: UInt32?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent(_ value: UInt64?, forKey key: Key) throws { try present(value, key) }
        mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws { try present(value, key) }

        func present<T: Encodable>(_ value: T?, _ key: Key) throws {
            guard let value else { return put(.null, key) }
            try TreeEncoder.store(value, in: node.child(name(key)), path: codingPath + [key])
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            TreeEncoder(node: node.child(name(key)), codingPath: codingPath + [key]).container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> UnkeyedEncodingContainer {
            TreeEncoder(node: node.child(name(key)), codingPath: codingPath + [key]).unkeyedContainer()
        }
        mutating func superEncoder() -> Encoder { TreeEncoder(node: node.child("super"), codingPath: codingPath) }
        mutating func superEncoder(forKey key: Key) -> Encoder { TreeEncoder(node: node.child(name(key)), codingPath: codingPath + [key]) }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let node: JSONNode
        var codingPath: [CodingKey]
        var count: Int { node.count }

        mutating func encodeNil() throws { node.append().value = .null }
        mutating func encode(_ value: Bool) throws { node.append().value = .bool(value) }
        mutating func encode(_ value: String) throws { node.append().value = .string(value) }
        mutating func encode(_ value: Double) throws { try encode(value as Double?) }
        mutating func encode(_ value: Float) throws { try encode(Double(value)) }
        mutating func encode(_ value: Int) throws { node.append().value = .number(String(value)) }
        mutating func encode(_ value: Int8) throws { node.append().value = .number(String(value)) }
        mutating func encode(_ value: Int16) throws { node.append().value = .number(String(value)) }
        mutating func encode(_ value: Int32) throws { node.append().value = .number(String(value)) }
        mutating func encode(_ value: Int64) throws { node.append().value = .number(String(value)) }
        mutating func encode(_ value: UInt) throws { node.append().value = .number(String(value)) }
        mutating func encode(_ value: UInt8) throws { node.append().value = .number(String(value)) }
        mutating func encode(_ value: UInt16) throws { node.append().value = .number(String(value)) }
        mutating func encode(_ value: UInt32) throws { node.append().value = .number(String(value)) }
        mutating func encode(_ value: UInt64) throws { node.append().value = .number(String(value)) }
        mutating func encode<T: Encodable>(_ value: T) throws { try TreeEncoder.store(value, in: node.append(), path: codingPath) }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            TreeEncoder(node: node.append(), codingPath: codingPath).container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer() -> UnkeyedEncodingContainer {
            TreeEncoder(node: node.append(), codingPath: codingPath).unkeyedContainer()
        }
        mutating func superEncoder() -> Encoder { TreeEncoder(node: node.append(), codingPath: codingPath) }
    }

    struct Single: SingleValueEncodingContainer {
        let node: JSONNode
        var codingPath: [CodingKey]

        mutating func encodeNil() throws { node.value = .null }
        mutating func encode(_ value: Bool) throws { node.value = .bool(value) }
        mutating func encode(_ value: String) throws { node.value = .string(value) }
        mutating func encode(_ value: Double) throws { node.value = value.isFinite ? .number(TreeEncoder.decimal(value)) : .null }
        mutating func encode(_ value: Float) throws { try encode(Double(value)) }
        mutating func encode(_ value: Int) throws { node.value = .number(String(value)) }
        mutating func encode(_ value: Int8) throws { node.value = .number(String(value)) }
        mutating func encode(_ value: Int16) throws { node.value = .number(String(value)) }
        mutating func encode(_ value: Int32) throws { node.value = .number(String(value)) }
        mutating func encode(_ value: Int64) throws { node.value = .number(String(value)) }
        mutating func encode(_ value: UInt) throws { node.value = .number(String(value)) }
        mutating func encode(_ value: UInt8) throws { node.value = .number(String(value)) }
        mutating func encode(_ value: UInt16) throws { node.value = .number(String(value)) }
        mutating func encode(_ value: UInt32) throws { node.value = .number(String(value)) }
        mutating func encode(_ value: UInt64) throws { node.value = .number(String(value)) }
        mutating func encode<T: Encodable>(_ value: T) throws { try TreeEncoder.store(value, in: node, path: codingPath) }
    }
}
