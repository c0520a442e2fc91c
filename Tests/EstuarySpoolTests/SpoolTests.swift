import EstuaryCompression
import EstuaryRuntime
import EstuarySpool
import EstuaryTestSupport
import Foundation
import Logging
import Synchronization
import Testing

/// `count` unique lines (`m,tag=<tag> value=<i> <ts>`) as one batch.
func makeBatch(_ count: Int, tag: String, firstIndex: Int = 0, receivedAt: UInt64 = MonotonicClock.now()) -> LineProtocolBatch {
    var text = ""
    for i in firstIndex..<(firstIndex + count) { text += "m,tag=\(tag) value=\(i) \(1_700_000_000_000_000_000 + i)\n" }
    return LineProtocolBatch(bytes: Array(text.utf8), lines: count, source: "test", receivedAt: receivedAt)
}

func text(_ batches: [LineProtocolBatch]) -> String {
    batches.map { String(decoding: $0.bytes, as: UTF8.self) }.joined()
}

/// A fresh directory under /tmp, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("estuary-spool-\(UUID().uuidString)").path
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    func files(suffix: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasSuffix(suffix) }.sorted()
    }
}

/// Captured log lines (message and metadata) for assertions.
final class LogStore: Sendable {
    let lines = Mutex<[(Logger.Level, String, [String: String])]>([])

    func count(_ level: Logger.Level, containing text: String) -> Int {
        lines.withLock { $0.filter { $0.0 == level && $0.1.contains(text) }.count }
    }

    func metadata(containing text: String) -> [String: String]? {
        lines.withLock { $0.first { $0.1.contains(text) }?.2 }
    }
}

struct StoreHandler: LogHandler {
    let store: LogStore
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    func log(event: LogEvent) {
        var flat: [String: String] = [:]
        for (key, value) in metadata { flat[key] = "\(value)" }
        for (key, value) in event.metadata ?? [:] { flat[key] = "\(value)" }
        let entry = (event.level, "\(event.message)", flat)
        store.lines.withLock { $0.append(entry) }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
}

/// A spool under test: its directory, metrics and logs.
struct Fixture {
    let directory = TemporaryDirectory()
    let registry = SelfMetrics()
    let logs = LogStore()
    var metrics: SpoolMetrics { SpoolMetrics(registry: registry, measurement: "estuary_output", instance: "t") }
    var logger: Logger { Logger(label: "spool.test") { _ in StoreHandler(store: logs) } }

    func options(maxBytes: Int = 1 << 30, maxAge: Double = 0, segmentBytes: Int = 1 << 20,
                 fsync: SpoolFsync = .interval(1)) -> SpoolOptions {
        SpoolOptions(directory: directory.path, maxBytes: maxBytes, maxAge: maxAge, segmentBytes: segmentBytes, fsync: fsync)
    }

    func open(_ options: SpoolOptions? = nil) throws -> Spool {
        try Spool(options: options ?? self.options(), metrics: metrics, logger: logger)
    }

    /// Reads everything left (acknowledging as it goes).
    func drain(_ spool: Spool) -> [SpoolReadRecord] {
        var all: [SpoolReadRecord] = []
        while true {
            let (records, _) = spool.read(maxLines: 1000, maxBytes: 1 << 20)
            if records.isEmpty { return all }
            all += records
            spool.acknowledge(through: records.last!.ordinal)
        }
    }

    func segmentFile(_ spool: Spool, _ seq: UInt64) -> String { spool.segmentPath(seq) }
}

@Suite("Spool: records on disk", .ownThreads)
struct SpoolTests {
    @Test("records come back in the order written, with their lines; delivered segments are deleted")
    func order() throws {
        let f = Fixture()
        defer { f.directory.remove() }
        let spool = try f.open(f.options(segmentBytes: 4096))
        var written: [LineProtocolBatch] = []
        for round in 0..<20 {
            let batches = (0..<5).map { makeBatch(7, tag: "r\(round)b\($0)") }
            written += batches
            let result = spool.append(batches, recordLines: 14, recordBytes: 1 << 20)
            #expect(result.error == nil && result.loss.isEmpty)
            #expect(result.records == 3)  // 7+7, 7+7, 7
        }
        #expect(spool.unreadLines == 700)
        #expect(spool.segmentCount > 1)
        #expect(f.directory.files(suffix: ".seg").count == spool.segmentCount)
        let read = f.drain(spool)
        #expect(text(read.map(\.batch)) == text(written))
        #expect(read.map(\.ordinal) == Array(0..<60))
        #expect(spool.isEmpty && spool.unreadLines == 0)
        #expect(f.directory.files(suffix: ".seg").isEmpty, "delivered segments stay on disk")
        #expect(spool.diskBytes == 0)
        #expect(f.metrics.spooledLines.count == 700)
        #expect(f.metrics.replayedLines.count == 700)
        #expect(f.metrics.bytes.current == 0 && f.metrics.records.current == 0)
    }

