#if canImport(Glibc)
import Glibc
#endif
import EstuaryCompression
import EstuaryRuntime
import Logging

/// Opening a spool: scanning every segment's headers into the index, and setting aside
/// what is damaged (the rest of a segment, or one record) with its loss counted and logged.
extension Spool {
    func load() throws(SpoolError) {
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
}
