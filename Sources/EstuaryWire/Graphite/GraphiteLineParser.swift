import EstuaryModel

/// Why a graphite plaintext line was not turned into a point.
public enum GraphiteRejectionReason: Error, Sendable, Hashable, CustomStringConvertible {
    /// Longer than the listener's maximum line length.
    case lineTooLong(length: Int, limit: Int)
    /// Only a path, no value.
    case missingValue
    /// The value is not a number.
    case invalidValue
    /// The timestamp is not a number.
    case invalidTimestamp
    /// The timestamp is outside what nanoseconds in an Int64 can hold (years 1677–2262);
    /// typically milliseconds sent where seconds are expected.
    case timestampOutOfRange
    /// More than `path value timestamp`.
    case extraFields
    /// A Graphite 1.1 tag that is not `name=value` with both non-empty.
    case invalidTag
    /// An empty path (e.g. a line starting with `;`).
    case emptyPath
    /// `nan`, `inf`: InfluxDB cannot store them.
    case nonFiniteValue

    /// The counter label for this reason.
    public var code: String {
        switch self {
        case .lineTooLong: return "line_too_long"
        case .missingValue: return "missing_value"
        case .invalidValue: return "invalid_value"
        case .invalidTimestamp: return "invalid_timestamp"
        case .timestampOutOfRange: return "timestamp_out_of_range"
        case .extraFields: return "extra_fields"
        case .invalidTag: return "invalid_tag"
        case .emptyPath: return "empty_path"
        case .nonFiniteValue: return "non_finite"
        }
    }

    public var description: String {
        switch self {
        case .lineTooLong(let length, let limit): return "line of \(length) bytes is longer than the limit of \(limit)"
        case .missingValue: return "no value after the path"
        case .invalidValue: return "value is not a number"
        case .invalidTimestamp: return "timestamp is not a number"
        case .timestampOutOfRange: return "timestamp out of range (seconds expected)"
        case .extraFields: return "more than 'path value timestamp'"
        case .invalidTag: return "tag is not name=value"
        case .emptyPath: return "empty metric path"
        case .nonFiniteValue: return "value is NaN or infinite: no point"
        }
    }
}

/// A rejected graphite line: its number in the input (1-based) and the reason.
public struct GraphiteRejection: Sendable, Hashable, CustomStringConvertible {
    public var line: Int
    public var reason: GraphiteRejectionReason

    public init(line: Int, reason: GraphiteRejectionReason) {
        self.line = line
        self.reason = reason
    }

    public var description: String { "line \(line): \(reason)" }
}

/// One parsed plaintext line: byte ranges into the line for the path and its Graphite 1.1
/// tags, the value, and the timestamp in seconds (nil when missing or -1, meaning now).
public struct GraphiteLine: Sendable, Hashable {
    /// The metric path, without `;tags`.
    public var path: Range<Int>
    /// The `;name=value` part after the path (without the first `;`), empty when there are none.
    public var tags: Range<Int>
    public var value: Double
    /// The value's own text, when it is a plain decimal (`-?digits[.digits][e±digits]`) that line
    /// protocol can carry as it is: writers copy it instead of formatting the double again.
    public var plainValueText: Range<Int>?
    /// The timestamp in nanoseconds since the epoch; nil when missing or -1 (now).
    public var timestamp: Int64?

    /// The timestamp in seconds.
    public var seconds: Double? {
        timestamp.map { Double($0 / 1_000_000_000) + Double($0 % 1_000_000_000) / 1e9 }
    }
}

/// Parses graphite plaintext lines (`path value [timestamp]`) on bytes.
///
/// Fields are separated by spaces or tabs; leading white space and a trailing CR are
/// tolerated; the timestamp is in seconds, fractional allowed; a missing timestamp or `-1`
/// means now. Values that parse but are NaN or infinite are rejected (`nonFiniteValue`).
public struct GraphiteLineParser: Sendable {
    public init() {}