    @Test("payloads are compressed: line protocol takes a fraction of its size on disk")
    func compressed() throws {
        let f = Fixture()
        defer { f.directory.remove() }
        let spool = try f.open()
        let batch = makeBatch(2000, tag: "z")
        _ = spool.append([batch], recordLines: 5000, recordBytes: 1 << 22)
        #expect(spool.diskBytes < batch.byteCount / 4, "\(spool.diskBytes) of \(batch.byteCount)")
        #expect(spool.unreadBytes == batch.byteCount)
    }

    @Test("a restart replays from the cursor: delivered records are not sent again, undelivered ones are")
    func restart() throws {
        let f = Fixture()
        defer { f.directory.remove() }
        let batches = (0..<30).map { makeBatch(10, tag: "b\($0)") }
        do {
            let spool = try f.open(f.options(segmentBytes: 2048))
            _ = spool.append(batches, recordLines: 10, recordBytes: 1 << 20)
            let (first, _) = spool.read(maxLines: 100, maxBytes: 1 << 20)
            #expect(first.count == 10)
            spool.acknowledge(through: first[6].ordinal)  // 0...6 delivered, 7...9 in flight
            spool.close()
        }
        let spool = try f.open(f.options(segmentBytes: 2048))
        #expect(spool.unreadRecords == 23)
        let read = f.drain(spool)
        #expect(text(read.map(\.batch)) == text(Array(batches[7...])))
        spool.close()
        // Everything delivered: a third start has nothing.
        let again = try f.open()
        #expect(again.isEmpty && again.unreadRecords == 0)
        #expect(f.directory.files(suffix: ".seg").isEmpty)
    }

    @Test("a second process cannot open the same spool")
    func locked() throws {
        let f = Fixture()
        defer { f.directory.remove() }
        let spool = try f.open()
        #expect(throws: SpoolError.locked(path: f.directory.path + "/lock")) { try f.open() }
        spool.close()
        // flock(2) lets go once every copy of the lock's descriptor is closed: a child another
        // test spawns at this moment holds a copy from its fork until its exec.
        var reopened: Spool?
        #expect(waitUntil(timeout: 5) { reopened = try? f.open(); return reopened != nil },
                "waited 5 s for the closed spool's lock to be free")
        reopened?.close()
    }

    @Test("size bound: the oldest records are dropped and counted; the newest are kept, in order")
    func sizeBound() throws {
        let f = Fixture()
        defer { f.directory.remove() }
        let maxBytes = 64 * 1024
        let spool = try f.open(f.options(maxBytes: maxBytes, segmentBytes: 8 * 1024))
        var written: [LineProtocolBatch] = []
        var lost = 0
        for i in 0..<400 {
            let batch = makeBatch(20, tag: "s\(i)", firstIndex: i * 20)
            written.append(batch)
            let result = spool.append([batch], recordLines: 100, recordBytes: 1 << 20)
            lost += result.loss.fullLines
            #expect(spool.diskBytes <= maxBytes)
        }
        #expect(lost > 0)
        #expect(f.metrics.droppedFull.count == lost)
        #expect(f.logs.count(.warning, containing: "spool full") >= 1)
        let read = f.drain(spool)
        let kept = read.reduce(0) { $0 + $1.batch.lines }
        #expect(kept + lost == 400 * 20)
        // What is left is the newest part, whole records, in order.
        #expect(text(read.map(\.batch)) == text(Array(written.suffix(read.count))))
    }

