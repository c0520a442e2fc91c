#if canImport(Glibc)
import Glibc
#endif
import EstuaryCompression
import EstuaryRuntime
import Logging

/// When the spool's writes reach stable storage.
public enum SpoolFsync: Sendable, Equatable {
    /// `fdatasync` after every append (one per spill, not per record).
    case batch
    /// `fdatasync` at most this many seconds after an append (the owner calls `maintain`).
    case interval(Double)
}

/// How a spool is laid out and bounded.
public struct SpoolOptions: Sendable, Equatable {
    /// The spool's own directory (`<data_dir>/spool/<output name>`); made if missing.
    public var directory: String
    /// The most bytes its segment files may take on disk (`spool_size`). Beyond it the oldest
    /// records not yet read are dropped. While a request made from the oldest segment is in
    /// flight, that segment cannot be deleted yet, so the files may pass the bound by up to
    /// one segment for that long.
    public var maxBytes: Int
    /// Records whose oldest line was received longer ago than this many seconds are dropped
    /// instead of sent (`spool_max_age`); 0 keeps records of any age.
    public var maxAge: Double
    /// A segment file is closed and a new one started once it holds this many bytes.
    public var segmentBytes: Int
    public var fsync: SpoolFsync
    /// zlib level of record payloads (1: fastest).
    public var compressionLevel: Int32

    public init(directory: String, maxBytes: Int = 1 << 30, maxAge: Double = 72 * 3600, segmentBytes: Int = 16 << 20,
                fsync: SpoolFsync = .interval(1), compressionLevel: Int32 = 1) {
        self.directory = directory
        self.maxBytes = maxBytes
        self.maxAge = maxAge
        self.segmentBytes = segmentBytes
        self.fsync = fsync
        self.compressionLevel = compressionLevel
    }
}

/// The spool's self-metrics, in the `estuary_output` measurement of the output it belongs to.
public struct SpoolMetrics: Sendable {
    /// Bytes of segment files on disk.
    public let bytes: Gauge
    /// Segment files on disk.
    public let segments: Gauge
    /// Records on disk not yet delivered (read back or not).
    public let records: Gauge
    /// Lines written to the spool.
    public let spooledLines: Counter
    /// Lines read back from the spool to be sent.
    public let replayedLines: Counter
    /// Lines dropped because the spool was full (`dropped_lines{reason=spool_full}`).
    public let droppedFull: Counter
    /// Lines dropped for being older than the spool's age bound (`dropped_lines{reason=spool_expired}`).
    public let droppedExpired: Counter
    /// Lines lost in damaged records (`dropped_lines{reason=spool_corrupt}`), where known.
    public let droppedCorrupt: Counter
    /// Segment files in which damage was found (the damaged part set aside as `*.corrupt`).
    public let corruptSegments: Counter
    /// Damaged records (each lost; their lines where the header could still be read).
    public let corruptRecords: Counter
    /// Failed system calls (writes, syncs, reads) other than damage.
    public let errors: Counter

    public init(registry: SelfMetrics, measurement: String, instance: String) {
        let tags = [("instance", instance)]
        bytes = registry.gauge(measurement, "spool_bytes", tags)
        segments = registry.gauge(measurement, "spool_segments", tags)
        records = registry.gauge(measurement, "spool_records", tags)
        spooledLines = registry.counter(measurement, "spooled_lines", tags)
        replayedLines = registry.counter(measurement, "replayed_lines", tags)
        droppedFull = registry.counter(measurement, "dropped_lines", tags + [("reason", "spool_full")])
        droppedExpired = registry.counter(measurement, "dropped_lines", tags + [("reason", "spool_expired")])
        droppedCorrupt = registry.counter(measurement, "dropped_lines", tags + [("reason", "spool_corrupt")])
        corruptSegments = registry.counter(measurement, "spool_corrupt_segments", tags)
        corruptRecords = registry.counter(measurement, "spool_corrupt_records", tags)
        errors = registry.counter(measurement, "spool_errors", tags)
    }
}

/// Records and lines a spool call dropped, by reason (also counted in `SpoolMetrics`).
public struct SpoolLoss: Sendable, Equatable {
    public var fullRecords = 0
    public var fullLines = 0
    public var expiredRecords = 0
    public var expiredLines = 0
    public var corruptRecords = 0
    public var corruptLines = 0

    public init() {}

    public var isEmpty: Bool { fullRecords == 0 && expiredRecords == 0 && corruptRecords == 0 }
    public var lines: Int { fullLines + expiredLines + corruptLines }

