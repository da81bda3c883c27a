import Foundation

/// Durations as written in sigctl's config: "90s", "15m", "1h", "2d", "1h30m", or a bare number of seconds.
public enum DurationParser {
    public static func seconds(_ text: String) -> Int? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard !trimmed.isEmpty else { return nil }
        if let plain = Int(trimmed), plain >= 0 { return plain }
        var total = 0
        var number = ""
        for character in trimmed {
            if character.isNumber {
                number.append(character)
                continue
            }
            guard let value = Int(number) else { return nil }
            let unit: Int
            switch character {
            case "s": unit = 1
            case "m": unit = 60
            case "h": unit = 3600
            case "d": unit = 86_400
            case "w": unit = 604_800
            default: return nil
            }
            total += value * unit
            number = ""
        }
        return number.isEmpty ? total : nil
    }

    /// A range such as "30s-600s"; "0" or "0s" means no wait. A single duration means exactly that.
    public static func range(_ text: String) -> ClosedRange<Int>? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        switch parts.count {
        case 1:
            guard let value = seconds(parts[0]) else { return nil }
            return value...value
        case 2:
            guard let low = seconds(parts[0]), let high = seconds(parts[1]), low <= high else { return nil }
            return low...high
        default:
            return nil
        }
    }

    /// "1h30m"-style rendering for humans.
    public static func format(_ seconds: Int) -> String {
        if seconds <= 0 { return "0s" }
        var rest = seconds
        var out = ""
        for (unit, name) in [(86_400, "d"), (3600, "h"), (60, "m"), (1, "s")] where rest >= unit {
            out += "\(rest / unit)\(name)"
            rest %= unit
        }
        return out
    }

    /// Sizes as in clamd.conf and sigctl.toml: "512M", "2G", "100K", or bytes.
    public static func bytes(_ text: String) -> Int64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).uppercased()
        guard let last = trimmed.last else { return nil }
        let multipliers: [Character: Int64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        if let multiplier = multipliers[last] {
            guard let value = Int64(trimmed.dropLast()), value >= 0 else { return nil }
            return value * multiplier
        }
        return Int64(trimmed).flatMap { $0 >= 0 ? $0 : nil }
    }
}
