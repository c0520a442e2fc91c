import EstuaryIO
import EstuaryWire
import TOMLKit

/// Collects the errors of one file, each with the line its key is on.
final class Diagnostics {
    let file: String
    let lineIndex: SourceLineIndex
    private(set) var errors: [ConfigurationError] = []

    init(file: String, lineIndex: SourceLineIndex) {
        self.file = file
        self.lineIndex = lineIndex
    }

    func error(_ keyPath: String, _ message: String) {
        errors.append(ConfigurationError(file: file, line: lineIndex.line(of: keyPath), keyPath: keyPath, message: message))
    }

    /// A mistake in another file the configuration names (an SNMP targets file).
    func append(_ error: ConfigurationError) {
        errors.append(error)
    }

    /// Errors in line order; those without a line last, in the order they were found.
    var sortedErrors: [ConfigurationError] {
        errors.enumerated().sorted { a, b in
            let lineA = a.element.line ?? .max, lineB = b.element.line ?? .max
            return lineA != lineB ? lineA < lineB : a.offset < b.offset
        }.map(\.element)
    }
}

/// Typed reads of one TOML table's keys. Every read names a key the table may have; `finish()`
/// then reports the keys nobody asked for as unknown. A missing optional key gives its default;
/// a present key of the wrong type or with a bad value is an error (and gives the default, so
/// that checking goes on and finds the other errors too).
final class TableReader {
    let table: TOMLTable
    /// Key path of the table (`inputs.collectd[0]`), "" for the root.
    let path: String
    let diagnostics: Diagnostics
    private(set) var knownKeys: [String] = []
    /// A hint for an unknown key, in place of the "did you mean" guess.
    var unknownKeyHint: (String) -> String? = { _ in nil }

    init(table: TOMLTable, path: String, diagnostics: Diagnostics) {
        self.table = table
        self.path = path
        self.diagnostics = diagnostics
    }

    func keyPath(_ key: String) -> String {
        path.isEmpty ? key : path + "." + key
    }

    func error(_ key: String, _ message: String) {
        diagnostics.error(keyPath(key), message)
    }

    /// The raw value of `key`, which this table may have.
    func value(_ key: String) -> (any TOMLValueConvertible)? {
        if !knownKeys.contains(key) { knownKeys.append(key) }
        return table[key]
    }

    func contains(_ key: String) -> Bool {
        if !knownKeys.contains(key) { knownKeys.append(key) }
        return table[key] != nil
    }

    // MARK: Scalars

    func string(_ key: String) -> String? {
        guard let value = value(key) else { return nil }
        guard let string = value.string else {
            error(key, "expected a string, got \(describe(value))")
            return nil
        }
        return string
    }

    func string(_ key: String, default defaultValue: String) -> String {
        string(key) ?? defaultValue
    }

    /// A string that must not be empty when present.
    func nonEmptyString(_ key: String) -> String? {
        guard let string = string(key) else { return nil }
        if string.isEmpty {
            error(key, "must not be empty")
            return nil
        }
        return string
    }

    func bool(_ key: String, default defaultValue: Bool) -> Bool {
        guard let value = value(key) else { return defaultValue }
        guard let bool = value.bool else {
            error(key, "expected true or false, got \(describe(value))")
            return defaultValue
        }
        return bool
    }

    func int(_ key: String, default defaultValue: Int, range: ClosedRange<Int>) -> Int {
        guard let value = value(key) else { return defaultValue }
        guard let int = value.int else {
            error(key, "expected an integer, got \(describe(value))")
            return defaultValue
        }
        guard range.contains(int) else {
            error(key, "must be between \(range.lowerBound) and \(range.upperBound), got \(int)")
            return defaultValue
        }
        return int
    }

    /// A duration string (`"10s"`), in seconds.
    func duration(_ key: String, default defaultValue: Double, range: ClosedRange<Double>) -> Double {
        guard let value = value(key) else { return defaultValue }
        guard let text = value.string else {
            if value.type == .int || value.type == .double {
                error(key, "expected a duration string with a unit, got the bare number \(value.debugDescription); "
                      + "write \"\(value.debugDescription)s\" for seconds or \"\(value.debugDescription)ms\" for milliseconds")
            } else {
                error(key, "expected a duration string such as \"10s\", got \(describe(value))")
            }
            return defaultValue
        }
        let seconds: Double
        do {
            seconds = try DurationSyntax.seconds(text)
        } catch {
            self.error(key, error.description)
            return defaultValue
        }
        guard range.contains(seconds) else {
            error(key, "must be between \(DurationSyntax.format(range.lowerBound)) and \(DurationSyntax.format(range.upperBound)), "
                  + "got \"\(text)\"")
            return defaultValue
        }
        return seconds
    }

    /// A size: an integer (bytes) or a string with a unit (`"8MiB"`), in bytes.
    func size(_ key: String, default defaultValue: Int, range: ClosedRange<Int>) -> Int {
        guard let value = value(key) else { return defaultValue }
        let bytes: Int
        let written: String
        if let int = value.int {
            guard int >= 0 else {
                error(key, "a size cannot be negative, got \(int)")
                return defaultValue
            }
            bytes = int
            written = "\(int)"
        } else if let text = value.string {
            do {
                bytes = try SizeSyntax.bytes(text)
            } catch {
                self.error(key, error.description)
                return defaultValue
            }
            written = "\"\(text)\""
        } else {
            error(key, "expected a size (a number of bytes, or a string such as \"8MiB\"), got \(describe(value))")
            return defaultValue
        }
        guard range.contains(bytes) else {
            error(key, "must be between \(SizeSyntax.format(range.lowerBound)) and \(SizeSyntax.format(range.upperBound)), "
                  + "got \(written)")
            return defaultValue
        }
        return bytes
    }

