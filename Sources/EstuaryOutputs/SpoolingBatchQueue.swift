import EstuaryRuntime
import EstuarySpool

/// An output's queue with a durable spool on disk behind a small memory front.
///
/// ```
/// enqueue ──▶ memory front ──(spill: writer thread)──▶ spool on disk ──(read)──▶ replay ──▶ requests
///   (receivers; never I/O)  │                                                       ▲
///                           └──────────── straight to requests while the spool is empty
/// ```
///
/// Order is FIFO: while the spool holds anything, requests are made from it (oldest first)
/// and newer batches wait in the memory front until they are spilled behind it; only when the
/// spool is empty are requests made from memory. A healthy output never touches the disk:
/// the writer spills only when (a) its requests fail (the memory front, and the request it
/// holds, go to disk at least every `flush_interval`), (b) the spool already holds data, or
/// (c) more than `spillThresholdBytes` wait in memory (the server is slower than the input).
///
/// Locking: the memory side (the front, the replay buffer, the levels mirrored from the spool)
/// is guarded by the output's lock like any `BatchQueue`. The `Spool` is guarded by `io`, a
/// lock of its own that only the output's writer thread takes (and shutdown, once the writer
/// has ended or is stuck in a request): disk I/O and compression never happen under the
/// output's lock, so `enqueue` never waits for the disk. Each disk step is three calls: take
/// what to write under the output's lock, write it under `io`, commit the result under the
/// output's lock.
public final class SpoolingBatchQueue: BatchQueue, @unchecked Sendable {  // see "Locking" above
    /// The bound of the memory front (`queue_size`): reached only when the writer cannot spill
    /// in time (a request hanging up to `timeout`, or the spool failing); then the oldest
    /// batches are dropped and counted, as without a spool.
    public let limitBytes: Int
    /// A healthy output spills when more than this waits in memory (`spool_memory`).
    public let spillThresholdBytes: Int
    /// The spool's directory, for logs.
    public let directory: String

    // Under the output's lock.
    private let memory: MemoryBatchQueue
    private var replay: [(batch: LineProtocolBatch, ordinal: Int)] = []
    private var replayHead = 0
    private var replayLevel = QueueLevel()
    /// Unread records on disk (a record is one batch once read back).
    private var diskLevel = QueueLevel()
    /// Batches taken out of memory and being written.
    private var spillingLevel = QueueLevel()
    private var nextSync: UInt64?
    private var nextExpiryCheck: UInt64 = 0
    /// No spill before this monotonic time (after a write error).
    private(set) var unavailableUntil: UInt64 = 0
    /// The spool was closed (at shutdown): the queue is memory only from now on.
    private(set) var isClosed = false

    /// The spool, under its own lock.
    private let io: ConditionLock<SpoolBox>

    final class SpoolBox {
        var spool: Spool?
        init(_ spool: Spool) { self.spool = spool }
    }

    /// How long the writer leaves the spool alone after a write error.
    static let retryAfterErrorNanoseconds: UInt64 = 10_000_000_000
    /// How often records past `spool_max_age` are looked for while the spool holds data.
    static let expiryCheckNanoseconds: UInt64 = 5_000_000_000

    /// A queue over an opened spool. The queue owns the spool from now on.
    public init(spool: Spool, memoryLimitBytes: Int, spillThresholdBytes: Int) {
        limitBytes = max(memoryLimitBytes, 0)
        self.spillThresholdBytes = max(0, min(spillThresholdBytes, limitBytes))
        directory = spool.options.directory
        memory = MemoryBatchQueue(limitBytes: memoryLimitBytes)
        diskLevel = QueueLevel(batches: spool.unreadRecords, lines: spool.unreadLines, bytes: spool.unreadBytes)
        nextSync = spool.syncDue
        io = ConditionLock(SpoolBox(spool))
    }

    // MARK: - BatchQueue (under the output's lock)

    public var count: Int { memory.count + spillingLevel.batches + replayLevel.batches + diskLevel.batches }
    public var lines: Int { memory.lines + spillingLevel.lines + replayLevel.lines + diskLevel.lines }
    public var bytes: Int { memory.bytes + spillingLevel.bytes + replayLevel.bytes + diskLevel.bytes }

    public func push(_ batch: LineProtocolBatch) -> QueueOverflow {
        memory.push(batch)
    }

