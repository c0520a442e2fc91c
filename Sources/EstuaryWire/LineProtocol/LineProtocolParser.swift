import EstuaryModel

/// Why a line of line protocol could not be parsed; `column` is the byte offset in the line.
public struct LineProtocolParseError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Reason: String, Error, Sendable, Hashable {
        case missingMeasurement = "missing measurement"
        case missingTagValue = "missing tag value"
        case invalidTag = "invalid tag format"
        case missingFields = "missing fields"
        case missingFieldValue = "missing field value"
        case invalidFieldKey = "invalid field key"
        case invalidNumber = "invalid number"
        case invalidBoolean = "invalid boolean"
        case unterminatedString = "unterminated string"
        case invalidTimestamp = "bad timestamp"
        case trailingData = "unexpected data after timestamp"
    }

    public var line: Int
    public var column: Int
    public var reason: Reason

    public var description: String { "line \(line), column \(column): \(reason.rawValue)" }
}

/// Parses InfluxDB line protocol into points, following InfluxDB 1.x's rules: `\` escapes
/// `,` and space in measurements, `,` `=` and space in keys and tag values, `"` and `\` in
/// string fields; a character counts as escaped when a backslash precedes it. Lines starting
/// with `#` and blank lines are skipped. A missing timestamp takes `defaultTimestamp`.
///
/// Estuary writes line protocol and does not read it from the network; this parser checks
/// the encoder (round trips, fuzzing) and reads golden files in tests.
public struct LineProtocolParser: Sendable {
    public init() {}