    /// One of an enum's values, matched case-insensitively; anything else is an error listing the
    /// accepted values, never a fallback to the default (the default returned then only lets
    /// checking go on).
    func choice<Choice: RawRepresentable & CaseIterable>(_ key: String, default defaultValue: Choice) -> Choice
        where Choice.RawValue == String {
        validChoice(key, default: defaultValue) ?? defaultValue
    }

    /// Like `choice`, but nil when the value is present and wrong.
    func validChoice<Choice: RawRepresentable & CaseIterable>(_ key: String, default defaultValue: Choice) -> Choice?
        where Choice.RawValue == String {
        guard let value = value(key) else { return defaultValue }
        let accepted = listing(Choice.allCases.map(\.rawValue))
        guard let text = value.string else {
            error(key, "expected a string (\(accepted)), got \(describe(value))")
            return nil
        }
        guard let choice = Choice(rawValue: text.lowercased()) else {
            error(key, "unknown value '\(text)' (expected \(accepted))")
            return nil
        }
        return choice
    }

    func address(_ key: String) -> ListenAddress? {
        guard let text = string(key) else { return nil }
        do {
            return try ListenAddress(parsing: text)
        } catch {
            self.error(key, "bad address '\(text)': \(error.description)")
            return nil
        }
    }

    /// `allow`: CIDR blocks (`"127.0.0.0/8"`, `"::1/128"`, or one address); each bad element is
    /// its own error. Absent: everyone. An empty array is an error (it would refuse everyone).
    func allowList(_ key: String) -> AllowList {
        guard let texts = stringArray(key) else { return .everyone }
        if texts.isEmpty {
            error(key, "an empty list would refuse every sender; leave \(key) out to allow everyone, "
                  + "or list networks such as [\"127.0.0.0/8\", \"::1/128\"]")
            return .everyone
        }
        var blocks: [CIDRBlock] = []
        for (position, text) in texts.enumerated() {
            do {
                blocks.append(try CIDRBlock(parsing: text))
            } catch {
                self.error("\(key)[\(position)]", "bad network '\(text)': \(error.description)")
            }
        }
        return AllowList(blocks)
    }

    // MARK: Arrays

    /// An array of strings; each bad element is its own error (`key[2]`).
    func stringArray(_ key: String, allowEmptyStrings: Bool = false) -> [String]? {
        guard let value = value(key) else { return nil }
        guard let array = value.array else {
            error(key, "expected an array of strings, got \(describe(value))")
            return nil
        }
        var strings: [String] = []
        var bad = false
        for position in 0..<array.count {
            let element = array[position]
            if let string = element.string, allowEmptyStrings || !string.isEmpty {
                strings.append(string)
            } else {
                bad = true
                error("\(key)[\(position)]", element.type == .string ? "must not be empty" : "expected a string, got \(describe(element))")
            }
        }
        return bad ? nil : strings
    }

    // MARK: Unknown keys

    /// Reports every key of the table that no read asked for.
    func finish() {
        for key in table.keys.sorted() where !knownKeys.contains(key) {
            let isTable = table[key]?.type == .table
            var message = isTable ? "unknown table" : "unknown key"
            if let extra = unknownKeyHint(key) {
                message += "; " + extra
            } else if let near = nearest(key, in: knownKeys) {
                message += "; did you mean '\(near)'?"
            } else {
                message += " (accepted keys: \(knownKeys.joined(separator: ", ")))"
            }
            diagnostics.error(keyPath(key), message)
        }
    }
}

/// `a`, `a or b`, `a, b or c`.
func listing(_ items: [String]) -> String {
    switch items.count {
    case 0: return ""
    case 1: return items[0]
    default: return items.dropLast().joined(separator: ", ") + " or " + items.last!
    }
}

/// The value's TOML type and text, for "expected X, got Y" messages.
func describe(_ value: any TOMLValueConvertible) -> String {
    switch value.type {
    case .table: return "a table"
    case .array: return "an array"
    case .string: return "the string \(value.debugDescription)"
    case .int: return "the integer \(value.debugDescription)"
    case .double: return "the number \(value.debugDescription)"
    case .bool: return "\(value.debugDescription)"
    default: return "a \(value.type.description) (\(value.debugDescription))"
    }
}

/// The candidate closest to `word` if it is a likely typo (edit distance 1 for words of up to four
/// letters, else at most 2 or a third of the word's length) or a longer or shorter spelling
/// (`data_directory` for `data_dir`).
func nearest(_ word: String, in candidates: [String]) -> String? {
    let word = word.lowercased()
    let limit = word.count <= 4 ? 1 : max(2, word.count / 3)
    var best: (candidate: String, distance: Int)?
    for candidate in candidates {
        if min(word.count, candidate.count) >= 4, word.hasPrefix(candidate) || candidate.hasPrefix(word) {
            return candidate
        }
        let distance = editDistance(Array(word), Array(candidate))
        if distance <= limit, distance < (best?.distance ?? .max) { best = (candidate, distance) }
    }
    return best?.candidate
}

/// Levenshtein distance, with an adjacent transposition counting as one edit.
func editDistance(_ a: [Character], _ b: [Character]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previousPrevious = [Int](repeating: 0, count: b.count + 1)
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                current[j] = min(current[j], previousPrevious[j - 2] + 1)
            }
        }
        (previousPrevious, previous, current) = (previous, current, previousPrevious)
    }
    return previous[b.count]
}