    static func += (lhs: inout SpoolLoss, rhs: SpoolLoss) {
        lhs.fullRecords += rhs.fullRecords
        lhs.fullLines += rhs.fullLines
        lhs.expiredRecords += rhs.expiredRecords
        lhs.expiredLines += rhs.expiredLines
        lhs.corruptRecords += rhs.corruptRecords
        lhs.corruptLines += rhs.corruptLines
    }
}

/// What `append` did.
public struct SpoolAppendResult {
    /// Records and lines written.
    public var records = 0
    public var lines = 0
    /// Batches not written because of `error` (in order): the caller still holds them.
    public var notWritten: [LineProtocolBatch] = []
    /// The write error that stopped the append, if any.
    public var error: SpoolError?
    /// What was dropped to make room (or the new records themselves when they could not fit).
    public var loss = SpoolLoss()
    /// The ordinals of the records written, in order.
    public var ordinals: [Int] = []
}

/// A record read back from the spool: its line protocol as a batch, and its place in the spool
/// (`ordinal`, for `acknowledge(through:)`).
public struct SpoolReadRecord {
    public var ordinal: Int
    public var batch: LineProtocolBatch
    /// The receive time of the record's oldest line (wall clock, ns since the epoch).
    public var receivedAt: Int64
}

/// An output's durable queue on disk: a directory of segment files holding records of line
/// protocol (zlib-compressed, CRC-checked, see `SpoolRecordHeader`), appended at the back
/// and read from the front, and a cursor file saying how far delivery has got.
///
/// ```
/// <data_dir>/spool/<output>/
///   lock                      flock(2): one process per spool
///   cursor                    the first record not yet delivered (SpoolCursor)
///   0000000000000007.seg      segments, oldest first (16 hex digits, increasing)
///   0000000000000008.seg      the one being appended to
///   0000000000000005.seg.corrupt   a damaged part set aside, kept for inspection
/// ```
///
/// Records move through three states in order: delivered (before the cursor; their segment
/// is deleted once every record in it is delivered), outstanding (read, in a request not yet
/// answered; `acknowledge(through:)` delivers them) and unread. A restart replays from the
/// cursor, so outstanding records are sent again after a crash — never lost.
///
/// Opening scans every segment's headers (not the payloads) into an in-memory index (about
/// 50 bytes per record), so bounds and counts need no I/O. Damage found while opening (bad
/// magic, bad header CRC, a truncated record, a newer format version) is set aside: the
/// segment keeps its good records before the damage and the rest of the file moves to
/// `<segment>.corrupt`; a record whose payload fails its CRC when read is moved there alone
/// (its header gave its length, so the records after it are still found). Every loss is
/// counted and logged with the file name and offset, and the spool carries on.
///
/// Not thread-safe: one owner at a time (the output's writer thread, under the queue's I/O lock).
public final class Spool {
    public let options: SpoolOptions
    private let metrics: SpoolMetrics?
    private let logger: Logger
    private let lockFile: SpoolFile
    private let cursorFile: SpoolFile

    private struct Segment {
        let seq: UInt64
        var bytes: Int
        let firstOrdinal: Int
        var endOrdinal: Int
    }

    private struct Record {
        let segment: UInt64
        let offset: Int
        let length: Int
        let lines: Int
        let rawBytes: Int
        let receivedAt: Int64
    }

    /// Oldest first; the active segment, when there is one, is the last.
    private var segments: [Segment] = []
    private var active: SpoolFile?
    private var activeSeq: UInt64 = 0
    private var nextSeq: UInt64 = 1
    /// The index: `records[i]` has ordinal `base + i`.
    private var records: [Record] = []
    private var base = 0
    private var ackOrdinal = 0
    private var readOrdinal = 0
    private var endOrdinal: Int { base + records.count }
    /// Ordinals of outstanding records, ascending, from `outstandingHead`.
    private var outstanding: [Int] = []
    private var outstandingHead = 0
    private var readFile: (seq: UInt64, file: SpoolFile)?
    private var unreadLineCount = 0
    private var unreadRawBytes = 0
    private var fileBytes = 0
    /// Monotonic time of the first write not yet synced.
    private var dirtySince: UInt64?
    private var lastCursor: SpoolCursor?
    private var damagedSegments: Set<UInt64> = []
    private var closed = false