    /// Parses every line of `text`; good lines become points, bad ones errors.
    public func parse(_ text: String, defaultTimestamp: Int64 = 0) -> (points: [Point], errors: [LineProtocolParseError]) {
        var points: [Point] = []
        var errors: [LineProtocolParseError] = []
        var lineNumber = 0
        for line in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            let bytes = Array(line)
            var start = 0
            while start < bytes.count && (bytes[start] == UInt8(ascii: " ") || bytes[start] == UInt8(ascii: "\t") || bytes[start] == 0) {
                start += 1
            }
            if start == bytes.count || bytes[start] == UInt8(ascii: "#") { continue }
            switch parseLine(bytes[start...], defaultTimestamp: defaultTimestamp) {
            case .success(let point): points.append(point)
            case .failure(let error):
                var e = error
                e.line = lineNumber
                e.column += start
                errors.append(e)
            }
        }
        return (points, errors)
    }

    /// Parses a single line (no newline).
    public func parseLine(_ line: ArraySlice<UInt8>, defaultTimestamp: Int64 = 0) -> Result<Point, LineProtocolParseError> {
        var cursor = Cursor(bytes: Array(line))
        func fail(_ reason: LineProtocolParseError.Reason) -> Result<Point, LineProtocolParseError> {
            .failure(LineProtocolParseError(line: 0, column: cursor.position, reason: reason))
        }
        // Measurement: up to an unescaped comma or space.
        let measurement = cursor.scanName(stopAt: [UInt8(ascii: ","), UInt8(ascii: " ")], unescape: [UInt8(ascii: ","), UInt8(ascii: " ")])
        if measurement.isEmpty { return fail(.missingMeasurement) }
        var tags: [Tag] = []
        while cursor.peek == UInt8(ascii: ",") {
            cursor.position += 1
            let key = cursor.scanName(stopAt: [UInt8(ascii: "="), UInt8(ascii: ","), UInt8(ascii: " ")], unescape: Self.keyEscapes)
            guard cursor.peek == UInt8(ascii: "="), !key.isEmpty else { return fail(.invalidTag) }
            cursor.position += 1
            let value = cursor.scanName(stopAt: [UInt8(ascii: ","), UInt8(ascii: " "), UInt8(ascii: "=")], unescape: Self.keyEscapes)
            if cursor.peek == UInt8(ascii: "=") { return fail(.invalidTag) }
            if value.isEmpty { return fail(.missingTagValue) }
            tags.append(Tag(String(decoding: key, as: UTF8.self), String(decoding: value, as: UTF8.self)))
        }
        guard cursor.peek == UInt8(ascii: " ") else { return fail(.missingFields) }
        while cursor.peek == UInt8(ascii: " ") { cursor.position += 1 }
        var fields: [Field] = []
        repeat {
            if !fields.isEmpty { cursor.position += 1 }  // the comma
            let key = cursor.scanName(stopAt: [UInt8(ascii: "="), UInt8(ascii: ","), UInt8(ascii: " ")], unescape: Self.keyEscapes)
            guard !key.isEmpty, cursor.peek == UInt8(ascii: "=") else {
                return fail(key.isEmpty && cursor.atEnd ? .missingFields : .invalidFieldKey)
            }
            cursor.position += 1
            guard let value = cursor.scanFieldValue() else { return fail(.missingFieldValue) }
            switch value {
            case .success(let v): fields.append(Field(String(decoding: key, as: UTF8.self), v))
            case .failure(let reason): return fail(reason)
            }
        } while cursor.peek == UInt8(ascii: ",")
        var timestamp = defaultTimestamp
        if cursor.peek == UInt8(ascii: " ") {
            while cursor.peek == UInt8(ascii: " ") { cursor.position += 1 }
            if !cursor.atEnd {
                guard let t = cursor.scanInteger() else { return fail(.invalidTimestamp) }
                timestamp = t
                while cursor.peek == UInt8(ascii: " ") { cursor.position += 1 }
            }
        }
        guard cursor.atEnd else { return fail(.trailingData) }
        return .success(Point(measurement: String(decoding: measurement, as: UTF8.self), tags: tags, fields: fields,
                              timestamp: timestamp))
    }

    static let keyEscapes: [UInt8] = [UInt8(ascii: ","), UInt8(ascii: "="), UInt8(ascii: " ")]

    private struct Cursor {
        var bytes: [UInt8]
        var position = 0

        var atEnd: Bool { position >= bytes.count }
        var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

        /// Reads up to an unescaped stop byte, removing the backslash before escapable bytes.
        mutating func scanName(stopAt stops: [UInt8], unescape: [UInt8]) -> [UInt8] {
            var result: [UInt8] = []
            while position < bytes.count {
                let byte = bytes[position]
                if byte == UInt8(ascii: "\\"), position + 1 < bytes.count, unescape.contains(bytes[position + 1]) {
                    result.append(bytes[position + 1])
                    position += 2
                    continue
                }
                if stops.contains(byte) { break }
                result.append(byte)
                position += 1
            }
            return result
        }

        mutating func scanFieldValue() -> Result<FieldValue, LineProtocolParseError.Reason>? {
            guard let first = peek, first != UInt8(ascii: ","), first != UInt8(ascii: " ") else { return nil }
            if first == UInt8(ascii: "\"") {
                position += 1
                var result: [UInt8] = []
                while position < bytes.count {
                    let byte = bytes[position]
                    if byte == UInt8(ascii: "\\"), position + 1 < bytes.count,
                       bytes[position + 1] == UInt8(ascii: "\"") || bytes[position + 1] == UInt8(ascii: "\\") {
                        result.append(bytes[position + 1])
                        position += 2
                        continue
                    }
                    if byte == UInt8(ascii: "\"") {
                        position += 1
                        return .success(.string(String(decoding: result, as: UTF8.self)))
                    }
                    result.append(byte)
                    position += 1
                }
                return .failure(.unterminatedString)
            }
            let start = position
            while position < bytes.count && bytes[position] != UInt8(ascii: ",") && bytes[position] != UInt8(ascii: " ") {
                position += 1
            }
            let token = String(decoding: bytes[start..<position], as: UTF8.self)
            switch token {
            case "t", "T", "true", "True", "TRUE": return .success(.boolean(true))
            case "f", "F", "false", "False", "FALSE": return .success(.boolean(false))
            default: break
            }
            if token.hasSuffix("i") {
                guard let v = Int64(token.dropLast()) else { return .failure(.invalidNumber) }
                return .success(.integer(v))
            }
            if token.hasSuffix("u") {
                guard let v = UInt64(token.dropLast()) else { return .failure(.invalidNumber) }
                return .success(.unsigned(v))
            }
            guard let first = token.utf8.first, first == UInt8(ascii: "-") || first == UInt8(ascii: ".") || (first >= 48 && first <= 57) else {
                return .failure(.invalidBoolean)
            }
            guard let v = Double(token), v.isFinite else { return .failure(.invalidNumber) }
            return .success(.float(v))
        }

        mutating func scanInteger() -> Int64? {
            let start = position
            while position < bytes.count && bytes[position] != UInt8(ascii: " ") { position += 1 }
            return Int64(String(decoding: bytes[start..<position], as: UTF8.self))
        }
    }
}
