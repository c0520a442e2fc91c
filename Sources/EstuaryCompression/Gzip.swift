import CZlib

/// Why a gzip operation failed. Every case carries zlib's return code where there is one.
public enum GzipError: Error, Equatable, Sendable {
    /// zlib could not set up a stream (`Z_MEM_ERROR`, `Z_VERSION_ERROR`, `Z_STREAM_ERROR`).
    case initializationFailed(code: Int32)
    /// The input is not gzip, or is damaged (bad header, bad CRC or length, invalid deflate data).
    case corruptData(code: Int32, message: String)
    /// The input ended before the end of the gzip stream.
    case truncated
    /// Decompressing would produce more than the caller's limit.
    case outputTooLarge(limit: Int)
    /// deflate failed while compressing (out of memory).
    case compressionFailed(code: Int32)
}

/// gzip (RFC 1952) through zlib: what `Content-Encoding: gzip` means on an HTTP request body.
///
/// Level 1 is the default on purpose: on the write path it compresses a 5,000-line batch of
/// line protocol at about 2.4 times the speed of level 6 (notes/swift-linux.md), and line
/// protocol compresses well at any level.
public enum Gzip {
    /// windowBits 15 (32 KiB window) + 16: write a gzip header and trailer instead of zlib's.
    static let gzipWindowBits: Int32 = 31
    /// windowBits 15 + 32: accept gzip or zlib headers when reading.
    static let autoDetectWindowBits: Int32 = 47

    /// Compresses `bytes` into one gzip member at `level` (0–9; 1 is fastest).
    ///
    /// zlib only fails here when it cannot allocate memory, where Swift itself would trap too;
    /// `compressChecked` reports that as an error instead.
    public static func compress(_ bytes: UnsafeRawBufferPointer, level: Int32 = 1) -> [UInt8] {
        do {
            return try compressChecked(bytes, level: level)
        } catch {
            fatalError("zlib could not compress (\(error)): out of memory")
        }
    }

    /// Compresses an array of bytes into one gzip member.
    public static func compress(_ bytes: [UInt8], level: Int32 = 1) -> [UInt8] {
        bytes.withUnsafeBytes { compress($0, level: level) }
    }

    /// Like `compress`, but reports zlib's failures as a typed error.
    public static func compressChecked(_ bytes: UnsafeRawBufferPointer, level: Int32 = 1) throws(GzipError) -> [UInt8] {
        try deflateAll(bytes, level: level, windowBits: gzipWindowBits)
    }

    /// One deflate stream over all of `bytes`, framed as `windowBits` says (gzip or zlib).
    static func deflateAll(_ bytes: UnsafeRawBufferPointer, level: Int32, windowBits: Int32) throws(GzipError) -> [UInt8] {
        var stream = z_stream()
        let clampedLevel = min(max(level, 0), 9)
        let initCode = estuary_deflateInit2(&stream, clampedLevel, windowBits, 8)
        guard initCode == Z_OK else { throw .initializationFailed(code: initCode) }
        defer { deflateEnd(&stream) }

        // deflateBound covers the whole input for one Z_FINISH call; grow anyway if zlib asks.
        let bound = Int(deflateBound(&stream, uLong(bytes.count)))
        var output = [UInt8](repeating: 0, count: max(bound, 64))
        var produced = 0
        var consumed = 0
        let maxChunk = Int(UInt32.max / 2)

        while true {
            let inputLeft = bytes.count - consumed
            let chunk = min(inputLeft, maxChunk)
            let flush = (chunk == inputLeft) ? Z_FINISH : Z_NO_FLUSH
            if output.count - produced < 64 {
                output.append(contentsOf: repeatElement(0, count: max(output.count / 2, 4096)))
            }
            let code: Int32 = output.withUnsafeMutableBytes { out in
                stream.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self) + produced
                stream.avail_out = uInt(min(out.count - produced, maxChunk))
                if let base = bytes.baseAddress {
                    stream.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: Bytef.self) + consumed)
                } else {
                    stream.next_in = nil
                }
                stream.avail_in = uInt(chunk)
                let outBefore = stream.avail_out
                let inBefore = stream.avail_in
                let code = deflate(&stream, flush)
                produced += Int(outBefore - stream.avail_out)
                consumed += Int(inBefore - stream.avail_in)
                return code
            }
            if code == Z_STREAM_END { break }
            guard code == Z_OK || code == Z_BUF_ERROR else { throw .compressionFailed(code: code) }
        }
        output.removeSubrange(produced...)
        return output
    }

    /// Decompresses gzip data (one or more concatenated members; a zlib stream is accepted too).
    ///
    /// - Parameter limit: the most bytes the output may have; more throws `outputTooLarge`.
    public static func decompress(_ bytes: [UInt8], limit: Int = Int.max) throws(GzipError) -> [UInt8] {
        if bytes.isEmpty { throw .truncated }
        var stream = z_stream()
        let initCode = estuary_inflateInit2(&stream, autoDetectWindowBits)
        guard initCode == Z_OK else { throw .initializationFailed(code: initCode) }
        defer { inflateEnd(&stream) }

        // The output never grows past limit + 1 bytes: one byte more than allowed proves "too large".
        let cap = limit < Int.max ? max(limit, 0) + 1 : Int.max
        var output = [UInt8](repeating: 0, count: min(max(bytes.count.multipliedReportingOverflow(by: 4).partialValue, 4096), cap))
        var produced = 0
        var consumed = 0
        let maxChunk = Int(UInt32.max / 2)

        while true {
            if output.count - produced == 0 {
                let grow = min(output.count, cap - output.count)
                if grow <= 0 { throw .outputTooLarge(limit: limit) }
                output.append(contentsOf: repeatElement(0, count: grow))
            }
            let (code, message): (Int32, String) = bytes.withUnsafeBytes { input in
                output.withUnsafeMutableBytes { out in
                    stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: Bytef.self) + consumed)
                    stream.avail_in = uInt(min(input.count - consumed, maxChunk))
                    stream.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self) + produced
                    stream.avail_out = uInt(min(out.count - produced, maxChunk))
                    let inBefore = stream.avail_in
                    let outBefore = stream.avail_out
                    let code = inflate(&stream, Z_NO_FLUSH)
                    consumed += Int(inBefore - stream.avail_in)
                    produced += Int(outBefore - stream.avail_out)
                    let message = stream.msg.map { String(cString: $0) } ?? ""
                    return (code, message)
                }
            }
            if produced > limit { throw .outputTooLarge(limit: limit) }
            switch code {
            case Z_STREAM_END:
                if consumed == bytes.count {
                    output.removeSubrange(produced...)
                    return output
                }
                // Another gzip member follows (RFC 1952 allows concatenation).
                guard inflateReset(&stream) == Z_OK else { throw .corruptData(code: Z_STREAM_ERROR, message: "reset failed") }
            case Z_OK:
                continue
            case Z_BUF_ERROR:
                // No progress possible: either the output is full (grow at the loop top) or the
                // input ran out before the end of the stream.
                if consumed == bytes.count && produced < output.count { throw .truncated }
            case Z_NEED_DICT, Z_DATA_ERROR:
                throw .corruptData(code: code, message: message)
            case Z_MEM_ERROR:
                throw .initializationFailed(code: code)
            default:
                throw .corruptData(code: code, message: message)
            }
        }
    }
}