    /// Opens (or creates) the spool in `options.directory`, scans it and sets aside damage.
    ///
    /// - Throws: `SpoolError` when the directory cannot be made or read, or another process
    ///   holds its lock. Damaged segments never make it throw.
    public init(options: SpoolOptions, metrics: SpoolMetrics?, logger: Logger) throws(SpoolError) {
        self.options = options
        self.metrics = metrics
        var logger = logger
        logger[metadataKey: "spool.directory"] = .string(options.directory)
        self.logger = logger
        let directory = options.directory
        try SpoolDirectory.create(directory)
        let lock = try SpoolFile.open(directory + "/lock", create: true)
        if flock(lock.fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            lock.close()
            if code == EWOULDBLOCK { throw .locked(path: directory + "/lock") }
            throw .system(call: "flock", path: directory + "/lock", errno: code)
        }
        lockFile = lock
        do {
            cursorFile = try SpoolFile.open(directory + "/cursor", create: true)
        } catch {
            lock.close()
            throw error
        }
        do {
            try load()
        } catch {
            cursorFile.close()
            lock.close()
            throw error
        }
        publish()
    }

    deinit {
        close()
    }

    // MARK: - State

    /// Records written and not yet read back.
    public var unreadRecords: Int { endOrdinal - readOrdinal }
    /// Their lines.
    public var unreadLines: Int { unreadLineCount }
    /// Their bytes of line protocol (uncompressed).
    public var unreadBytes: Int { unreadRawBytes }
    /// Records not yet delivered (unread plus outstanding).
    public var undeliveredRecords: Int { endOrdinal - ackOrdinal }
    /// Bytes of segment files on disk.
    public var diskBytes: Int { fileBytes }
    /// Segment files on disk.
    public var segmentCount: Int { segments.count }
    /// Lines not yet delivered (unread plus outstanding).
    public var undeliveredLines: Int {
        var lines = unreadLineCount
        for ordinal in outstanding[outstandingHead...] where ordinal >= base { lines += records[ordinal - base].lines }
        return lines
    }
    /// True when nothing is waiting: every record written has been delivered or dropped.
    public var isEmpty: Bool { endOrdinal == ackOrdinal }

    /// The path of segment `seq`.
    public func segmentPath(_ seq: UInt64) -> String {
        let hex = String(seq, radix: 16)
        return options.directory + "/" + String(repeating: "0", count: max(0, 16 - hex.count)) + hex + ".seg"
    }

    /// The monotonic time a sync is due (interval policy with writes not yet synced), if any.
    public var syncDue: UInt64? {
        guard let dirtySince, case .interval(let seconds) = options.fsync else { return nil }
        return dirtySince &+ UInt64(max(0, seconds) * 1e9)
    }

    // MARK: - Opening

    private func load() throws(SpoolError) {
        let names = try SpoolDirectory.names(options.directory)
        var seqs: [UInt64] = []
        for name in names where name.hasSuffix(".seg") && name.count == 20 {
            if let seq = UInt64(name.prefix(16), radix: 16) { seqs.append(seq) }
        }
        seqs.sort()
        let cursorBytes = try cursorFile.read(count: SpoolCursor.size, at: 0)
        var cursor = SpoolCursor.decode(cursorBytes)
        if cursor == nil, !cursorBytes.isEmpty, !seqs.isEmpty {
            logger.warning("spool cursor damaged: replaying every segment from its start (records delivered before may be sent again)",
                           metadata: ["spool.file": .string(options.directory + "/cursor")])
        }
        if let c = cursor, let last = seqs.last, c.segment > last + 1 {
            // A cursor past every segment: they were all delivered (or it is not ours); trust the files.
            cursor = SpoolCursor(segment: last + 1, offset: 0)
        }
        for seq in seqs {
            if let c = cursor, seq < c.segment {
                // Delivered; the process ended before it deleted the file.
                _ = unlink(segmentPath(seq))
                continue
            }
            try scan(seq, skipBefore: cursor?.segment == seq ? cursor?.offset ?? 0 : 0)
        }
        nextSeq = max((seqs.last ?? 0) + 1, cursor?.segment ?? 1, 1)
        ackOrdinal = base
        readOrdinal = base
        writeCursor(force: true)
        if endOrdinal > 0 {
            logger.notice("spool opened: replaying records left by the last run", metadata: [
                "spool.records": "\(endOrdinal)", "spool.lines": "\(unreadLineCount)",
                "spool.segments": "\(segments.count)", "spool.bytes": "\(fileBytes)",
            ])
        }
    }

