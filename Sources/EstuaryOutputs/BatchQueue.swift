import EstuaryRuntime

/// What a push threw away to stay within the queue's bound (the oldest batches first).
public struct QueueOverflow: Sendable, Equatable {
    public var batches: Int
    public var lines: Int
    public var bytes: Int

    public init(batches: Int = 0, lines: Int = 0, bytes: Int = 0) {
        self.batches = batches
        self.lines = lines
        self.bytes = bytes
    }

    public static let none = QueueOverflow()
    public var isEmpty: Bool { batches == 0 }
}

/// How much a queue, or a part of it, holds.
public struct QueueLevel: Sendable, Equatable {
    public var batches: Int
    public var lines: Int
    public var bytes: Int

    public init(batches: Int = 0, lines: Int = 0, bytes: Int = 0) {
        self.batches = batches
        self.lines = lines
        self.bytes = bytes
    }
}

/// The batches an output holds until the server takes them, oldest first, bounded by bytes.
///
/// The output's writer takes from the front (`peekFront` to see whether the next batch still
/// fits its request, then `popFront`), receivers push at the back. A push that would pass
/// `limitBytes` drops the oldest batches and reports them, so the output can count them
/// (`dropped_lines{reason=queue_full}`). A batch larger than the whole bound is itself dropped.
///
/// Implementations are not thread-safe: the output calls them under its own lock. The
/// in-memory queue is `MemoryBatchQueue`; `SpoolingBatchQueue` puts a durable spool on disk
/// behind a memory front.
public protocol BatchQueue: AnyObject {
    /// Batches waiting.
    var count: Int { get }
    /// Lines waiting (the sum of the batches' `lines`).
    var lines: Int { get }
    /// Bytes of line protocol waiting.
    var bytes: Int { get }
    /// The bound on `bytes`.
    var limitBytes: Int { get }
    /// Appends `batch` at the back, dropping the oldest batches as needed to stay within
    /// `limitBytes`; returns what was dropped.
    func push(_ batch: LineProtocolBatch) -> QueueOverflow
    /// The oldest batch, left in the queue.
    func peekFront() -> LineProtocolBatch?
    /// Removes and returns the oldest batch.
    func popFront() -> LineProtocolBatch?
    /// What arrived in memory and was not written anywhere yet; `enqueue` wakes the writer on
    /// it. All of the queue unless part of it is on disk.
    var incoming: QueueLevel { get }
    /// What the writer can take from the front now, without disk I/O. All of the queue unless
    /// part of it is on disk.
    var ready: QueueLevel { get }
}

extension BatchQueue {
    public var incoming: QueueLevel { QueueLevel(batches: count, lines: lines, bytes: bytes) }
    public var ready: QueueLevel { QueueLevel(batches: count, lines: lines, bytes: bytes) }
}

/// A `BatchQueue` in memory: a ring buffer of batch references (the bytes are shared with the
/// other outputs, never copied), bounded by the bytes of line protocol it holds.
public final class MemoryBatchQueue: BatchQueue {
    public let limitBytes: Int
    public private(set) var count = 0
    public private(set) var lines = 0
    public private(set) var bytes = 0

    private var ring: [LineProtocolBatch?]
    private var head = 0

    public init(limitBytes: Int) {
        self.limitBytes = max(limitBytes, 0)
        ring = Array(repeating: nil, count: 16)
    }

    public func push(_ batch: LineProtocolBatch) -> QueueOverflow {
        var overflow = QueueOverflow()
        if batch.byteCount > limitBytes {
            // Larger than the whole bound: keeping it would mean dropping everything else and
            // still passing the bound. Drop it alone.
            overflow.batches = 1
            overflow.lines = batch.lines
            overflow.bytes = batch.byteCount
            return overflow
        }
        while bytes + batch.byteCount > limitBytes, let oldest = popFront() {
            overflow.batches += 1
            overflow.lines += oldest.lines
            overflow.bytes += oldest.byteCount
        }
        if count == ring.count { grow() }
        ring[(head + count) % ring.count] = batch
        count += 1
        lines += batch.lines
        bytes += batch.byteCount
        return overflow
    }

    public func peekFront() -> LineProtocolBatch? {
        count == 0 ? nil : ring[head]
    }

    public func popFront() -> LineProtocolBatch? {
        guard count > 0, let batch = ring[head] else { return nil }
        ring[head] = nil
        head = (head + 1) % ring.count
        count -= 1
        lines -= batch.lines
        bytes -= batch.byteCount
        if count == 0 { head = 0 }
        return batch
    }

    /// Puts batches taken from the front back at the front, in their order (after a spool
    /// write failed). Passing the bound drops the oldest, as `push` does.
    func pushFront(_ batches: [LineProtocolBatch]) -> QueueOverflow {
        for batch in batches.reversed() {
            if count == ring.count { grow() }
            head = (head - 1 + ring.count) % ring.count
            ring[head] = batch
            count += 1
            lines += batch.lines
            bytes += batch.byteCount
        }
        var overflow = QueueOverflow()
        while bytes > limitBytes, let oldest = popFront() {
            overflow.batches += 1
            overflow.lines += oldest.lines
            overflow.bytes += oldest.byteCount
        }
        return overflow
    }

    private func grow() {
        var bigger: [LineProtocolBatch?] = Array(repeating: nil, count: ring.count * 2)
        for i in 0..<count { bigger[i] = ring[(head + i) % ring.count] }
        ring = bigger
        head = 0
    }
}
