import EstuaryRuntime
import EstuaryWire

/// A destination of batches (an InfluxDB output, or a test's sink). `enqueue` must never
/// block the caller: receivers call it from their read queues.
public protocol PipelineOutput: AnyObject, Sendable {
    var name: String { get }
    func enqueue(_ batch: LineProtocolBatch)
    /// Start stopping without waiting: stop taking batches, send what is queued until
    /// `deadline`. The daemon calls it on every output first, then `drain` on each, so the
    /// outputs flush at the same time.
    func beginDrain(until deadline: UInt64)
    /// Stop taking batches and send what is queued until `deadline` (MonotonicClock ns);
    /// returns when done, with what was left.
    func drain(until deadline: UInt64) -> PipelineOutputReport
    /// The output's condition, for `/health` (any thread; must not block for long).
    var health: OutputHealth { get }
}

extension PipelineOutput {
    public func beginDrain(until deadline: UInt64) {}

    /// An output that reports nothing of itself is taken as healthy.
    public var health: OutputHealth { OutputHealth(name: name, state: "unknown", healthy: true) }
}

/// What `/health` says of an output.
public struct OutputHealth: Sendable, Equatable {
    public var name: String
    /// The output's state (`idle`, `ok`, `retrying`, `down`, ...).
    public var state: String
    /// Whether the state counts as healthy for the endpoint's status code.
    public var healthy: Bool
    /// What the output holds in memory and in its writer's hands.
    public var queuedBatches: Int
    public var queuedLines: Int
    public var queuedBytes: Int
    /// When a request was last accepted (wall clock, ns since the epoch).
    public var lastSuccess: Int64?
    public var lastError: String?
    public var consecutiveFailures: Int

    public init(name: String, state: String, healthy: Bool, queuedBatches: Int = 0, queuedLines: Int = 0, queuedBytes: Int = 0,
                lastSuccess: Int64? = nil, lastError: String? = nil, consecutiveFailures: Int = 0) {
        self.name = name
        self.state = state
        self.healthy = healthy
        self.queuedBatches = queuedBatches
        self.queuedLines = queuedLines
        self.queuedBytes = queuedBytes
        self.lastSuccess = lastSuccess
        self.lastError = lastError
        self.consecutiveFailures = consecutiveFailures
    }
}

/// What an output could not send before its shutdown deadline: kept in its spool for the
/// next start, or lost.
public struct PipelineOutputReport: Sendable {
    /// Lost: neither sent nor spilled.
    public var unsentBatches: Int
    public var unsentLines: Int
    /// Written to the spool at shutdown.
    public var spilledBatches: Int
    public var spilledLines: Int
    /// Lines in the spool for the next start (those spilled at shutdown included).
    public var spoolLines: Int

    public init(unsentBatches: Int, unsentLines: Int, spilledBatches: Int = 0, spilledLines: Int = 0, spoolLines: Int = 0) {
        self.unsentBatches = unsentBatches
        self.unsentLines = unsentLines
        self.spilledBatches = spilledBatches
        self.spilledLines = spilledLines
        self.spoolLines = spoolLines
    }
}

/// Hands every sealed batch to every output. The batch's bytes are encoded once and
/// shared; each output keeps its own queue, so a slow or dead output delays only itself.
public final class Router: Sendable {
    public let outputs: [any PipelineOutput]
    private let batches: Counter
    private let lines: Counter

    public init(outputs: [any PipelineOutput], metrics: SelfMetrics) {
        self.outputs = outputs
        batches = metrics.counter("estuary_pipeline", "batches")
        lines = metrics.counter("estuary_pipeline", "lines")
    }

    public func route(_ batch: LineProtocolBatch) {
        guard batch.lines > 0 else { return }
        batches.add()
        lines.add(batch.lines)
        for output in outputs { output.enqueue(batch) }
    }
}

/// Collects the line protocol a receiver writes and hands it to the router as sealed
/// batches: when `batchLines` lines are waiting, or the oldest line has waited
/// `batchInterval` seconds. Confined to the receiver's queue.
public final class BatchAssembler: @unchecked Sendable {  // confined to one receiver queue
    public let buffer = ByteBuffer(capacity: 256 * 1024)
    private let router: Router
    private let source: String
    private let batchLines: Int
    private let batchInterval: UInt64
    private let clock: any Clock
    private var lines = 0
    private var firstLineAt: UInt64 = 0

    /// `clock` says when lines arrive and when the oldest has waited long enough.
    public init(router: Router, source: String, batchLines: Int, batchInterval: Double, clock: any Clock = SystemClock()) {
        self.router = router
        self.source = source
        self.batchLines = max(1, batchLines)
        self.batchInterval = UInt64(max(0.001, batchInterval) * 1e9)
        self.clock = clock
    }

    /// `added` lines were just written to `buffer`.
    @inline(__always)
    public func wrote(lines added: Int) {
        guard added > 0 else { return }
        if lines == 0 { firstLineAt = clock.monotonicNow() }
        lines += added
        if lines >= batchLines { seal() }
    }

    /// Seals the batch if its oldest line is old enough (called from the receiver's tick).
    public func tick() {
        if isDue { seal() }
    }

    /// Lines wait and the oldest has waited `batchInterval` by the clock.
    public var isDue: Bool {
        lines > 0 && clock.monotonicNow() &- firstLineAt >= batchInterval
    }

    /// Hands over whatever is waiting.
    public func seal() {
        guard lines > 0 else {
            buffer.removeAll()
            return
        }
        let batch = LineProtocolBatch(bytes: buffer.bytes, lines: lines, source: source, receivedAt: firstLineAt)
        buffer.removeAll()
        lines = 0
        router.route(batch)
    }
}