    /// Indexes the records of segment `seq`; records ending at or before `skipBefore` were
    /// delivered. Damage is set aside. An emptied segment is deleted.
    private func scan(_ seq: UInt64, skipBefore: Int) throws(SpoolError) {
        let path = segmentPath(seq)
        let file: SpoolFile
        do {
            file = try SpoolFile.open(path)
        } catch {
            logger.error("spool segment unreadable: skipped", metadata: ["spool.file": .string(path), "error": "\(error)"])
            metrics?.errors.add()
            return
        }
        defer { file.close() }
        var size = (try? file.size()) ?? 0
        let first = endOrdinal
        var offset = 0
        var damage: (offset: Int, reason: String, lines: Int)?
        var warnedCursor = false
        while offset < size {
            let headerBytes: [UInt8]
            do {
                headerBytes = try file.read(count: SpoolRecordHeader.size, at: offset)
            } catch {
                damage = (offset, "\(error)", 0)
                break
            }
            let header: SpoolRecordHeader
            do {
                header = try SpoolRecordHeader.decode(headerBytes)
            } catch {
                damage = (offset, error.description, 0)
                break
            }
            if offset + header.recordLength > size {
                damage = (offset, "truncated record: \(header.recordLength) bytes announced, \(size - offset) in the file",
                          header.lines)
                break
            }
            if offset + header.recordLength <= skipBefore {
                offset += header.recordLength
                continue
            }
            if offset < skipBefore, !warnedCursor {
                warnedCursor = true
                logger.warning("spool cursor is not at a record boundary: replaying from the record it falls in",
                               metadata: ["spool.file": .string(path), "spool.offset": "\(offset)"])
            }
            records.append(Record(segment: seq, offset: offset, length: header.recordLength, lines: header.lines,
                                  rawBytes: header.rawLength, receivedAt: header.receivedAt))
            unreadLineCount += header.lines
            unreadRawBytes += header.rawLength
            offset += header.recordLength
        }
        if let damage {
            setAside(seq, file: file, from: damage.offset, size: size, reason: damage.reason, knownLines: damage.lines,
                     delivered: damage.offset < skipBefore)
            size = damage.offset
        }
        if endOrdinal == first {
            // Nothing left to deliver in it.
            if SpoolDirectory.exists(path) { _ = unlink(path) }
            return
        }
        segments.append(Segment(seq: seq, bytes: size, firstOrdinal: first, endOrdinal: endOrdinal))
        fileBytes += size
    }

    /// Moves bytes `from..<size` of segment `seq` to `<segment>.corrupt` (the whole file by
    /// renaming when `from` is 0), counts what is recognisably lost there and logs it.
    private func setAside(_ seq: UInt64, file: SpoolFile, from offset: Int, size: Int, reason: String, knownLines: Int,
                          delivered: Bool) {
        let path = segmentPath(seq)
        let corruptPath = uniqueCorruptPath(path)
        var tail: [UInt8] = []
        do {
            tail = try file.read(count: size - offset, at: offset)
            if offset == 0 {
                guard rename(path, corruptPath) == 0 else { throw SpoolError.failed("rename", path) }
            } else {
                let out = try SpoolFile.open(corruptPath, create: true, exclusive: true)
                defer { out.close() }
                try out.write(tail, at: 0)
                try out.sync()
                try file.truncate(to: offset)
                try file.sync()
            }
            SpoolDirectory.sync(options.directory)
        } catch {
            metrics?.errors.add()
            logger.error("could not set a damaged spool segment aside", metadata: ["spool.file": .string(path), "error": "\(error)"])
        }
        // What else is recognisable in the damaged part: records with a good header after the
        // bad one (found by their magic), counted as lost with their lines.
        var (records, lines) = delivered ? (0, 0) : (1, knownLines)
        if !delivered {
            var i = 1
            while i + SpoolRecordHeader.size <= tail.count {
                if tail[i] == SpoolRecordHeader.magic[0], let header = try? SpoolRecordHeader.decode(tail[i...]),
                   i + header.recordLength <= tail.count {
                    records += 1
                    lines += header.lines
                    i += header.recordLength
                } else {
                    i += 1
                }
            }
        }
        damagedSegments.insert(seq)
        metrics?.corruptSegments.add()
        metrics?.corruptRecords.add(records)
        metrics?.droppedCorrupt.add(lines)
        logger.error("spool segment damaged: the damaged part is set aside, the good records before it are kept", metadata: [
            "spool.file": .string(path), "spool.offset": "\(offset)", "spool.reason": .string(reason),
            "spool.corrupt_file": .string(corruptPath), "spool.lost_records": "\(records)", "spool.lost_lines": "\(lines)",
        ])
    }