    /// The spool holds data not yet taken into a request: requests come from it, not from memory.
    public var isReplaying: Bool { replayLevel.batches > 0 || diskLevel.batches > 0 }

    public func peekFront() -> LineProtocolBatch? {
        if isReplaying { return replayHead < replay.count ? replay[replayHead].batch : nil }
        return memory.peekFront()
    }

    public func popFront() -> LineProtocolBatch? {
        if isReplaying { return popReplay()?.batch }
        return memory.popFront()
    }

    public var incoming: QueueLevel { QueueLevel(batches: memory.count, lines: memory.lines, bytes: memory.bytes) }

    public var ready: QueueLevel { isReplaying ? replayLevel : incoming }

    /// The next batch read back from the spool, with its ordinal (for the acknowledgement).
    func peekReplay() -> LineProtocolBatch? {
        replayHead < replay.count ? replay[replayHead].batch : nil
    }

    func popReplay() -> (batch: LineProtocolBatch, ordinal: Int)? {
        guard replayHead < replay.count else { return nil }
        let entry = replay[replayHead]
        replayHead += 1
        replayLevel.batches -= 1
        replayLevel.lines -= entry.batch.lines
        replayLevel.bytes -= entry.batch.byteCount
        if replayHead == replay.count {
            replay.removeAll(keepingCapacity: true)
            replayHead = 0
        }
        return entry
    }

    /// Nothing read back waits and records are unread on disk: the writer reads next.
    var needsRead: Bool { replayLevel.batches == 0 && diskLevel.batches > 0 && !isClosed }

    /// Unread records on disk.
    var hasUnread: Bool { diskLevel.batches > 0 }

    /// When the writer has upkeep to do (a sync, or looking for expired records), if ever.
    var maintenanceDue: UInt64? {
        guard !isClosed else { return nil }
        let expiry: UInt64? = diskLevel.batches > 0 ? nextExpiryCheck : nil
        switch (nextSync, expiry) {
        case let (a?, b?): return min(a, b)
        case let (a?, nil): return a
        case let (nil, b?): return b
        case (nil, nil): return nil
        }
    }

    /// Takes every batch out of the memory front to be spilled (they count as held meanwhile).
    func takeMemoryFront() -> [LineProtocolBatch] {
        var batches: [LineProtocolBatch] = []
        batches.reserveCapacity(memory.count)
        while let batch = memory.popFront() { batches.append(batch) }
        for batch in batches {
            spillingLevel.batches += 1
            spillingLevel.lines += batch.lines
            spillingLevel.bytes += batch.byteCount
        }
        return batches
    }

    // MARK: - Disk steps (the writer thread)

    /// The spool's levels after a disk step, to mirror under the output's lock.
    struct Snapshot {
        var unread = QueueLevel()
        var syncDue: UInt64?
        var open = false
    }

    /// What a spill did.
    struct SpillResult {
        /// The record of each request written as outstanding (nil: not written).
        var requestOrdinals: [Int?] = []
        var spilledBatches = 0
        var spilledLines = 0
        /// Batches of the memory front that could not be written (an I/O error), in order.
        var notWritten: [LineProtocolBatch] = []
        var error: SpoolError?
        var loss = SpoolLoss()
        var snapshot = Snapshot()
        /// What `takeMemoryFront` took for this spill.
        var taken = QueueLevel()
    }

    private func snapshot(_ spool: Spool?) -> Snapshot {
        guard let spool else { return Snapshot() }
        return Snapshot(unread: QueueLevel(batches: spool.unreadRecords, lines: spool.unreadLines, bytes: spool.unreadBytes),
                        syncDue: spool.syncDue, open: true)
    }