    @Test("size bound while the oldest record is in flight (a server down): the segments dropped behind it are freed")
    func sizeBoundWithRecordInFlight() throws {
        let f = Fixture()
        defer { f.directory.remove() }
        let maxBytes = 64 * 1024, segmentBytes = 8 * 1024
        let spool = try f.open(f.options(maxBytes: maxBytes, segmentBytes: segmentBytes))
        _ = spool.append([makeBatch(20, tag: "held")], recordLines: 100, recordBytes: 1 << 20)
        let (held, _) = spool.read(maxLines: 100, maxBytes: 1 << 20)  // in a request that is not answered
        for i in 0..<400 {
            _ = spool.append([makeBatch(20, tag: "s\(i)", firstIndex: i * 20)], recordLines: 100, recordBytes: 1 << 20)
            #expect(spool.diskBytes <= maxBytes + segmentBytes, "\(spool.diskBytes) bytes on disk after \(i)")
        }
        #expect(f.metrics.droppedFull.count > 0)
        spool.acknowledge(through: held[0].ordinal)
        #expect(spool.diskBytes <= maxBytes)
        #expect(f.drain(spool).last?.batch.bytes == makeBatch(20, tag: "s399", firstIndex: 399 * 20).bytes)
    }

    @Test("a record larger than the whole spool is dropped alone (a full disk in miniature); the spool carries on")
    func tinyCap() throws {
        let f = Fixture()
        defer { f.directory.remove() }
        let spool = try f.open(f.options(maxBytes: 600, segmentBytes: 300))
        let small = makeBatch(1, tag: "small")
        #expect(spool.append([small], recordLines: 10, recordBytes: 1 << 20).records == 1)
        var big = ""
        var state: UInt64 = 12345
        for i in 0..<200 {  // incompressible enough to stay above 600 bytes
            state = state &* 6364136223846793005 &+ 1442695040888963407
            big += "m,tag=big v=\(state) \(i)\n"
        }
        let huge = LineProtocolBatch(bytes: Array(big.utf8), lines: 200, source: "test")
        let result = spool.append([huge], recordLines: 1000, recordBytes: 1 << 20)
        #expect(result.records == 0 && result.error == nil)
        #expect(result.loss.fullLines == 200)
        #expect(f.metrics.droppedFull.count == 200)
        #expect(spool.append([makeBatch(1, tag: "after")], recordLines: 10, recordBytes: 1 << 20).records == 1)
        #expect(text(f.drain(spool).map(\.batch)) == text([small, makeBatch(1, tag: "after")]))
    }

    @Test("age bound: records older than maxAge are dropped at upkeep and at read, counted")
    func ageBound() throws {
        let f = Fixture()
        defer { f.directory.remove() }
        let spool = try f.open(f.options(maxAge: 3600))
        let now = WallClock.now()
        let mono = MonotonicClock.now()
        _ = spool.append([makeBatch(5, tag: "old")], recordLines: 10, recordBytes: 1 << 20, nowWall: now - 7200_000_000_000,
                         nowMonotonic: mono)
        _ = spool.append([makeBatch(6, tag: "older-than-an-hour-at-read")], recordLines: 10, recordBytes: 1 << 20,
                         nowWall: now - 3000_000_000_000, nowMonotonic: mono)
        _ = spool.append([makeBatch(7, tag: "new")], recordLines: 10, recordBytes: 1 << 20)
        let loss = spool.maintain()
        #expect(loss.expiredRecords == 1 && loss.expiredLines == 5)
        // Ten minutes later the second one is past the hour too.
        let (records, readLoss) = spool.read(maxLines: 100, maxBytes: 1 << 20, nowWall: now + 700_000_000_000)
        #expect(readLoss.expiredLines == 6)
        #expect(records.map(\.batch.lines) == [7])
        #expect(f.metrics.droppedExpired.count == 11)
        #expect(f.logs.count(.warning, containing: "spool_max_age") >= 1)
    }

