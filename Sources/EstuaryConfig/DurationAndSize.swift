/// Durations in configuration files: a string of one or more `<number><unit>` terms, as Go and
/// Telegraf write them: `"500ms"`, `"10s"`, `"1.5s"`, `"2m"`, `"1h"`, `"1m30s"`. Units are `ns`,
/// `us` (or `µs`), `ms`, `s`, `m` and `h`; `"0"` alone is zero. A bare number is refused: `10`
/// could mean seconds or milliseconds.
public enum DurationSyntax {
    /// Each unit as a multiplier and a divisor of seconds (dividing keeps "200ms" exactly 0.2).
    static let units: [(name: String, multiplier: Double, divisor: Double)] = [
        ("ns", 1, 1e9), ("us", 1, 1e6), ("µs", 1, 1e6), ("ms", 1, 1e3), ("s", 1, 1), ("m", 60, 1), ("h", 3600, 1),
    ]

    /// The duration `text` stands for, in seconds.
    /// - Throws: what is wrong with `text`, for a configuration error.
    public static func seconds(_ text: String) throws(ConfigurationValueError) -> Double {
        let scalars = Array(text.unicodeScalars)
        if text == "0" { return 0 }
        if scalars.first == "-" { throw ConfigurationValueError("a duration cannot be negative") }
        guard !scalars.isEmpty else {
            throw ConfigurationValueError("the duration is empty; write a number with a unit, such as \"10s\"")
        }
        var total = 0.0
        var index = 0
        while index < scalars.count {
            let numberStart = index
            while index < scalars.count, scalars[index] == "." || ("0"..."9").contains(scalars[index]) { index += 1 }
            let number = String(String.UnicodeScalarView(scalars[numberStart..<index]))
            let unitStart = index
            while index < scalars.count, scalars[index] != "." && !("0"..."9").contains(scalars[index]) { index += 1 }
            let unit = String(String.UnicodeScalarView(scalars[unitStart..<index]))
            guard !number.isEmpty, number != ".", number.filter({ $0 == "." }).count <= 1, let value = Double(number) else {
                throw ConfigurationValueError("'\(text)' is not a duration; " + example)
            }
            if unit.isEmpty {
                throw ConfigurationValueError("'\(text)' has no unit; " + example)
            }
            guard let scale = units.first(where: { $0.name == unit }) else {
                throw ConfigurationValueError("unknown unit '\(unit)' in '\(text)' (expected ns, us, ms, s, m or h)")
            }
            total += value * scale.multiplier / scale.divisor
        }
        guard total.isFinite else { throw ConfigurationValueError("'\(text)' is too long a duration") }
        return total
    }

    static let example = "write a number with a unit, such as \"500ms\", \"10s\", \"2m\", \"1h\" or \"1m30s\""

    /// `seconds` written the way a configuration file would: `"500ms"`, `"10s"`, `"5m"`, `"1h"`,
    /// `"1.5s"`.
    public static func format(_ seconds: Double) -> String {
        if seconds == 0 { return "0s" }
        if seconds >= 3600, seconds.truncatingRemainder(dividingBy: 3600) == 0 { return "\(Int(seconds / 3600))h" }
        if seconds >= 60, seconds.truncatingRemainder(dividingBy: 60) == 0 { return "\(Int(seconds / 60))m" }
        if seconds >= 1, seconds == seconds.rounded() { return "\(Int(seconds))s" }
        let milliseconds = seconds * 1000
        if seconds < 1, milliseconds == milliseconds.rounded() { return "\(Int(milliseconds))ms" }
        return "\(seconds)s"
    }
}

/// Sizes in configuration files: an integer (bytes) or a string with a unit. Binary units are
/// `KiB`, `MiB`, `GiB`, `TiB` (powers of 1024); decimal units `KB`, `MB`, `GB`, `TB` (powers of
/// 1000); `B` is bytes; a string without a unit is bytes too. Units are case-insensitive and
/// always mean bytes (`"4mb"` is 4,000,000 bytes). A fraction is allowed when the result is a
/// whole number of bytes (`"1.5MiB"`).
public enum SizeSyntax {
    static let units: [(name: String, bytes: Int)] = [
        ("b", 1),
        ("kb", 1_000), ("mb", 1_000_000), ("gb", 1_000_000_000), ("tb", 1_000_000_000_000),
        ("kib", 1 << 10), ("mib", 1 << 20), ("gib", 1 << 30), ("tib", 1 << 40),
    ]

    /// The number of bytes `text` stands for.
    /// - Throws: what is wrong with `text`, for a configuration error.
    public static func bytes(_ text: String) throws(ConfigurationValueError) -> Int {
        let trimmed = Substring(text)
        if trimmed.first == "-" { throw ConfigurationValueError("a size cannot be negative") }
        let digitsEnd = trimmed.firstIndex(where: { !$0.isASCII || !($0.isNumber || $0 == ".") }) ?? trimmed.endIndex
        let number = trimmed[..<digitsEnd]
        let unit = trimmed[digitsEnd...].drop(while: { $0 == " " }).lowercased()
        let parts = number.split(separator: ".", omittingEmptySubsequences: false)
        guard !number.isEmpty, parts.count <= 2, !parts[0].isEmpty || (parts.count == 2 && !parts[1].isEmpty) else {
            throw ConfigurationValueError("'\(text)' is not a size; " + example)
        }
        guard let scale = unit.isEmpty ? 1 : units.first(where: { $0.name == unit })?.bytes else {
            throw ConfigurationValueError("unknown unit '\(trimmed[digitsEnd...].drop(while: { $0 == " " }))' in '\(text)' "
                                          + "(expected B, KiB, MiB, GiB, TiB, KB, MB, GB or TB)")
        }
        // Exact arithmetic: (whole * 10^k + fraction) * scale / 10^k must be a whole number.
        let fractionDigits = parts.count == 2 ? parts[1] : ""
        guard let whole = Int(parts[0].isEmpty ? "0" : parts[0]), let fraction = Int(fractionDigits.isEmpty ? "0" : fractionDigits),
              fractionDigits.count <= 12 else {
            throw ConfigurationValueError("'\(text)' is too large a size")
        }
        var power = 1
        for _ in 0..<fractionDigits.count { power *= 10 }
        let (shifted, overflow1) = whole.multipliedReportingOverflow(by: power)
        let (numerator, overflow2) = shifted.addingReportingOverflow(fraction)
        let (scaled, overflow3) = numerator.multipliedReportingOverflow(by: scale)
        guard !overflow1, !overflow2, !overflow3 else { throw ConfigurationValueError("'\(text)' is too large a size") }
        guard scaled % power == 0 else {
            throw ConfigurationValueError("'\(text)' is not a whole number of bytes")
        }
        return scaled / power
    }

    static let example = "write a number of bytes or a number with a unit, such as \"512KiB\", \"8MiB\", \"1GiB\" or \"4MB\""

    /// `bytes` written the way a configuration file would: `"8MiB"`, `"512KiB"`, `"4MB"`, or
    /// the plain number.
    public static func format(_ bytes: Int) -> String {
        guard bytes > 0 else { return "\(bytes)" }
        for (name, scale) in [("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10),
                              ("TB", 1_000_000_000_000), ("GB", 1_000_000_000), ("MB", 1_000_000), ("KB", 1_000)]
        where bytes % scale == 0 {
            return "\(bytes / scale)\(name)"
        }
        return "\(bytes)"
    }
}

/// Why a duration, size or other value was refused.
public struct ConfigurationValueError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String

    init(_ description: String) {
        self.description = description
    }
}