    private func uniqueCorruptPath(_ path: String) -> String {
        var candidate = path + ".corrupt"
        var n = 1
        while SpoolDirectory.exists(candidate) {
            n += 1
            candidate = path + ".corrupt.\(n)"
        }
        return candidate
    }

    // MARK: - Appending

    /// Writes `batches` in order as records of at most `recordLines` lines and `recordBytes`
    /// bytes each (whole batches; a larger batch is a record alone), dropping the oldest
    /// unread records when the spool would pass `maxBytes`.
    ///
    /// - Parameters:
    ///   - outstanding: the records are already being sent (a request the writer holds):
    ///     written as outstanding, not unread, so they are not read back while it holds them
    ///     — only a restart sends them again if they were never acknowledged. Only allowed
    ///     when nothing is unread (they must come before every unread record); otherwise
    ///     nothing is written and every batch is in `notWritten`.
    ///   - nowWall, nowMonotonic: the current time on both clocks, to turn each batch's
    ///     monotonic receive time into the wall-clock time a record keeps across restarts.
    /// - Returns: what was written, dropped, and — after a write error — not written.
    public func append(_ batches: [LineProtocolBatch], recordLines: Int, recordBytes: Int, outstanding asOutstanding: Bool = false,
                       nowWall: Int64 = WallClock.now(), nowMonotonic: UInt64 = MonotonicClock.now()) -> SpoolAppendResult {
        var result = SpoolAppendResult()
        guard !closed else {
            result.notWritten = batches
            result.error = .system(call: "append", path: options.directory, errno: EBADF)
            return result
        }
        if asOutstanding, readOrdinal < endOrdinal {
            result.notWritten = batches
            return result
        }
        var index = 0
        while index < batches.count {
            // One record: whole batches up to the limits (at least one).
            var raw: [UInt8] = []
            var lines = 0
            var oldest = UInt64.max
            let groupStart = index
            while index < batches.count {
                let batch = batches[index]
                if index > groupStart, lines + batch.lines > recordLines || raw.count + batch.byteCount > recordBytes { break }
                raw.append(contentsOf: batch.bytes)
                if let last = batch.bytes.last, last != 0x0A { raw.append(0x0A) }
                lines += batch.lines
                oldest = min(oldest, batch.receivedAt)
                index += 1
            }
            let age = nowMonotonic > oldest ? nowMonotonic - oldest : 0
            let receivedAt = nowWall - Int64(min(age, UInt64(Int64.max)))
            let record = EncodedSpoolRecord(raw: raw, lines: lines, receivedAt: receivedAt, level: options.compressionLevel)
            let length = record.bytes.count
            if length > options.maxBytes {
                result.loss.fullRecords += 1
                result.loss.fullLines += lines
                metrics?.droppedFull.add(lines)
                continue
            }
            result.loss += makeRoom(for: length)
            if effectiveBytes + length > options.maxBytes {
                result.loss.fullRecords += 1
                result.loss.fullLines += lines
                metrics?.droppedFull.add(lines)
                continue
            }
            do {
                try write(record, lines: lines, raw: raw.count)
            } catch {
                result.error = error
                result.notWritten = Array(batches[groupStart...])
                metrics?.errors.add()
                break
            }
            result.records += 1
            result.lines += lines
            result.ordinals.append(endOrdinal - 1)
            metrics?.spooledLines.add(lines)
            if asOutstanding, readOrdinal == endOrdinal - 1 {
                consumeUnread(records[readOrdinal - base])
                outstanding.append(readOrdinal)
                readOrdinal += 1
            }
        }
        if result.records > 0 {
            if dirtySince == nil { dirtySince = nowMonotonic }
            if case .batch = options.fsync { sync() }
        }
        publish()
        return result
    }

    /// Appends one record to the active segment (starting a new one when it is full).
    private func write(_ record: EncodedSpoolRecord, lines: Int, raw: Int) throws(SpoolError) {
        let length = record.bytes.count
        if active != nil, let last = segments.last, last.bytes > 0, last.bytes + length > options.segmentBytes { seal() }
        if active == nil { try startSegment() }
        guard let file = active else { return }
        let last = segments.count - 1
        let offset = segments[last].bytes
        do {
            try file.write(record.bytes, at: offset)
        } catch {
            // Never leave half a record behind.
            try? file.truncate(to: offset)
            throw error
        }
        records.append(Record(segment: activeSeq, offset: offset, length: length, lines: lines, rawBytes: raw,
                              receivedAt: record.header.receivedAt))
        segments[last].bytes += length
        segments[last].endOrdinal = endOrdinal
        fileBytes += length
        unreadLineCount += lines
        unreadRawBytes += raw
    }