    @Test("the original receive time survives a restart")
    func receiveTime() throws {
        let f = Fixture()
        defer { f.directory.remove() }
        let wall = WallClock.now()
        let mono = MonotonicClock.now()
        do {
            let spool = try f.open()
            let batch = makeBatch(3, tag: "t", receivedAt: mono - 5_000_000_000)  // received 5 s ago
            _ = spool.append([batch], recordLines: 10, recordBytes: 1 << 20, nowWall: wall, nowMonotonic: mono)
        }
        let spool = try f.open()
        let record = try #require(f.drain(spool).first)
        #expect(abs(record.receivedAt - (wall - 5_000_000_000)) < 1_000_000)
    }

    @Test("a truncated segment: the good records before the cut are kept, the rest set aside and counted")
    func truncated() throws {
        let f = Fixture()
        defer { f.directory.remove() }
        let batches = (0..<5).map { makeBatch(10, tag: "t\($0)") }
        let path: String
        do {
            let spool = try f.open()
            _ = spool.append(batches, recordLines: 10, recordBytes: 1 << 20)
            path = spool.segmentPath(1)
            spool.close()
        }
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        try handle.truncate(atOffset: UInt64(size - 10))  // the last record loses its end
        try handle.close()

        let spool = try f.open()
        #expect(spool.unreadRecords == 4)
        #expect(text(f.drain(spool).map(\.batch)) == text(Array(batches[0..<4])))
        #expect(f.directory.files(suffix: ".corrupt") == ["0000000000000001.seg.corrupt"])
        #expect(f.metrics.corruptSegments.count == 1)
        #expect(f.metrics.corruptRecords.count == 1)
        #expect(f.metrics.droppedCorrupt.count == 10, "the cut record's header still gives its lines")
        let meta = try #require(f.logs.metadata(containing: "spool segment damaged"))
        #expect(meta["spool.file"] == path)
        #expect(meta["spool.reason"]?.contains("truncated") == true)
    }

    @Test("a flipped byte in a payload: that record alone is set aside, the ones after it are read")
    func flippedPayload() throws {
        let f = Fixture()
        defer { f.directory.remove() }
        let batches = (0..<4).map { makeBatch(10, tag: "f\($0)") }
        let spool = try f.open()
        _ = spool.append(batches, recordLines: 10, recordBytes: 1 << 20)
        let path = spool.segmentPath(1)
        let bytes = try #require(FileManager.default.contents(atPath: path))
        let second = try SpoolRecordHeader.decode(Array(bytes)).recordLength  // offset of record 2
        let handle = try #require(FileHandle(forUpdatingAtPath: path))  // the same file the spool has open
        try handle.seek(toOffset: UInt64(second + SpoolRecordHeader.size + 5))
        try handle.write(contentsOf: [bytes[second + SpoolRecordHeader.size + 5] ^ 0x40])
        try handle.close()

        let read = f.drain(spool)
        #expect(text(read.map(\.batch)) == text([batches[0], batches[2], batches[3]]))
        #expect(f.metrics.corruptRecords.count == 1 && f.metrics.droppedCorrupt.count == 10)
        #expect(f.metrics.corruptSegments.count == 1)
        #expect(f.logs.count(.error, containing: "spool record damaged") == 1)
        #expect(f.logs.metadata(containing: "spool record damaged")?["spool.reason"] == "payload CRC mismatch")
        #expect(FileManager.default.fileExists(atPath: path + ".corrupt"))
    }

