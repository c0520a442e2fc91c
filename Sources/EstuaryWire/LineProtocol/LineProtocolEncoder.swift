import EstuaryModel

/// What the encoder changed or left out so that InfluxDB 1.x accepts every line it writes.
public struct LineProtocolEncodeReport: Sendable, Hashable {
    /// Points written.
    public var points = 0
    /// Points left out: empty measurement, or no field left to write.
    public var droppedPoints = 0
    /// Fields left out: NaN or ±Inf floats, empty keys.
    public var droppedFields = 0
    /// Tags left out: empty key or empty value (InfluxDB rejects `k=`).
    public var droppedTags = 0
    /// Names changed: keys named `time`, trailing backslashes, newlines, a leading `#`.
    public var rewrittenNames = 0

    public init() {}

    public static func += (lhs: inout LineProtocolEncodeReport, rhs: LineProtocolEncodeReport) {
        lhs.points += rhs.points
        lhs.droppedPoints += rhs.droppedPoints
        lhs.droppedFields += rhs.droppedFields
        lhs.droppedTags += rhs.droppedTags
        lhs.rewrittenNames += rhs.rewrittenNames
    }
}

/// Writes points as InfluxDB line protocol (nanosecond timestamps), escaping per the
/// InfluxDB spec, tags sorted by key, and never a line InfluxDB 1.6.7 rejects:
///
/// - a tag with an empty key or value is left out (InfluxDB: `missing tag value`);
/// - NaN and ±Inf fields are left out, and so is a point with no field left;
/// - a tag or field key named `time` is written as `time_` (InfluxDB rejects `time`);
/// - trailing backslashes of a measurement, key or tag value become `_` (a trailing `\`
///   would escape the separator after it, and InfluxDB cannot store it at all);
/// - CR and LF in names become `_`; in string field values they are written as `\r`/`\n`
///   (two characters), since line protocol has no newline escape;
/// - a measurement starting with `#` (a comment line), or a measurement or field key
///   starting with a tab or NUL (which InfluxDB skips as white space), starts with `_`;
/// - unsigned fields are written as integers (`i`) when they fit in Int64, else as floats
///   (InfluxDB 1.x has no `u`);
/// - duplicate tag keys or field keys: the last one wins.
///
/// Floats are written in their shortest round-trip form (integral values without a
/// fraction, which InfluxDB stores as floats all the same).
public struct LineProtocolEncoder: Sendable {
    public init() {}

    /// Appends the line for `point` (with its trailing `\n`) to `buffer`, unless the point
    /// cannot be written; the report says what happened.
    public func encode<Sink: ByteSink>(_ point: Point, into buffer: inout Sink, report: inout LineProtocolEncodeReport) {
        let start = buffer.byteCount
        if point.measurement.isEmpty {
            report.droppedPoints += 1
            return
        }
        if !appendClean(point.measurement, kind: .measurement, into: &buffer) {
            writeName(point.measurement, kind: .measurement, into: &buffer, report: &report)
        }

        // Tags, sorted by key (byte order), last duplicate winning, empty ones left out.
        // Optimistically written as they are; redone the slow way if anything needs care.
        if !point.tags.isEmpty {
            let tagsStart = buffer.byteCount
            var clean = true
            var index = 0
            let tags = point.tags
            while index < tags.count {
                let tag = tags[index]
                if index > 0 && !Self.less(tags[index - 1].key, tag.key) {
                    clean = false
                    break
                }
                buffer.appendByte(UInt8(ascii: ","))
                guard appendClean(tag.key, kind: .tagKey, into: &buffer) else {
                    clean = false
                    break
                }
                buffer.appendByte(UInt8(ascii: "="))
                guard appendClean(tag.value, kind: .tagValue, into: &buffer) else {
                    clean = false
                    break
                }
                index += 1
            }
            if !clean {
                buffer.truncate(to: tagsStart)
                for tag in cleanTags(point.tags, report: &report) {
                    buffer.appendByte(UInt8(ascii: ","))
                    writeEscaped(tag.key, kind: .tagKey, into: &buffer)
                    buffer.appendByte(UInt8(ascii: "="))
                    writeEscaped(tag.value, kind: .tagValue, into: &buffer)
                }
            }
        }

        buffer.appendByte(UInt8(ascii: " "))
        var wroteField = false
        if point.fields.count == 1 {
            let field = point.fields[0]
            if !field.key.isEmpty, field.value.isWritable {
                if !appendClean(field.key, kind: .fieldKey, into: &buffer) {
                    writeName(field.key, kind: .fieldKey, into: &buffer, report: &report)
                }
                buffer.appendByte(UInt8(ascii: "="))
                writeValue(field.value, into: &buffer)
                wroteField = true
            } else {
                report.droppedFields += 1
            }
        } else {
            for field in cleanFields(point.fields, report: &report) {
                if wroteField { buffer.appendByte(UInt8(ascii: ",")) }
                writeEscaped(field.key, kind: .fieldKey, into: &buffer)
                buffer.appendByte(UInt8(ascii: "="))
                writeValue(field.value, into: &buffer)
                wroteField = true
            }
        }
        if !wroteField {
            buffer.truncate(to: start)
            report.droppedPoints += 1
            return
        }
        buffer.appendByte(UInt8(ascii: " "))
        appendDecimal(point.timestamp, into: &buffer)
        buffer.appendByte(UInt8(ascii: "\n"))
        report.points += 1
    }

