import EstuaryCompression

/// The layout of one spool record: a fixed 36-byte header, then the payload (line protocol,
/// zlib-compressed). Every integer is little-endian.
///
/// ```
/// offset size  field
///      0    4  magic "ESPR"
///      4    2  format version (1)
///      6    2  flags (bit 0: payload is zlib-compressed; other bits 0)
///      8    4  payload length (bytes stored after the header)
///     12    4  line protocol length (bytes after decompression)
///     16    4  line count
///     20    4  CRC-32 (zlib's crc32) of the stored payload
///     24    8  receive time of the record's oldest line (wall clock, ns since the epoch)
///     32    4  CRC-32 of header bytes 0..<32
/// ```
///
/// The header's own CRC tells a damaged header from a damaged payload: with a good header the
/// records after a bad payload can still be found (its length is right), with a bad header
/// nothing after it in that segment can be trusted.
public struct SpoolRecordHeader: Equatable, Sendable {
    public static let magic: [UInt8] = Array("ESPR".utf8)
    /// The format this code writes and the newest it reads.
    public static let currentVersion: UInt16 = 1
    public static let size = 36
    /// Flag bit 0: the payload is a zlib stream.
    public static let compressedFlag: UInt16 = 1
    /// Neither length may pass this (a header claiming more is corrupt, whatever its CRC says).
    public static let maxLength = 1 << 30

    public var version: UInt16
    public var flags: UInt16
    public var payloadLength: Int
    public var rawLength: Int
    public var lines: Int
    public var payloadCRC: UInt32
    public var receivedAt: Int64

    public init(version: UInt16 = SpoolRecordHeader.currentVersion, flags: UInt16 = SpoolRecordHeader.compressedFlag,
                payloadLength: Int, rawLength: Int, lines: Int, payloadCRC: UInt32, receivedAt: Int64) {
        self.version = version
        self.flags = flags
        self.payloadLength = payloadLength
        self.rawLength = rawLength
        self.lines = lines
        self.payloadCRC = payloadCRC
        self.receivedAt = receivedAt
    }

    /// Header plus payload.
    public var recordLength: Int { Self.size + payloadLength }

    /// The 36 header bytes.
    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.size)
        bytes += Self.magic
        Self.append(UInt64(version), width: 2, to: &bytes)
        Self.append(UInt64(flags), width: 2, to: &bytes)
        Self.append(UInt64(payloadLength), width: 4, to: &bytes)
        Self.append(UInt64(rawLength), width: 4, to: &bytes)
        Self.append(UInt64(lines), width: 4, to: &bytes)
        Self.append(UInt64(payloadCRC), width: 4, to: &bytes)
        Self.append(UInt64(bitPattern: receivedAt), width: 8, to: &bytes)
        let crc = CRC32.checksum(bytes)
        Self.append(UInt64(crc), width: 4, to: &bytes)
        return bytes
    }

    /// Why 36 bytes are not a header this code can use.
    public enum Problem: Error, Equatable, Sendable, CustomStringConvertible {
        /// Fewer than 36 bytes.
        case truncated(available: Int)
        /// Not "ESPR".
        case badMagic
        /// Version 0, a header CRC mismatch, unknown flags or impossible lengths.
        case corruptHeader(String)
        /// A format newer than `currentVersion` (written by a newer Estuary).
        case newerVersion(UInt16)

        public var description: String {
            switch self {
            case .truncated(let available): return "truncated header (\(available) of \(SpoolRecordHeader.size) bytes)"
            case .badMagic: return "bad magic (not a spool record)"
            case .corruptHeader(let why): return "corrupt header: \(why)"
            case .newerVersion(let version):
                return "format version \(version), newer than this Estuary reads (\(SpoolRecordHeader.currentVersion))"
            }
        }
    }

    /// Reads a header from the first 36 bytes of `bytes`.
    public static func decode(_ bytes: ArraySlice<UInt8>) throws(Problem) -> SpoolRecordHeader {
        guard bytes.count >= size else { throw .truncated(available: bytes.count) }
        let b = bytes.startIndex
        guard bytes[b..<(b + 4)].elementsEqual(magic) else { throw .badMagic }
        func field(_ offset: Int, _ width: Int) -> UInt64 {
            var value: UInt64 = 0
            for i in (0..<width).reversed() { value = value << 8 | UInt64(bytes[b + offset + i]) }
            return value
        }
        let version = UInt16(field(4, 2))
        if version > currentVersion { throw .newerVersion(version) }
        if version == 0 { throw .corruptHeader("version 0") }
        let crc = bytes[b..<(b + 32)].withUnsafeBytes { CRC32.checksum($0) }
        guard UInt32(field(32, 4)) == crc else { throw .corruptHeader("header CRC mismatch") }
        let flags = UInt16(field(6, 2))
        guard flags & ~compressedFlag == 0 else { throw .corruptHeader("unknown flags \(flags)") }
        let header = SpoolRecordHeader(version: version, flags: flags, payloadLength: Int(field(8, 4)),
                                       rawLength: Int(field(12, 4)), lines: Int(field(16, 4)),
                                       payloadCRC: UInt32(field(20, 4)), receivedAt: Int64(bitPattern: field(24, 8)))
        guard header.payloadLength <= maxLength, header.rawLength <= maxLength else {
            throw .corruptHeader("length past \(maxLength) bytes")
        }
        if flags & compressedFlag == 0, header.rawLength != header.payloadLength {
            throw .corruptHeader("uncompressed payload of \(header.payloadLength) bytes claims \(header.rawLength)")
        }
        return header
    }

    public static func decode(_ bytes: [UInt8]) throws(Problem) -> SpoolRecordHeader {
        try decode(bytes[...])
    }

    private static func append(_ value: UInt64, width: Int, to bytes: inout [UInt8]) {
        for i in 0..<width { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(8 * i))) }
    }
}

