#if canImport(Glibc)
import Glibc
#endif
import EstuaryCompression
import EstuaryRuntime
import Logging

/// Reading records back in order (expired ones counted and skipped, damaged ones set aside),
/// and delivery: acknowledging them, moving the cursor, deleting delivered segments.
extension Spool {
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

    func oldestAllowed(_ nowWall: Int64) -> Int64 {
        guard options.maxAge > 0 else { return .min }
        let age = options.maxAge * 1e9
        return age >= Double(Int64.max) ? .min : nowWall - Int64(age)
    }

    func countExpired(_ loss: SpoolLoss) {
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

    func segmentFile(_ seq: UInt64) throws(SpoolError) -> SpoolFile {
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

    func advanceCursor() {
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

    func writeCursor(force: Bool) {
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
}
