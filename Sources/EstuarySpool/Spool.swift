#if canImport(Glibc)
import Glibc
#endif
import EstuaryCompression
import EstuaryRuntime
import Logging
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
    let metrics: SpoolMetrics?
    let logger: Logger
    private let lockFile: SpoolFile
    let cursorFile: SpoolFile

    struct Segment {
        let seq: UInt64
        var bytes: Int
        let firstOrdinal: Int
        var endOrdinal: Int
    }

    struct Record {
        let segment: UInt64
        let offset: Int
        let length: Int
        let lines: Int
        let rawBytes: Int
        let receivedAt: Int64
    }

    /// Oldest first; the active segment, when there is one, is the last.
    var segments: [Segment] = []
    var active: SpoolFile?
    var activeSeq: UInt64 = 0
    var nextSeq: UInt64 = 1
    /// The index: `records[i]` has ordinal `base + i`.
    var records: [Record] = []
    var base = 0
    var ackOrdinal = 0
    var readOrdinal = 0
    var endOrdinal: Int { base + records.count }
    /// Ordinals of outstanding records, ascending, from `outstandingHead`.
    var outstanding: [Int] = []
    var outstandingHead = 0
    var readFile: (seq: UInt64, file: SpoolFile)?
    var unreadLineCount = 0
    var unreadRawBytes = 0
    var fileBytes = 0
    /// Monotonic time of the first write not yet synced.
    private var dirtySince: UInt64?
    var lastCursor: SpoolCursor?
    var damagedSegments: Set<UInt64> = []
    var closed = false

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
    func write(_ record: EncodedSpoolRecord, lines: Int, raw: Int) throws(SpoolError) {
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

    func consumeUnread(_ record: Record) {
        unreadLineCount -= record.lines
        unreadRawBytes -= record.rawBytes
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

    func publish() {
        metrics?.bytes.set(fileBytes)
        metrics?.segments.set(segments.count)
        metrics?.records.set(endOrdinal - ackOrdinal)
    }
}
