import Foundation
import TOMLKit

/// A parsed TOML file plus what is needed to name the line of a key in errors.
struct Document {
    let path: String
    let table: TOMLTable
    let lines: [Substring]

    init(path: String) throws {
        self.path = path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(file: path, "cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: path, "is not UTF-8 text")
        }
        lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            let line = error.source.begin.line
            let key = line > 0 && line <= lines.count ? Document.key(onLine: lines[line - 1]) : nil
            throw ConfigError(file: path, line: line, key: key, "is not valid TOML: \(error.description)")
        }
    }

    private static func key(onLine line: Substring) -> String? {
        guard let equals = line.firstIndex(of: "=") else { return nil }
        let key = line[..<equals].trimmingCharacters(in: .whitespaces)
        return key.isEmpty || key.hasPrefix("[") ? nil : key
    }

    /// The 1-based line where `key` is assigned, optionally inside the `index`th `[[table]]`.
    func line(of key: String, section: (table: String, index: Int)? = nil) -> Int? {
        var currentSection: String? = nil
        var sectionIndex = -1
        for (number, raw) in lines.enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("[[") {
                let name = line.trimmingCharacters(in: CharacterSet(charactersIn: "[] "))
                currentSection = name
                if let section, name == section.table { sectionIndex += 1 }
                continue
            }
            if line.hasPrefix("[") { currentSection = line; continue }
            guard Document.key(onLine: raw) == key else { continue }
            if let section {
                if currentSection == section.table && sectionIndex == section.index { return number + 1 }
            } else if currentSection == nil {
                return number + 1
            }
        }
        return nil
    }

    func error(_ key: String, _ message: String, section: (table: String, index: Int)? = nil) -> ConfigError {
        ConfigError(file: path, line: line(of: key, section: section), key: key, message)
    }

    func warnUnknown(_ table: TOMLTable, allowed: Set<String>, warnings: inout [String],
                     section: (table: String, index: Int)? = nil) {
        for key in table.keys.sorted() where !allowed.contains(key) {
            let line = line(of: key, section: section).map { ":\($0)" } ?? ""
            let hint = Suggestion.closest(to: key, among: allowed).map { " (did you mean '\($0)'?)" } ?? ""
            warnings.append("\(path)\(line): unknown key '\(key)' ignored\(hint)")
        }
    }

    func string(_ key: String, in table: TOMLTable, section: (table: String, index: Int)? = nil, orInteger: Bool = false) throws -> String? {
        guard let value = table[key] else { return nil }
        if orInteger, let int = value.int { return String(int) }
        guard let string = value.string else { throw error(key, "must be a string", section: section) }
        return string
    }

    func path(_ key: String, in table: TOMLTable) throws -> String? {
        guard let value = try string(key, in: table) else { return nil }
        guard value.hasPrefix("/") else { throw error(key, "must be an absolute path, found \"\(value)\"") }
        return value
    }

    func bool(_ key: String, in table: TOMLTable, section: (table: String, index: Int)? = nil) throws -> Bool? {
        guard let value = table[key] else { return nil }
        guard let bool = value.bool else { throw error(key, "must be true or false", section: section) }
        return bool
    }

    func int(_ key: String, in table: TOMLTable, range: ClosedRange<Int>) throws -> Int? {
        guard let value = table[key] else { return nil }
        guard let int = value.int, range.contains(int) else {
            throw error(key, "must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return int
    }

    func strings(_ key: String, in table: TOMLTable) throws -> [String]? {
        guard let value = table[key] else { return nil }
        guard let array = value.array else { throw error(key, "must be a list of strings") }
        return try array.map { item in
            guard let string = item.string else { throw error(key, "must be a list of strings") }
            return string
        }
    }

    /// A duration: "90s", "1h", "2d", or a whole number of seconds.
    func duration(_ key: String, in table: TOMLTable) throws -> Int? {
        guard let value = table[key] else { return nil }
        if let int = value.int, int >= 0 { return int }
        guard let text = value.string, let seconds = DurationParser.seconds(text) else {
            throw error(key, "must be a duration such as \"90s\", \"15m\", \"1h\" or \"1d\"")
        }
        return seconds
    }

    /// A size: "512M", "2G", or a whole number of bytes.
    func size(_ key: String, in table: TOMLTable) throws -> Int64? {
        guard let value = table[key] else { return nil }
        if let int = value.int, int > 0 { return Int64(int) }
        guard let text = value.string, let bytes = DurationParser.bytes(text), bytes > 0 else {
            throw error(key, "must be a size such as \"100M\" or \"2G\"")
        }
        return bytes
    }
}