    /// Outside the output's lock: writes each of `requests` as one outstanding record (the
    /// writer holds them; only when nothing is unread), then `batches` as unread records of at
    /// most `recordLines` lines and `recordBytes` bytes. `clock` is the output's.
    func write(requests: [[LineProtocolBatch]], batches: [LineProtocolBatch], recordLines: Int, recordBytes: Int,
               clock: any Clock) -> SpillResult {
        io.withLock { box in
            var result = SpillResult()
            for batch in batches {
                result.taken.batches += 1
                result.taken.lines += batch.lines
                result.taken.bytes += batch.byteCount
            }
            guard let spool = box.spool else {
                result.requestOrdinals = requests.map { _ in nil }
                result.notWritten = batches
                return result
            }
            for request in requests {
                let written = spool.append(request, recordLines: .max, recordBytes: .max, outstanding: true,
                                           nowWall: clock.wallNow(), nowMonotonic: clock.monotonicNow())
                result.requestOrdinals.append(written.ordinals.count == 1 ? written.ordinals[0] : nil)
                result.loss.fullRecords += written.loss.fullRecords
                result.loss.fullLines += written.loss.fullLines
                if let error = written.error { result.error = error }
            }
            if !batches.isEmpty {
                let written = spool.append(batches, recordLines: recordLines, recordBytes: recordBytes,
                                           nowWall: clock.wallNow(), nowMonotonic: clock.monotonicNow())
                result.notWritten = written.notWritten
                result.loss.fullRecords += written.loss.fullRecords
                result.loss.fullLines += written.loss.fullLines
                if let error = written.error { result.error = error }
                result.spilledBatches = batches.count - written.notWritten.count
                result.spilledLines = written.lines
            }
            result.snapshot = snapshot(spool)
            return result
        }
    }

    /// Under the output's lock: the spill is over. Batches not written go back to the front of
    /// memory (in order); what that pushes past the bound is returned, to be counted.
    func finishSpill(_ result: SpillResult, now: UInt64) -> QueueOverflow {
        spillingLevel.batches -= result.taken.batches
        spillingLevel.lines -= result.taken.lines
        spillingLevel.bytes -= result.taken.bytes
        commit(result.snapshot)
        if result.error != nil { unavailableUntil = now &+ Self.retryAfterErrorNanoseconds }
        return result.notWritten.isEmpty ? .none : memory.pushFront(result.notWritten)
    }

    /// What a read did.
    struct ReadResult {
        var records: [SpoolReadRecord] = []
        var loss = SpoolLoss()
        var snapshot = Snapshot()
    }

    /// Outside the output's lock: reads the next records, about one request's worth.
    func read(maxLines: Int, maxBytes: Int, clock: any Clock) -> ReadResult {
        io.withLock { box in
            guard let spool = box.spool else { return ReadResult() }
            let (records, loss) = spool.read(maxLines: maxLines, maxBytes: maxBytes, nowWall: clock.wallNow(),
                                             nowMonotonic: clock.monotonicNow())
            return ReadResult(records: records, loss: loss, snapshot: snapshot(spool))
        }
    }

    /// Under the output's lock: the records read join the replay buffer.
    func finishRead(_ result: ReadResult) {
        for record in result.records {
            replay.append((record.batch, record.ordinal))
            replayLevel.batches += 1
            replayLevel.lines += record.batch.lines
            replayLevel.bytes += record.batch.byteCount
        }
        commit(result.snapshot)
    }

    /// Outside the output's lock: the spool records through `ordinal` were delivered.
    func acknowledge(through ordinal: Int) {
        io.withLock { box in box.spool?.acknowledge(through: ordinal) }
    }

    /// Outside the output's lock: expiry and the interval sync.
    func maintain(clock: any Clock) -> (loss: SpoolLoss, snapshot: Snapshot) {
        io.withLock { box in
            guard let spool = box.spool else { return (SpoolLoss(), Snapshot()) }
            let loss = spool.maintain(nowWall: clock.wallNow(), nowMonotonic: clock.monotonicNow())
            return (loss, snapshot(spool))
        }
    }

    /// Under the output's lock, after `maintain`.
    func finishMaintenance(_ snapshot: Snapshot, now: UInt64) {
        nextExpiryCheck = now &+ Self.expiryCheckNanoseconds
        commit(snapshot)
    }

    /// Syncs and closes the spool; returns the lines it still holds for the next start.
    func close() -> (records: Int, lines: Int) {
        io.withLock { box in
            guard let spool = box.spool else { return (0, 0) }
            let held = (spool.undeliveredRecords, spool.undeliveredLines)
            spool.close()
            box.spool = nil
            return held
        }
    }

    /// Under the output's lock, after `close`: memory only from now on. What was read back
    /// or is unread stays on disk (not counted as held any more).
    func markClosed() {
        isClosed = true
        replay.removeAll()
        replayHead = 0
        replayLevel = QueueLevel()
        diskLevel = QueueLevel()
        nextSync = nil
    }

    private func commit(_ snapshot: Snapshot) {
        guard snapshot.open else { return }
        diskLevel = snapshot.unread
        nextSync = snapshot.syncDue
    }
}
