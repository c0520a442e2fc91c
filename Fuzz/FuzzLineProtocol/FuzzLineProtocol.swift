import EstuaryModel
import EstuaryWire

/// Builds a point from fuzzer bytes: names and values cut from the input, so that every
/// escape-worthy byte (comma, space, equals, quote, backslash, newline, `#`) turns up.
struct PointBuilder {
    var bytes: UnsafeRawBufferPointer
    var position = 0

    mutating func byte() -> UInt8? {
        guard position < bytes.count else { return nil }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func string() -> String {
        let length = Int(byte() ?? 0) % 12
        var result: [UInt8] = []
        for _ in 0..<length { if let b = byte() { result.append(b) } }
        return String(decoding: result, as: UTF8.self)
    }

    mutating func value() -> FieldValue {
        switch (byte() ?? 0) % 5 {
        case 0:
            var bits: UInt64 = 0
            for _ in 0..<8 { bits = bits << 8 | UInt64(byte() ?? 0) }
            return .float(Double(bitPattern: bits))
        case 1:
            var bits: UInt64 = 0
            for _ in 0..<8 { bits = bits << 8 | UInt64(byte() ?? 0) }
            return .integer(Int64(bitPattern: bits))
        case 2: return .boolean((byte() ?? 0) & 1 == 1)
        case 3:
            var bits: UInt64 = 0
            for _ in 0..<8 { bits = bits << 8 | UInt64(byte() ?? 0) }
            return .unsigned(bits)
        default: return .string(string())
        }
    }
}

/// libFuzzer entry: the line-protocol round trip. A point built from the input is encoded,
/// then parsed with Estuary's own parser; whatever the encoder wrote must parse back to the
/// point it was given, after the encoder's documented rewrites.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLineProtocol(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    var builder = PointBuilder(bytes: UnsafeRawBufferPointer(start: data, count: size))
    let measurement = builder.string()
    var tags: [Tag] = []
    for _ in 0..<Int((builder.byte() ?? 0) % 4) { tags.append(Tag(builder.string(), builder.string())) }
    var fields: [Field] = []
    for _ in 0..<Int((builder.byte() ?? 0) % 4) { fields.append(Field(builder.string(), builder.value())) }
    let point = Point(measurement: measurement, tags: tags, fields: fields, timestamp: Int64(size) * 1_000_003)

    var buffer: [UInt8] = []
    var report = LineProtocolEncodeReport()
    LineProtocolEncoder().encode(point, into: &buffer, report: &report)
    if buffer.isEmpty { return 0 }
    let (parsed, errors) = LineProtocolParser().parse(String(decoding: buffer, as: UTF8.self))
    guard errors.isEmpty, parsed.count == 1 else {
        fatalError("encoder wrote a line its parser rejects: \(String(decoding: buffer, as: UTF8.self)) \(errors)")
    }
    guard LineProtocolEncoder().written(point) == parsed[0] else {
        fatalError("round trip changed the point: \(point) -> \(parsed[0])")
    }
    return 0
}