    /// Parses one line (without its `\n`). Blank lines give nil and no rejection.
    public func parse(_ line: UnsafeRawBufferPointer) -> Result<GraphiteLine, GraphiteRejectionReason>? {
        var end = line.count
        if end > 0 && line[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        var i = 0
        @inline(__always) func isBlank(_ b: UInt8) -> Bool { b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") }
        while i < end && isBlank(line[i]) { i += 1 }
        if i == end { return nil }

        // Path (and tags), up to the first blank: eight bytes at a time, as paths are long.
        let pathStart = i
        let bytes = line.baseAddress!
        i = scanPath(bytes, from: i, to: end)
        var semicolon = -1
        if i < end && line[i] == UInt8(ascii: ";") {
            semicolon = i
            while i < end && !isBlank(line[i]) { i += 1 }
        }
        let pathEnd = semicolon >= 0 ? semicolon : i
        let tags = semicolon >= 0 ? (semicolon + 1)..<i : i..<i
        if pathEnd == pathStart { return .failure(.emptyPath) }
        if semicolon >= 0 && !Self.validTags(line, tags) { return .failure(.invalidTag) }

        while i < end && isBlank(line[i]) { i += 1 }
        if i == end { return .failure(.missingValue) }
        let valueStart = i
        while i < end && !isBlank(line[i]) { i += 1 }
        let valueBytes = UnsafeRawBufferPointer(rebasing: line[valueStart..<i])
        guard let value = DecimalParsing.parseDouble(valueBytes) else {
            return .failure(.invalidValue)
        }

        while i < end && isBlank(line[i]) { i += 1 }
        var timestamp: Int64?
        if i < end {
            let timeStart = i
            while i < end && !isBlank(line[i]) { i += 1 }
            let timeBytes = UnsafeRawBufferPointer(rebasing: line[timeStart..<i])
            if let whole = Self.wholeSeconds(timeBytes) {
                // The common case: whole seconds, no floating point on the way to nanoseconds.
                if whole != -1 {
                    guard whole > -9_223_372_036, whole < 9_223_372_036 else { return .failure(.timestampOutOfRange) }
                    timestamp = whole &* 1_000_000_000
                }
            } else {
                guard let t = DecimalParsing.parseDouble(timeBytes), !t.isNaN else { return .failure(.invalidTimestamp) }
                if t != -1 {
                    guard t > -9_223_372_036, t < 9_223_372_036 else { return .failure(.timestampOutOfRange) }
                    timestamp = GraphiteDecoder.nanoseconds(t)
                }
            }
            while i < end && isBlank(line[i]) { i += 1 }
            if i < end { return .failure(.extraFields) }
        }
        if !value.isFinite { return .failure(.nonFiniteValue) }
        // Copying the text is safe when it reads back as the same double: normal numbers, and
        // zeros written as zeros (an underflow like 1e-400 is formatted instead).
        let plain: Range<Int>? = (value.isNormal || (value == 0 && !valueBytes.contains { $0 >= 49 && $0 <= 57 }))
            && Self.isPlainDecimal(valueBytes) ? valueStart..<(valueStart + valueBytes.count) : nil
        return .success(GraphiteLine(path: pathStart..<pathEnd, tags: tags, value: value, plainValueText: plain,
                                     timestamp: timestamp))
    }

    /// An optionally negative integer of at most 12 digits.
    @inline(__always)
    static func wholeSeconds(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        var i = 0
        var negative = false
        if bytes.count > 0 && bytes[0] == UInt8(ascii: "-") {
            negative = true
            i = 1
        }
        guard bytes.count > i, bytes.count - i <= 12 else { return nil }
        var value: Int64 = 0
        while i < bytes.count {
            let digit = bytes[i] &- 48
            guard digit < 10 else { return nil }
            value = value * 10 + Int64(digit)
            i += 1
        }
        return negative ? -value : value
    }

    /// `-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?`: a number InfluxDB reads as written.
    @inline(__always)
    static func isPlainDecimal(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        let n = bytes.count
        @inline(__always) func digits() -> Bool {
            let start = i
            while i < n && bytes[i] &- 48 < 10 { i += 1 }
            return i > start
        }
        if i < n && bytes[i] == UInt8(ascii: "-") { i += 1 }
        guard digits() else { return false }
        if i < n && bytes[i] == UInt8(ascii: ".") {
            i += 1
            guard digits() else { return false }
        }
        if i < n && (bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E")) {
            i += 1
            if i < n && (bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+")) { i += 1 }
            guard digits() else { return false }
        }
        return i == n
    }


    /// The offset of the first space, tab or `;` at or after `start` (or `end`).
    @inline(__always)
    private func scanPath(_ bytes: UnsafeRawPointer, from start: Int, to end: Int) -> Int {
        var i = start
        while i + 8 <= end {
            let word = bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            if hasZeroByte(word ^ 0x2020_2020_2020_2020) || hasZeroByte(word ^ 0x0909_0909_0909_0909)
                || hasZeroByte(word ^ 0x3B3B_3B3B_3B3B_3B3B) {
                break
            }
            i += 8
        }
        while i < end {
            let byte = bytes.load(fromByteOffset: i, as: UInt8.self)
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: ";") { return i }
            i += 1
        }
        return end
    }

    /// Every `;`-separated tag is `name=value` with both sides non-empty.
    private static func validTags(_ line: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        var start = range.lowerBound
        while start <= range.upperBound {
            var end = start
            while end < range.upperBound && line[end] != UInt8(ascii: ";") { end += 1 }
            var equals = -1
            for j in start..<end where line[j] == UInt8(ascii: "=") {
                equals = j
                break
            }
            if equals <= start || equals == end - 1 { return false }
            start = end + 1
        }
        return true
    }

    /// The tags of a parsed line, as model tags.
    public func tags(of line: GraphiteLine, in bytes: UnsafeRawBufferPointer) -> [Tag] {
        guard !line.tags.isEmpty else { return [] }
        var tags: [Tag] = []
        var start = line.tags.lowerBound
        while start < line.tags.upperBound {
            var end = start
            while end < line.tags.upperBound && bytes[end] != UInt8(ascii: ";") { end += 1 }
            var equals = start
            while bytes[equals] != UInt8(ascii: "=") { equals += 1 }
            tags.append(Tag(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<equals]), as: UTF8.self),
                            String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(equals + 1)..<end]), as: UTF8.self)))
            start = end + 1
        }
        return tags
    }
}