    @Test("a flipped byte in a header: the records after it are set aside and counted, the ones before kept")
    func flippedHeader() throws {
        let f = Fixture()
        defer { f.directory.remove() }
        let batches = (0..<5).map { makeBatch(10, tag: "h\($0)") }
        let path: String
        do {
            let spool = try f.open()
            _ = spool.append(batches, recordLines: 10, recordBytes: 1 << 20)
            path = spool.segmentPath(1)
        }
        var bytes = Array(try #require(FileManager.default.contents(atPath: path)))
        let second = try SpoolRecordHeader.decode(bytes).recordLength
        bytes[second + 17] ^= 0x01  // the line count of record 2: its header CRC no longer matches
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let spool = try f.open()
        #expect(text(f.drain(spool).map(\.batch)) == text([batches[0]]))
        // Record 2 is lost with unknown lines; 3, 4 and 5 are recognised in the set-aside part.
        #expect(f.metrics.corruptRecords.count == 4)
        #expect(f.metrics.droppedCorrupt.count == 30)
        let meta = try #require(f.logs.metadata(containing: "spool segment damaged"))
        #expect(meta["spool.offset"] == "\(second)")
        #expect(meta["spool.reason"]?.contains("header CRC") == true)
        #expect(f.directory.files(suffix: ".corrupt").count == 1)
    }

    @Test("a segment from a newer format version is set aside whole; the other segments are read")
    func newerVersion() throws {
        let f = Fixture()
        defer { f.directory.remove() }
        let batches = (0..<3).map { makeBatch(4, tag: "v\($0)") }
        do {
            let spool = try f.open(f.options(segmentBytes: 10))  // one record per segment
            _ = spool.append(batches, recordLines: 4, recordBytes: 1 << 20)
            spool.close()
        }
        // Rewrite segment 2's record as version 2 (with a header CRC that matches).
        let path = f.directory.path + "/0000000000000002.seg"
        var bytes = Array(try #require(FileManager.default.contents(atPath: path)))
        bytes[4] = 2
        let crc = CRC32.checksum(Array(bytes[0..<32]))
        for i in 0..<4 { bytes[32 + i] = UInt8(truncatingIfNeeded: crc >> UInt32(8 * i)) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let spool = try f.open()
        #expect(text(f.drain(spool).map(\.batch)) == text([batches[0], batches[2]]))
        #expect(f.directory.files(suffix: ".corrupt") == ["0000000000000002.seg.corrupt"])
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(f.logs.metadata(containing: "spool segment damaged")?["spool.reason"]?.contains("newer") == true)
        #expect(f.metrics.corruptSegments.count == 1)
    }

    @Test("garbage where a segment should be, and a damaged cursor: the spool opens, logs and carries on")
    func garbage() throws {
        let f = Fixture()
        defer { f.directory.remove() }
        let batches = (0..<3).map { makeBatch(4, tag: "g\($0)") }
        do {
            let spool = try f.open()
            _ = spool.append(batches, recordLines: 4, recordBytes: 1 << 20)
            let (records, _) = spool.read(maxLines: 4, maxBytes: 1 << 20)
            spool.acknowledge(through: records[0].ordinal)
            spool.close()
        }
        try Data("not a spool segment at all, just text that happens to be here".utf8)
            .write(to: URL(fileURLWithPath: f.directory.path + "/00000000000000ff.seg"))
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: f.directory.path + "/cursor"))

        let spool = try f.open()
        // The cursor is unreadable: everything is replayed (the delivered record again).
        #expect(text(f.drain(spool).map(\.batch)) == text(batches))
        #expect(f.logs.count(.warning, containing: "cursor damaged") == 1)
        #expect(f.logs.metadata(containing: "spool segment damaged")?["spool.reason"]?.contains("bad magic") == true)
        #expect(f.directory.files(suffix: ".corrupt") == ["00000000000000ff.seg.corrupt"])
        // New writes go after the highest segment number seen.
        _ = spool.append([makeBatch(1, tag: "new")], recordLines: 10, recordBytes: 1 << 20)
        #expect(f.directory.files(suffix: ".seg") == ["0000000000000100.seg"])
    }

    @Test("fsync policies: batch syncs at once, interval says when it is due")
    func fsyncPolicy() throws {
        let f = Fixture()
        defer { f.directory.remove() }
        let batchSpool = try Spool(options: SpoolOptions(directory: f.directory.path + "/a", fsync: .batch), metrics: nil,
                                   logger: f.logger)
        _ = batchSpool.append([makeBatch(1, tag: "a")], recordLines: 10, recordBytes: 1 << 20)
        #expect(batchSpool.syncDue == nil)

        let intervalSpool = try Spool(options: SpoolOptions(directory: f.directory.path + "/b", fsync: .interval(0.2)),
                                      metrics: nil, logger: f.logger)
        #expect(intervalSpool.syncDue == nil)
        let before = MonotonicClock.now()
        _ = intervalSpool.append([makeBatch(1, tag: "b")], recordLines: 10, recordBytes: 1 << 20)
        let due = try #require(intervalSpool.syncDue)
        #expect(due >= before + 200_000_000 && due <= MonotonicClock.now() + 200_000_000)
        intervalSpool.maintain(nowMonotonic: due)
        #expect(intervalSpool.syncDue == nil)
    }

    @Test("record header: round trip, and every kind of damage is named")
    func header() throws {
        let header = SpoolRecordHeader(payloadLength: 10, rawLength: 30, lines: 3, payloadCRC: 0xDEADBEEF, receivedAt: -5)
        let bytes = header.encoded()
        #expect(bytes.count == SpoolRecordHeader.size)
        #expect(try SpoolRecordHeader.decode(bytes) == header)
        #expect(throws: SpoolRecordHeader.Problem.truncated(available: 35)) { try SpoolRecordHeader.decode(Array(bytes.prefix(35))) }
        var magic = bytes
        magic[0] = 0
        #expect(throws: SpoolRecordHeader.Problem.badMagic) { try SpoolRecordHeader.decode(magic) }
        var flipped = bytes
        flipped[9] ^= 1
        #expect(throws: SpoolRecordHeader.Problem.corruptHeader("header CRC mismatch")) { try SpoolRecordHeader.decode(flipped) }
        var newer = bytes
        newer[4] = 9
        #expect(throws: SpoolRecordHeader.Problem.newerVersion(9)) { try SpoolRecordHeader.decode(newer) }
    }
}

extension SpoolTests {
    /// The spool alone: append and read back 1,000,000 lines. ESTUARY_OUTPUT_BENCH=1 to run.
    @Test("append and read throughput (ESTUARY_OUTPUT_BENCH=1)",
          .enabled(if: ProcessInfo.processInfo.environment["ESTUARY_OUTPUT_BENCH"] != nil))
    func throughput() throws {
        let f = Fixture()
        defer { f.directory.remove() }
        let spool = try f.open(f.options(segmentBytes: 16 << 20, fsync: .interval(1)))
        let batches = Fixtures.benchLineProtocol(batches: 200, lines: 5000)
            .map { LineProtocolBatch(bytes: $0, lines: 5000, source: "bench") }
        let bytes = batches.reduce(0) { $0 + $1.byteCount }
        var start = Date()
        for batch in batches { _ = spool.append([batch], recordLines: 5000, recordBytes: 4 << 20) }
        spool.sync()
        let written = Date().timeIntervalSince(start)
        let disk = spool.diskBytes
        start = Date()
        let read = f.drain(spool)
        let readSeconds = Date().timeIntervalSince(start)
        #expect(read.reduce(0) { $0 + $1.batch.lines } == 1_000_000)
        print("""
            BENCH spool alone: 1000000 lines (\(bytes) bytes): append + sync \(String(format: "%.2f", written)) s = \
            \(Int(1e6 / written)) lines/s (\(String(format: "%.0f", Double(bytes) / written / 1e6)) MB/s of line protocol), \
            \(disk) bytes on disk (\(String(format: "%.1f", Double(bytes) / Double(disk)))x); read back \
            \(String(format: "%.2f", readSeconds)) s = \(Int(1e6 / readSeconds)) lines/s
            """)
    }
}

@Suite("zlib with an exact length")
struct ZlibExactLengthTests {
    @Test("round trip; a wrong length, a cut stream or garbage is an error")
    func exactLength() throws {
        let text = Array(String(repeating: "m,host=a value=1 1700000000000000000\n", count: 300).utf8)
        let compressed = try Zlib.compress(text)
        #expect(try Zlib.decompress(compressed, exactLength: text.count) == text)
        #expect(throws: GzipError.self) { try Zlib.decompress(compressed, exactLength: text.count - 1) }
        #expect(throws: GzipError.self) { try Zlib.decompress(compressed, exactLength: text.count + 1) }
        #expect(throws: GzipError.self) { try Zlib.decompress(Array(compressed.prefix(compressed.count / 2)), exactLength: text.count) }
        #expect(throws: GzipError.self) { try Zlib.decompress(Array("garbage, not zlib".utf8), exactLength: 10) }
        #expect(try Zlib.decompress(try Zlib.compress([UInt8]()), exactLength: 0) == [])
    }
}