    private func startSegment() throws(SpoolError) {
        let seq = nextSeq
        let file = try SpoolFile.open(segmentPath(seq), create: true, exclusive: true)
        SpoolDirectory.sync(options.directory)
        nextSeq += 1
        active = file
        activeSeq = seq
        segments.append(Segment(seq: seq, bytes: 0, firstOrdinal: endOrdinal, endOrdinal: endOrdinal))
    }

    /// Closes the active segment; the next append starts a new one.
    private func seal() {
        guard let file = active else { return }
        if dirtySince != nil { try? file.sync() }
        file.close()
        active = nil
    }

    /// Bytes on disk that will stay after the records already read are delivered: segments
    /// whose every record has been read (or dropped) are on their way out (those holding a
    /// record in flight are deleted when it is acknowledged; the others already were).
    private var effectiveBytes: Int {
        var reclaimable = 0
        for segment in segments where segment.endOrdinal <= readOrdinal && segment.endOrdinal > segment.firstOrdinal {
            if active != nil, segment.seq == activeSeq { continue }
            reclaimable += segment.bytes
        }
        return fileBytes - reclaimable
    }

    /// Drops the oldest unread records, a segment at a time, until `length` more bytes fit.
    private func makeRoom(for length: Int) -> SpoolLoss {
        var loss = SpoolLoss()
        while effectiveBytes + length > options.maxBytes, readOrdinal < endOrdinal {
            let seq = records[readOrdinal - base].segment
            if active != nil, seq == activeSeq { seal() }
            while readOrdinal < endOrdinal, records[readOrdinal - base].segment == seq {
                let record = records[readOrdinal - base]
                loss.fullRecords += 1
                loss.fullLines += record.lines
                consumeUnread(record)
                readOrdinal += 1
            }
            advanceCursor()
        }
        if !loss.isEmpty {
            metrics?.droppedFull.add(loss.fullLines)
            logger.warning("spool full: dropped the oldest records", metadata: [
                "spool.dropped_records": "\(loss.fullRecords)", "spool.dropped_lines": "\(loss.fullLines)",
                "spool.max_bytes": "\(options.maxBytes)", "output.reason": "spool_full",
            ])
        }
        return loss
    }

    private func consumeUnread(_ record: Record) {
        unreadLineCount -= record.lines
        unreadRawBytes -= record.rawBytes
    }

    // MARK: - Reading

    /// Reads the next records, oldest first, up to `maxLines` lines and `maxBytes` bytes of
    /// line protocol (at least one record when any is left). Expired records are dropped,
    /// damaged ones set aside; both are counted in the result.
    public func read(maxLines: Int, maxBytes: Int, nowWall: Int64 = WallClock.now(),
                     nowMonotonic: UInt64 = MonotonicClock.now()) -> (records: [SpoolReadRecord], loss: SpoolLoss) {
        var out: [SpoolReadRecord] = []
        var loss = SpoolLoss()
        var lines = 0
        var bytes = 0
        let oldestKept = oldestAllowed(nowWall)
        while readOrdinal < endOrdinal, !closed {
            let record = records[readOrdinal - base]
            if !out.isEmpty, lines + record.lines > maxLines || bytes + record.rawBytes > maxBytes { break }
            if record.receivedAt < oldestKept {
                loss.expiredRecords += 1
                loss.expiredLines += record.lines
                consumeUnread(record)
                readOrdinal += 1
                continue
            }
            let raw: [UInt8]
            do {
                raw = try readPayload(record)
            } catch {
                loss.corruptRecords += 1
                loss.corruptLines += record.lines
                setAsideRecord(record, reason: error.reason, bytes: error.bytes)
                consumeUnread(record)
                readOrdinal += 1
                continue
            }
            let age = UInt64(max(0, nowWall - record.receivedAt))
            let receivedAt = nowMonotonic > age ? nowMonotonic - age : 0
            out.append(SpoolReadRecord(ordinal: readOrdinal,
                                       batch: LineProtocolBatch(bytes: raw, lines: record.lines, source: "spool", receivedAt: receivedAt),
                                       receivedAt: record.receivedAt))
            outstanding.append(readOrdinal)
            consumeUnread(record)
            readOrdinal += 1
            lines += record.lines
            bytes += record.rawBytes
        }
        if lines > 0 { metrics?.replayedLines.add(lines) }
        countExpired(loss)
        advanceCursor()
        publish()
        return (out, loss)
    }