/// One record made ready for the disk: header and payload in one buffer (one `write`).
struct EncodedSpoolRecord {
    var bytes: [UInt8]
    var header: SpoolRecordHeader

    /// Compresses `raw` (complete lines) into a record. Falls back to storing the lines as
    /// they are if zlib fails (it only fails without memory) or does not make them smaller.
    init(raw: [UInt8], lines: Int, receivedAt: Int64, level: Int32) {
        var payload = raw
        var flags: UInt16 = 0
        if let compressed = try? Zlib.compress(raw, level: level), compressed.count < raw.count {
            payload = compressed
            flags = SpoolRecordHeader.compressedFlag
        }
        header = SpoolRecordHeader(flags: flags, payloadLength: payload.count, rawLength: raw.count, lines: lines,
                                   payloadCRC: CRC32.checksum(payload), receivedAt: receivedAt)
        bytes = header.encoded()
        bytes.append(contentsOf: payload)
    }
}

/// The position the spool has delivered up to, kept in the file `cursor` so that a restart
/// does not send delivered records again: the first record not yet delivered is at `offset`
/// in segment `segment` (or the segment after it, when the offset is its end).
///
/// ```
/// offset size  field
///      0    4  magic "ESPC"
///      4    2  format version (1)
///      6    2  zero
///      8    8  segment number
///     16    8  byte offset in that segment
///     24    4  CRC-32 of bytes 0..<24
/// ```
struct SpoolCursor: Equatable {
    static let magic: [UInt8] = Array("ESPC".utf8)
    static let size = 28
    var segment: UInt64
    var offset: Int

    func encoded() -> [UInt8] {
        var bytes = Self.magic
        bytes += [1, 0, 0, 0]
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: segment >> UInt64(8 * i))) }
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: UInt64(offset) >> UInt64(8 * i))) }
        let crc = CRC32.checksum(bytes)
        for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: crc >> UInt32(8 * i))) }
        return bytes
    }

    /// nil when the bytes are not a cursor this code wrote (torn, damaged or another format).
    static func decode(_ bytes: [UInt8]) -> SpoolCursor? {
        guard bytes.count >= size, bytes[0..<4].elementsEqual(magic), bytes[4] == 1, bytes[5] == 0 else { return nil }
        func field(_ offset: Int, _ width: Int) -> UInt64 {
            var value: UInt64 = 0
            for i in (0..<width).reversed() { value = value << 8 | UInt64(bytes[offset + i]) }
            return value
        }
        guard UInt32(field(24, 4)) == CRC32.checksum(Array(bytes[0..<24])) else { return nil }
        let offset = field(16, 8)
        guard offset <= UInt64(Int.max) else { return nil }
        return SpoolCursor(segment: field(8, 8), offset: Int(offset))
    }
}
