import EstuaryModel

/// Which part of a line a name is (the escapes and rewrites differ).
public enum LineProtocolNameKind: Sendable {
    case measurement, tagKey, tagValue, fieldKey

    var internalKind: LineProtocolEncoder.NameKind {
        switch self {
        case .measurement: return .measurement
        case .tagKey: return .tagKey
        case .tagValue: return .tagValue
        case .fieldKey: return .fieldKey
        }
    }
}

/// The pieces of a line, for writers that build lines themselves without point objects
/// (the SNMP poller writes hundreds of lines per device from one escaped host and
/// interface name). Each piece follows the same rules as `LineProtocolEncoder.encode`, so
/// the lines are the ones the encoder would write for the same point.
public enum LineProtocolPieces {
    /// Appends a measurement, tag key, tag value or field key with its escapes (rewritten as
    /// the encoder rewrites it when it must be). Appends nothing and returns false for an
    /// empty name: the caller leaves the tag out.
    @discardableResult
    public static func appendName<Sink: ByteSink>(_ name: String, kind: LineProtocolNameKind, into buffer: inout Sink) -> Bool {
        if name.isEmpty { return false }
        if LineProtocolEncoder.appendClean(name, kind: kind.internalKind, into: &buffer) { return true }
        let encoder = LineProtocolEncoder()
        var report = LineProtocolEncodeReport()
        let clean = encoder.needsRewrite(name, kind: kind.internalKind)
            ? encoder.rewritten(name, kind: kind.internalKind, report: &report) : name
        encoder.writeEscaped(clean, kind: kind.internalKind, into: &buffer)
        return true
    }

    /// The escaped bytes of a name (for writers that keep them between lines); empty for an
    /// empty name.
    public static func escaped(_ name: String, kind: LineProtocolNameKind) -> [UInt8] {
        var bytes: [UInt8] = []
        appendName(name, kind: kind, into: &bytes)
        return bytes
    }

    /// Appends a field value as the encoder writes it; returns false (appending nothing)
    /// for NaN and ±Inf, which line protocol cannot carry.
    @discardableResult
    @inline(__always)
    public static func appendValue<Sink: ByteSink>(_ value: FieldValue, into buffer: inout Sink) -> Bool {
        guard value.isWritable else { return false }
        LineProtocolEncoder().writeValue(value, into: &buffer)
        return true
    }

    /// Appends a float value (finite only: the caller checks).
    @inlinable @inline(__always)
    public static func appendFloat<Sink: ByteSink>(_ value: Double, into buffer: inout Sink) {
        EstuaryWire.appendFloat(value, into: &buffer)
    }

    /// Appends an integer value with its `i`.
    @inlinable @inline(__always)
    public static func appendInteger<Sink: ByteSink>(_ value: Int64, into buffer: inout Sink) {
        appendDecimal(value, into: &buffer)
        buffer.appendByte(UInt8(ascii: "i"))
    }

    /// Appends ` <timestamp>\n`, the end of a line.
    @inlinable @inline(__always)
    public static func appendEnd<Sink: ByteSink>(timestamp: Int64, into buffer: inout Sink) {
        buffer.appendByte(UInt8(ascii: " "))
        appendDecimal(timestamp, into: &buffer)
        buffer.appendByte(UInt8(ascii: "\n"))
    }

    /// Appends a string field value in quotes, escaped as the encoder escapes it; text
    /// without a quote, backslash or line break is copied as it is.
    @inlinable
    public static func appendString<Sink: ByteSink>(_ value: String, into buffer: inout Sink) {
        var text = value
        let plain = text.withUTF8 { bytes -> Bool in
            for byte in bytes where byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte == 10 || byte == 13 {
                return false
            }
            buffer.appendByte(UInt8(ascii: "\""))
            buffer.appendBytes(bytes)
            buffer.appendByte(UInt8(ascii: "\""))
            return true
        }
        if !plain { appendValue(.string(value), into: &buffer) }
    }
}