    private func oldestAllowed(_ nowWall: Int64) -> Int64 {
        guard options.maxAge > 0 else { return .min }
        let age = options.maxAge * 1e9
        return age >= Double(Int64.max) ? .min : nowWall - Int64(age)
    }

    private func countExpired(_ loss: SpoolLoss) {
        guard loss.expiredRecords > 0 else { return }
        metrics?.droppedExpired.add(loss.expiredLines)
        logger.warning("spool records older than spool_max_age dropped", metadata: [
            "spool.dropped_records": "\(loss.expiredRecords)", "spool.dropped_lines": "\(loss.expiredLines)",
            "spool.max_age_seconds": "\(options.maxAge)", "output.reason": "spool_expired",
        ])
    }

    /// Why a record could not be read, with the bytes that were read (for the `.corrupt` file).
    private struct RecordDamage: Error {
        var reason: String
        var bytes: [UInt8]
    }

    private func readPayload(_ record: Record) throws(RecordDamage) -> [UInt8] {
        let file: SpoolFile
        do {
            file = try segmentFile(record.segment)
        } catch {
            metrics?.errors.add()
            throw RecordDamage(reason: "\(error)", bytes: [])
        }
        let bytes: [UInt8]
        do {
            bytes = try file.read(count: record.length, at: record.offset)
        } catch {
            metrics?.errors.add()
            throw RecordDamage(reason: "\(error)", bytes: [])
        }
        guard bytes.count == record.length else {
            throw RecordDamage(reason: "truncated record: \(record.length) bytes expected, \(bytes.count) in the file", bytes: bytes)
        }
        let header: SpoolRecordHeader
        do {
            header = try SpoolRecordHeader.decode(bytes)
        } catch {
            throw RecordDamage(reason: error.description, bytes: bytes)
        }
        guard header.recordLength == record.length, header.lines == record.lines, header.rawLength == record.rawBytes else {
            throw RecordDamage(reason: "header changed on disk since the spool was opened", bytes: bytes)
        }
        let payload = Array(bytes[SpoolRecordHeader.size...])
        guard CRC32.checksum(payload) == header.payloadCRC else {
            throw RecordDamage(reason: "payload CRC mismatch", bytes: bytes)
        }
        guard header.flags & SpoolRecordHeader.compressedFlag != 0 else { return payload }
        let raw: [UInt8]
        do {
            raw = try Zlib.decompress(payload, exactLength: header.rawLength)
        } catch {
            throw RecordDamage(reason: "payload does not decompress: \(error)", bytes: bytes)
        }
        guard raw.count == header.rawLength else {
            throw RecordDamage(reason: "payload decompresses to \(raw.count) bytes, not \(header.rawLength)", bytes: bytes)
        }
        return raw
    }

    private func segmentFile(_ seq: UInt64) throws(SpoolError) -> SpoolFile {
        if let active, seq == activeSeq { return active }
        if let readFile, readFile.seq == seq { return readFile.file }
        readFile?.file.close()
        readFile = nil
        let file = try SpoolFile.open(segmentPath(seq))
        readFile = (seq, file)
        return file
    }

    /// Appends a damaged record's bytes to `<segment>.corrupt`, counts and logs its loss.
    private func setAsideRecord(_ record: Record, reason: String, bytes: [UInt8]) {
        let path = segmentPath(record.segment)
        let corruptPath = path + ".corrupt"
        if !bytes.isEmpty {
            do {
                let out = try SpoolFile.open(corruptPath, create: true)
                defer { out.close() }
                try out.write(bytes, at: try out.size())
            } catch {
                metrics?.errors.add()
            }
        }
        if damagedSegments.insert(record.segment).inserted { metrics?.corruptSegments.add() }
        metrics?.corruptRecords.add()
        metrics?.droppedCorrupt.add(record.lines)
        logger.error("spool record damaged: set aside, the records after it are kept", metadata: [
            "spool.file": .string(path), "spool.offset": "\(record.offset)", "spool.reason": .string(reason),
            "spool.corrupt_file": .string(corruptPath), "spool.lost_records": "1", "spool.lost_lines": "\(record.lines)",
        ])
    }

    // MARK: - Delivery

    /// The outstanding records up to and including `ordinal` were delivered (stored, or
    /// rejected by the server for their content). Moves the cursor, deletes segments that are
    /// fully delivered.
    public func acknowledge(through ordinal: Int) {
        guard !closed else { return }
        while outstandingHead < outstanding.count, outstanding[outstandingHead] <= ordinal { outstandingHead += 1 }
        if outstandingHead > 1024, outstandingHead * 2 > outstanding.count {
            outstanding.removeFirst(outstandingHead)
            outstandingHead = 0
        }
        advanceCursor()
        publish()
    }

