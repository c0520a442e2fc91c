import CZlib

/// The zlib format (RFC 1950: a 2-byte header, deflate data, an Adler-32 trailer) through zlib:
/// what the spool stores record payloads in. Smaller than gzip's framing by 12 bytes, which
/// matters for records of a few hundred bytes.
public enum Zlib {
    /// windowBits 15: a 32 KiB window with zlib's header and trailer.
    static let zlibWindowBits: Int32 = 15

    /// Compresses `bytes` into one zlib stream at `level` (0–9; 1 is fastest).
    public static func compress(_ bytes: UnsafeRawBufferPointer, level: Int32 = 1) throws(GzipError) -> [UInt8] {
        try Gzip.deflateAll(bytes, level: level, windowBits: zlibWindowBits)
    }

    /// Compresses an array of bytes into one zlib stream.
    public static func compress(_ bytes: [UInt8], level: Int32 = 1) throws(GzipError) -> [UInt8] {
        let result: Result<[UInt8], GzipError> = bytes.withUnsafeBytes { buffer in
            do throws(GzipError) {
                return .success(try compress(buffer, level: level))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Decompresses one zlib stream (a gzip member is accepted too) of at most `limit` bytes.
    public static func decompress(_ bytes: [UInt8], limit: Int = Int.max) throws(GzipError) -> [UInt8] {
        try Gzip.decompress(bytes, limit: limit)
    }

    /// Decompresses one zlib stream that must inflate to exactly `length` bytes (the spool
    /// records the length): one buffer, one `inflate` call.
    public static func decompress(_ bytes: [UInt8], exactLength length: Int) throws(GzipError) -> [UInt8] {
        guard !bytes.isEmpty else { throw .truncated }
        guard length >= 0, length < Int(UInt32.max), bytes.count < Int(UInt32.max) else { throw .outputTooLarge(limit: length) }
        var stream = z_stream()
        let initCode = estuary_inflateInit2(&stream, zlibWindowBits)
        guard initCode == Z_OK else { throw .initializationFailed(code: initCode) }
        defer { inflateEnd(&stream) }
        // One byte more than expected: a stream that goes on past `length` is caught.
        var output = [UInt8](repeating: 0, count: length + 1)
        let (code, produced, message): (Int32, Int, String) = bytes.withUnsafeBytes { input in
            output.withUnsafeMutableBytes { out in
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: Bytef.self))
                stream.avail_in = uInt(input.count)
                stream.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.avail_out = uInt(out.count)
                let code = inflate(&stream, Z_FINISH)
                let message = stream.msg.map { String(cString: $0) } ?? ""
                return (code, out.count - Int(stream.avail_out), message)
            }
        }
        switch code {
        case Z_STREAM_END:
            guard produced == length else { throw .corruptData(code: code, message: "\(produced) bytes, not \(length)") }
            output.removeLast()
            return output
        case Z_BUF_ERROR:
            // Out of input before the end, or out of room: more than `length`.
            if produced > length { throw .outputTooLarge(limit: length) }
            throw .truncated
        case Z_OK:
            throw .outputTooLarge(limit: length)
        case Z_MEM_ERROR:
            throw .initializationFailed(code: code)
        default:
            throw .corruptData(code: code, message: message)
        }
    }
}

/// CRC-32 (the IEEE polynomial of gzip, PNG and Ethernet) through zlib's `crc32`, which uses
/// slicing tables: about a gigabyte per second per core.
public enum CRC32 {
    /// The CRC-32 of `bytes`, continuing from `seed` (the CRC of the bytes before them; 0 to start).
    public static func checksum(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return seed }
        var crc = uLong(seed)
        var offset = 0
        // crc32 takes a uInt length: feed very large buffers in pieces.
        while offset < bytes.count {
            let chunk = min(bytes.count - offset, Int(UInt32.max / 2))
            crc = crc32(crc, base.assumingMemoryBound(to: Bytef.self) + offset, uInt(chunk))
            offset += chunk
        }
        return UInt32(truncatingIfNeeded: crc)
    }

    /// The CRC-32 of an array of bytes.
    public static func checksum(_ bytes: [UInt8], seed: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, seed: seed) }
    }
}