    /// What the encoder writes for `point`, as a point: names rewritten, empty tags and
    /// unwritable fields left out, tags sorted and duplicates resolved, unsigned values as
    /// integers or floats. Nil when the point is not written at all. Parsing the encoded
    /// line gives this point back (the round-trip property the tests and fuzzer check).
    public func written(_ point: Point) -> Point? {
        var report = LineProtocolEncodeReport()
        if point.measurement.isEmpty { return nil }
        let measurement = rewritten(point.measurement, kind: .measurement, report: &report)
        let tags = cleanTags(point.tags, report: &report)
        let fields = cleanFields(point.fields, report: &report).map { field -> Field in
            switch field.value {
            case .unsigned(let v):
                return Field(field.key, v <= UInt64(Int64.max) ? .integer(Int64(v)) : .float(Double(v)))
            case .string(let s):
                var bytes: [UInt8] = []
                for byte in s.utf8 {
                    switch byte {
                    case UInt8(ascii: "\n"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
                    case UInt8(ascii: "\r"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
                    default: bytes.append(byte)
                    }
                }
                return Field(field.key, .string(String(decoding: bytes, as: UTF8.self)))
            default:
                return field
            }
        }
        if fields.isEmpty { return nil }
        return Point(measurement: measurement, tags: tags, fields: fields, timestamp: point.timestamp)
    }

    /// Appends the lines of `points` to `buffer`.
    @discardableResult
    public func encode<Sink: ByteSink>(_ points: [Point], into buffer: inout Sink) -> LineProtocolEncodeReport {
        var report = LineProtocolEncodeReport()
        for point in points { encode(point, into: &buffer, report: &report) }
        return report
    }

    /// The lines of `points` as a String (for printing and tests).
    public func string(_ points: [Point]) -> String {
        var buffer: [UInt8] = []
        encode(points, into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }

    // MARK: - Pieces

    /// The hot path: appends `name` with its escapes in one pass over its bytes, unless it is
    /// empty or needs a rewrite (then nothing is appended and the result is false).
    @inline(__always)
    private func appendClean<Sink: ByteSink>(_ name: String, kind: NameKind, into buffer: inout Sink) -> Bool {
        let result = name.utf8.withContiguousStorageIfAvailable { Self.appendClean($0, kind: kind, into: &buffer) }
        return result ?? false
    }

    /// Appends a measurement, key or tag value given as bytes, with its escapes, unless it
    /// is empty or needs one of the encoder's rewrites: then it appends nothing and returns
    /// false, and the caller takes the general path (`encode(_:into:report:)`).
    @inline(__always)
    static func appendClean<Sink: ByteSink>(_ bytes: UnsafeBufferPointer<UInt8>, kind: NameKind, into buffer: inout Sink) -> Bool {
        let count = bytes.count
        guard count > 0 else { return false }
        var escapes = 0
        for byte in bytes where byte <= 0x3D {
            switch byte {
            case UInt8(ascii: ","), UInt8(ascii: " "): escapes += 1
            case UInt8(ascii: "="): if kind != .measurement { escapes += 1 }
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"): return false
            default: break
            }
        }
        if bytes[count - 1] == UInt8(ascii: "\\") { return false }
        switch kind {
        case .measurement:
            let first = bytes[0]
            if first == UInt8(ascii: "#") || first == UInt8(ascii: "\t") || first == 0 { return false }
        case .fieldKey:
            let first = bytes[0]
            if first == UInt8(ascii: "\t") || first == 0 || isTime(bytes) { return false }
        case .tagKey:
            if isTime(bytes) { return false }
        case .tagValue:
            break
        }
        if escapes == 0 {
            buffer.appendBytes(bytes)
        } else {
            buffer.reserveBytes(count + escapes)
            for byte in bytes {
                if kind.needsEscape(byte) { buffer.appendByte(UInt8(ascii: "\\")) }
                buffer.appendByte(byte)
            }
        }
        return true
    }

    /// `appendClean` for a String.
    @inline(__always)
    static func appendClean<Sink: ByteSink>(_ name: String, kind: NameKind, into buffer: inout Sink) -> Bool {
        name.utf8.withContiguousStorageIfAvailable { appendClean($0, kind: kind, into: &buffer) } ?? false
    }

    /// Appends ` <timestamp>\n`, the end of every line.
    @inline(__always)
    static func appendTimestamp<Sink: ByteSink>(_ timestamp: Int64, into buffer: inout Sink) {
        buffer.appendByte(UInt8(ascii: " "))
        appendDecimal(timestamp, into: &buffer)
        buffer.appendByte(UInt8(ascii: "\n"))
    }

    @inline(__always)
    private static func isTime(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        bytes.count == 4 && bytes[0] == UInt8(ascii: "t") && bytes[1] == UInt8(ascii: "i")
            && bytes[2] == UInt8(ascii: "m") && bytes[3] == UInt8(ascii: "e")
    }

    /// Tags rewritten, empty ones left out, sorted by key bytes, the last of a key winning.
    private func cleanTags(_ tags: [Tag], report: inout LineProtocolEncodeReport) -> [Tag] {
        var cleaned: [Tag] = []
        cleaned.reserveCapacity(tags.count)
        for tag in tags {
            if tag.key.isEmpty || tag.value.isEmpty {
                report.droppedTags += 1
                continue
            }
            cleaned.append(Tag(rewritten(tag.key, kind: .tagKey, report: &report),
                               rewritten(tag.value, kind: .tagValue, report: &report)))
        }
        let sorted = cleaned.enumerated().sorted { a, b in
            if a.element.key == b.element.key { return a.offset < b.offset }
            return Self.less(a.element.key, b.element.key)
        }.map(\.element)
        var result: [Tag] = []
        result.reserveCapacity(sorted.count)
        for tag in sorted {
            if let last = result.last, last.key == tag.key {
                result[result.count - 1] = tag
            } else {
                result.append(tag)
            }
        }
        return result
    }

    /// Fields rewritten, unwritable ones left out, the last of a key winning (in place).
    private func cleanFields(_ fields: [Field], report: inout LineProtocolEncodeReport) -> [Field] {
        var result: [Field] = []
        result.reserveCapacity(fields.count)
        for field in fields {
            if field.key.isEmpty || !field.value.isWritable {
                report.droppedFields += 1
                continue
            }
            let key = rewritten(field.key, kind: .fieldKey, report: &report)
            if let index = result.firstIndex(where: { $0.key == key }) {
                result[index].value = field.value
            } else {
                result.append(Field(key, field.value))
            }
        }
        return result
    }

    /// Byte-wise comparison, the order InfluxDB sorts tag keys in.
    @inline(__always)
    static func less(_ a: String, _ b: String) -> Bool {
        let fast = a.utf8.withContiguousStorageIfAvailable { x in
            b.utf8.withContiguousStorageIfAvailable { y -> Bool in
                let n = min(x.count, y.count)
                var i = 0
                while i < n {
                    if x[i] != y[i] { return x[i] < y[i] }
                    i += 1
                }
                return x.count < y.count
            }
        }
        if let fast, let result = fast { return result }
        return a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    enum NameKind {
        case measurement, tagKey, tagValue, fieldKey

        @inline(__always)
        func needsEscape(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: ","), UInt8(ascii: " "): return true
            case UInt8(ascii: "="): return self != .measurement
            default: return false
            }
        }
    }

    /// Whether a name must be changed before it can be written (escapes aside): `time` as a
    /// key, CR or LF anywhere, a trailing backslash, or a first byte InfluxDB would skip or
    /// read as a comment (tab, NUL, and `#` for measurements).
    @inline(__always)
    func needsRewrite(_ name: String, kind: NameKind) -> Bool {
        var last: UInt8 = 0
        for byte in name.utf8 {
            if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") { return true }
            last = byte
        }
        if last == UInt8(ascii: "\\") { return true }
        switch kind {
        case .measurement:
            let first = name.utf8.first
            return first == UInt8(ascii: "#") || first == UInt8(ascii: "\t") || first == 0
        case .fieldKey:
            let first = name.utf8.first
            return first == UInt8(ascii: "\t") || first == 0 || name == "time"
        case .tagKey:
            return name == "time"
        case .tagValue:
            return false
        }
    }

    /// The name after the rewrites `needsRewrite` asks for.
    func rewritten(_ name: String, kind: NameKind, report: inout LineProtocolEncodeReport) -> String {
        guard needsRewrite(name, kind: kind) else { return name }
        report.rewrittenNames += 1
        var bytes = Array(name.utf8)
        if (kind == .tagKey || kind == .fieldKey) && name == "time" { bytes.append(UInt8(ascii: "_")) }
        if kind == .measurement || kind == .fieldKey, let first = bytes.first,
           first == UInt8(ascii: "\t") || first == 0 || (kind == .measurement && first == UInt8(ascii: "#")) {
            bytes[0] = UInt8(ascii: "_")
        }
        for i in bytes.indices where bytes[i] == UInt8(ascii: "\n") || bytes[i] == UInt8(ascii: "\r") {
            bytes[i] = UInt8(ascii: "_")
        }
        var end = bytes.count - 1
        while end >= 0 && bytes[end] == UInt8(ascii: "\\") {
            bytes[end] = UInt8(ascii: "_")
            end -= 1
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Writes a measurement, key or tag value, rewriting it first if it must be.
    @inline(__always)
    private func writeName<Sink: ByteSink>(_ name: String, kind: NameKind, into buffer: inout Sink, report: inout LineProtocolEncodeReport) {
        if needsRewrite(name, kind: kind) {
            writeEscaped(rewritten(name, kind: kind, report: &report), kind: kind, into: &buffer)
        } else {
            writeEscaped(name, kind: kind, into: &buffer)
        }
    }

    /// Writes a name with a backslash before each byte that needs one.
    @inline(__always)
    func writeEscaped<Sink: ByteSink>(_ name: String, kind: NameKind, into buffer: inout Sink) {
        var clean = true
        for byte in name.utf8 where kind.needsEscape(byte) {
            clean = false
            break
        }
        if clean {
            buffer.appendString(name)
            return
        }
        for byte in name.utf8 {
            if kind.needsEscape(byte) { buffer.appendByte(UInt8(ascii: "\\")) }
            buffer.appendByte(byte)
        }
    }

    @inline(__always)
    func writeValue<Sink: ByteSink>(_ value: FieldValue, into buffer: inout Sink) {
        switch value {
        case .float(let v):
            appendFloat(v, into: &buffer)
        case .integer(let v):
            appendDecimal(v, into: &buffer)
            buffer.appendByte(UInt8(ascii: "i"))
        case .unsigned(let v):
            if v <= UInt64(Int64.max) {
                appendDecimal(Int64(v), into: &buffer)
                buffer.appendByte(UInt8(ascii: "i"))
            } else {
                appendFloat(Double(v), into: &buffer)
            }
        case .boolean(let v):
            buffer.appendString(v ? "true" : "false")
        case .string(let s):
            buffer.appendByte(UInt8(ascii: "\""))
            for byte in s.utf8 {
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                    buffer.appendByte(UInt8(ascii: "\\"))
                    buffer.appendByte(byte)
                case UInt8(ascii: "\n"):
                    buffer.appendByte(UInt8(ascii: "\\"))
                    buffer.appendByte(UInt8(ascii: "n"))
                case UInt8(ascii: "\r"):
                    buffer.appendByte(UInt8(ascii: "\\"))
                    buffer.appendByte(UInt8(ascii: "r"))
                default:
                    buffer.appendByte(byte)
                }
            }
            buffer.appendByte(UInt8(ascii: "\""))
        }
    }
}

/// Appends the decimal digits of `value`.
@inlinable @inline(__always)
func appendDecimal<Sink: ByteSink>(_ value: Int64, into buffer: inout Sink) {
    if value < 0 {
        buffer.appendByte(UInt8(ascii: "-"))
        appendDecimal(UInt64(0) &- UInt64(bitPattern: value), into: &buffer)
    } else {
        appendDecimal(UInt64(value), into: &buffer)
    }
}

@inlinable @inline(__always)
func appendDecimal<Sink: ByteSink>(_ value: UInt64, into buffer: inout Sink) {
    if value < 10 {
        buffer.appendByte(UInt8(truncatingIfNeeded: value) &+ 48)
        return
    }
    // Two digits at a time from a table of "00"..."99".
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
        var v = value
        var i = 20
        while v >= 100 {
            let (q, r) = v.quotientAndRemainder(dividingBy: 100)
            i -= 2
            digits[i] = decimalPairs[Int(r) &* 2]
            digits[i + 1] = decimalPairs[Int(r) &* 2 &+ 1]
            v = q
        }
        if v >= 10 {
            i -= 2
            digits[i] = decimalPairs[Int(v) &* 2]
            digits[i + 1] = decimalPairs[Int(v) &* 2 &+ 1]
        } else {
            i -= 1
            digits[i] = UInt8(truncatingIfNeeded: v) &+ 48
        }
        buffer.appendBytes(UnsafeBufferPointer(rebasing: digits[i..<20]))
    }
}

/// "00", "01", ..., "99" as 200 bytes.
@usableFromInline
let decimalPairsText: StaticString = "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"
@usableFromInline
var decimalPairs: UnsafePointer<UInt8> {
    @inlinable @inline(__always) get { decimalPairsText.utf8Start }
}

/// Appends a finite double in its shortest round-trip form; integral values up to 2^53
/// are written as plain integers.
@inlinable @inline(__always)
func appendFloat<Sink: ByteSink>(_ value: Double, into buffer: inout Sink) {
    if value == value.rounded(.towardZero) && abs(value) < 9_007_199_254_740_992 {
        appendDecimal(Int64(value), into: &buffer)
        return
    }
    buffer.appendString(value.description)
}

extension FieldValue {
    /// Whether line protocol can carry the value (not NaN or ±Inf).
    @inline(__always)
    var isWritable: Bool {
        if case .float(let v) = self { return v.isFinite }
        if case .unsigned(let v) = self, v > UInt64(Int64.max) { return Double(v).isFinite }
        return true
    }
}