    private func advanceCursor() {
        let target = outstandingHead < outstanding.count ? outstanding[outstandingHead] : readOrdinal
        if target > ackOrdinal { ackOrdinal = target }
        releaseSegments()
        if ackOrdinal - base > 1024, (ackOrdinal - base) * 2 > records.count {
            records.removeFirst(ackOrdinal - base)
            base = ackOrdinal
        }
        writeCursor(force: false)
    }

    /// Deletes the segments nothing will be read from again: every record delivered, or every
    /// record read or dropped with none of them in flight. (The second kind can sit after
    /// the cursor, behind a request that waits for a server that is down; keeping those files
    /// until it is answered would let the spool grow past its bound during the outage.)
    private func releaseSegments() {
        let inFlight = outstanding[outstandingHead...]
        var index = 0
        while index < segments.count {
            let segment = segments[index]
            let delivered = segment.endOrdinal <= ackOrdinal
            let dead = segment.endOrdinal <= readOrdinal
                && !inFlight.contains { $0 >= segment.firstOrdinal && $0 < segment.endOrdinal }
            guard delivered || dead else {
                index += 1
                continue
            }
            if active != nil, segment.seq == activeSeq {
                active?.close()
                active = nil
            }
            if let readFile, readFile.seq == segment.seq {
                readFile.file.close()
                self.readFile = nil
            }
            if unlink(segmentPath(segment.seq)) != 0 {
                metrics?.errors.add()
                logger.warning("could not delete a delivered spool segment", metadata: [
                    "spool.file": .string(segmentPath(segment.seq)), "error": .string(String(cString: strerror(errno))),
                ])
            }
            fileBytes -= segment.bytes
            segments.remove(at: index)
        }
    }

    private func writeCursor(force: Bool) {
        let cursor: SpoolCursor
        if ackOrdinal < endOrdinal {
            let record = records[ackOrdinal - base]
            cursor = SpoolCursor(segment: record.segment, offset: record.offset)
        } else {
            cursor = SpoolCursor(segment: nextSeq, offset: 0)
        }
        guard force || cursor != lastCursor else { return }
        do {
            try cursorFile.write(cursor.encoded(), at: 0)
            lastCursor = cursor
        } catch {
            metrics?.errors.add()
            logger.warning("could not write the spool cursor (a restart may send delivered records again)",
                           metadata: ["error": "\(error)"])
        }
    }

    // MARK: - Upkeep

    /// Drops unread records past `maxAge` and syncs when the interval policy says so. Call it
    /// whenever convenient (the writer does at every wake-up); it does I/O only when a sync is due.
    @discardableResult
    public func maintain(nowWall: Int64 = WallClock.now(), nowMonotonic: UInt64 = MonotonicClock.now()) -> SpoolLoss {
        var loss = SpoolLoss()
        let oldestKept = oldestAllowed(nowWall)
        while readOrdinal < endOrdinal, records[readOrdinal - base].receivedAt < oldestKept {
            let record = records[readOrdinal - base]
            loss.expiredRecords += 1
            loss.expiredLines += record.lines
            consumeUnread(record)
            readOrdinal += 1
        }
        countExpired(loss)
        if !loss.isEmpty { advanceCursor() }
        if let due = syncDue, nowMonotonic >= due { sync() }
        if !loss.isEmpty { publish() }
        return loss
    }

    /// fdatasync of the active segment and the cursor.
    public func sync() {
        guard !closed else { return }
        do {
            try active?.sync()
            try cursorFile.sync()
            dirtySince = nil
        } catch {
            // Tried again one interval later, not at once.
            if dirtySince != nil { dirtySince = MonotonicClock.now() }
            metrics?.errors.add()
            logger.warning("spool sync failed", metadata: ["error": "\(error)"])
        }
    }

    /// Syncs, writes the cursor and closes every file (and the lock). Records read but not
    /// acknowledged stay undelivered: the next open replays them.
    public func close() {
        guard !closed else { return }
        sync()
        closed = true
        active?.close()
        active = nil
        readFile?.file.close()
        readFile = nil
        cursorFile.close()
        lockFile.close()
    }

    private func publish() {
        metrics?.bytes.set(fileBytes)
        metrics?.segments.set(segments.count)
        metrics?.records.set(endOrdinal - ackOrdinal)
    }
}
