import EstuaryCompression
import EstuaryRuntime
import EstuarySpool
import Logging

/// Writes line-protocol batches to one InfluxDB server over HTTP (v1 `/write` or v2
/// `/api/v2/write`), from a bounded queue, on its own thread.
///
/// Receivers and the pipeline call `enqueue`, which never blocks on I/O: it appends the batch
/// to the queue (dropping the oldest batches, counted, when the queue is over its byte bound)
/// and wakes the writer when a request's worth is waiting. With a `SpoolingBatchQueue` the
/// writer also moves batches between memory and the spool on disk, on its own thread (see
/// that type). The writer thread owns one libcurl
/// handle (keep-alive), takes queued batches into requests of at most `batchSize` lines and
/// `batchBytes` bytes (whole batches; a batch is only cut on a 413), sends a partial request
/// at least every `flushInterval`, gzips the body, and acts on each answer as
/// `InfluxWriteOutcome` classifies it: accepted, partly stored, rejected, kept and retried with
/// backoff, kept and retried slowly, or split. See Docs/outputs.md.
public final class InfluxDBOutput: Sendable {
    /// The configuration the output was made with.
    public let configuration: InfluxDBOutputConfiguration
    /// The output's self-metrics (`estuary_output`, `instance` = name).
    public let metrics: OutputMetrics

    let logger: Logger
    let endpoint: InfluxEndpoint
    let policy: RetryPolicy
    let shared: ConditionLock<SharedState>
    /// The queue, when it has a spool on disk.
    let spooling: SpoolingBatchQueue?
    /// What the output decides by (flush interval, back-off, deadlines).
    let clock: any Clock

    /// What the writer thread and the callers share, under `shared`'s mutex.
    final class SharedState {
        let queue: any BatchQueue
        /// When the oldest waiting line arrived (monotonic ns), nil when the queue is empty.
        var oldestWaitingSince: UInt64?
        /// When the writer's first held request may be sent (monotonic ns; 0: at once).
        var nextAttemptAt: UInt64 = 0
        /// What the writer holds outside the queue (in flight or waiting to be retried).
        var heldBatches = 0
        var heldLines = 0
        var heldBytes = 0
        /// The writer sleeps and new batches may give it work: enqueue must wake it.
        var writerSleeping = false
        /// The writer is in an HTTP request, holding `inFlight` (its requests' batches, and
        /// whether they are in the spool already): what shutdown spills if that request hangs.
        var inRequest = false
        var inFlight: [(batches: [LineProtocolBatch], inSpool: Bool)] = []
        var started = false
        var stopping = false
        var deadline: UInt64 = .max
        var finished = false
        var report: OutputShutdownReport?
        var thread: WriterThread?
        var state: OutputStatus.State = .idle
        var lastSuccess: Int64?
        var lastError: String?
        var lastErrorAt: Int64?
        var consecutiveFailures = 0
        var enqueueLog = LogLimiter()

        init(queue: any BatchQueue) { self.queue = queue }

        /// The back-off of the first held request is over at `now`.
        func retryDue(at now: UInt64) -> Bool { now >= nextAttemptAt }
    }

    /// An output with an in-memory queue of `configuration.queueLimitBytes`.
    public convenience init(configuration: InfluxDBOutputConfiguration, metrics: SelfMetrics, logger: Logger,
                            clock: any Clock = SystemClock()) {
        self.init(configuration: configuration, metrics: metrics, logger: logger,
                  queue: MemoryBatchQueue(limitBytes: configuration.queueLimitBytes), clock: clock)
    }

    /// An output over the given queue (a durable spool, or a queue a test controls). The output
    /// owns the queue from now on; nothing else may touch it. `clock` decides when a partial
    /// request is due, when a failed one is retried, and when the shutdown deadline is reached.
    public init(configuration: InfluxDBOutputConfiguration, metrics: SelfMetrics, logger: Logger, queue: any BatchQueue,
                clock: any Clock = SystemClock()) {
        self.configuration = configuration
        self.clock = clock
        self.metrics = OutputMetrics(registry: metrics, instance: configuration.name)
        var logger = logger
        logger[metadataKey: "output.name"] = .string(configuration.name)
        logger[metadataKey: "output.url"] = .string(configuration.url)
        self.logger = logger
        endpoint = InfluxEndpoint(configuration: configuration)
        policy = RetryPolicy(initial: configuration.retryInitial, maximum: configuration.retryMax)
        shared = ConditionLock(SharedState(queue: queue))
        spooling = queue as? SpoolingBatchQueue
    }

    /// Starts the writer thread. Calling it again, or after `shutdown`, does nothing.
    public func start() {
        let begin: Bool = shared.withLock { s in
            if s.started || s.stopping { return false }
            s.started = true
            return true
        }
        guard begin else { return }
        do {
            try configuration.validate()
        } catch {
            logger.error("InfluxDB output misconfigured; requests will fail and be retried slowly",
                         metadata: ["error": "\(error)"])
        }
        let thread = WriterThread.start(name: "estuary-out") { [self] in
            let writer = Writer(output: self)
            writer.run()
        }
        shared.withLock { s in
            s.thread = thread
            if thread == nil {
                // No thread: nothing will send. Keep taking batches until shutdown reports them.
                s.started = false
            }
        }
        if thread == nil {
            logger.critical("could not start the InfluxDB output's writer thread; batches are kept until shutdown")
        }
    }

    /// Hands a batch to the output. Never blocks on I/O: the batch is queued (the oldest
    /// batches are dropped and counted when the queue is full) and the writer woken if needed.
    /// After `shutdown` the batch is dropped and counted (`reason=shutdown`).
    public func enqueue(_ batch: LineProtocolBatch) {
        guard batch.lines > 0, batch.byteCount > 0 else { return }
        let now = clock.monotonicNow()
        var logQueueFull: (lines: Int, suppressed: Int)? = nil
        var logShutdown: Int? = nil
        let wake: Bool = shared.withLock { s in
            if s.stopping {
                metrics.droppedShutdown.add(batch.lines)
                if s.enqueueLog.admit("enqueue_after_shutdown", now: now) != nil { logShutdown = batch.lines }
                return false
            }
            let wasEmpty = s.queue.incoming.batches == 0
            let overflow = s.queue.push(batch)
            if !overflow.isEmpty {
                metrics.droppedQueueFull.add(overflow.lines)
                if let suppressed = s.enqueueLog.admit("queue_full", now: now) {
                    logQueueFull = (overflow.lines, suppressed)
                }
            }
            let incoming = s.queue.incoming
            if incoming.batches == 0 {
                s.oldestWaitingSince = nil
            } else if wasEmpty || s.oldestWaitingSince == nil {
                s.oldestWaitingSince = now
            }
            publishDepth(s)
            guard s.writerSleeping else { return false }
            return wasEmpty || incoming.lines >= configuration.batchSize || incoming.bytes >= configuration.batchBytes
                || (spooling.map { incoming.bytes > $0.spillThresholdBytes } ?? false)
        }
        if wake { shared.signal() }
        if let (lines, suppressed) = logQueueFull {
            logger.warning("queue full (\(configuration.queueLimitBytes) bytes): dropped the oldest batches",
                           metadata: ["output.dropped_lines": "\(lines)", "output.reason": "queue_full",
                                      "log.suppressed": "\(suppressed)"])
        }
        if let lines = logShutdown {
            logger.warning("batch handed to an output that is shutting down: dropped",
                           metadata: ["output.dropped_lines": "\(lines)", "output.reason": "shutdown"])
        }
    }

    /// Stops taking batches and tells the writer to send what it holds until `deadline`
    /// (monotonic ns of the output's clock: `MonotonicClock` by default), without waiting:
    /// `shutdown` then waits. Lets a daemon stop all its outputs at once, so one output's dead
    /// server does not eat the others' time.
    public func beginShutdown(deadline: UInt64) {
        shared.withLock { s in
            guard !s.stopping else { return }
            s.stopping = true
            s.deadline = deadline
            if s.started { s.state = .stopping }
        }
        shared.broadcast()
    }

    /// Stops taking batches, keeps sending what is held until `deadline` (monotonic ns of the
    /// output's clock), then stops the writer thread. Blocks until the writer has ended or
    /// shortly after the deadline. With a spool, what was not sent is spilled to it (and sent
    /// after the next start); what could be neither sent nor spilled is counted
    /// (`dropped_lines{reason=shutdown}`). Calling it again returns the same report.
    ///
    /// The writer gets 2 s past the deadline to end. Disk work (the final spill) is waited for
    /// (up to 5 minutes: a hung disk); an HTTP request that libcurl has not given up on is not:
    /// then what is held is reported from here — spilled when the spool can take it (the stuck
    /// request included, so it may be sent twice, which InfluxDB stores once).
    public func shutdown(deadline: UInt64) -> OutputShutdownReport {
        beginShutdown(deadline: deadline)
        let graceNanoseconds: UInt64 = 2_000_000_000
        let diskGraceNanoseconds: UInt64 = 300_000_000_000
        let (report, thread): (OutputShutdownReport, WriterThread?) = shared.withLockWaiting { s, waiter in
            // The writer may have ended already (woken by beginShutdown): it still has to be
            // joined, once (the first caller takes the thread).
            if let report = s.report {
                let thread = s.finished ? s.thread : nil
                s.thread = nil
                return (report, thread)
            }
            if !s.started {
                // No writer: everything queued is unsent (or spilled).
                let report = disposeWithoutWriter(s)
                s.finished = true
                s.state = .stopped
                publishDepth(s)
                return (report, nil)
            }
            // The deadline is on the output's clock; the grace for a stuck writer is real time.
            let system = SystemClock()
            let base = max(clock.sleepDeadline(until: deadline), system.monotonicNow())
            let limit = base > UInt64.max - diskGraceNanoseconds ? UInt64.max : base + graceNanoseconds
            let diskLimit = base > UInt64.max - diskGraceNanoseconds ? UInt64.max : base + diskGraceNanoseconds
            while !s.finished {
                let now = system.monotonicNow()
                if now >= diskLimit || (now >= limit && s.inRequest) { break }
                waiter.wait(untilMonotonic: now < limit ? limit : min(diskLimit, now + 100_000_000))
            }
            if let report = s.report {
                let thread = s.finished ? s.thread : nil
                s.thread = nil
                return (report, thread)
            }
            // The writer is stuck past the deadline (a request libcurl has not given up on):
            // report what is held now; the writer will not count it again.
            let report = disposeWithoutWriter(s)
            // Never joined: let the thread end on its own when libcurl returns.
            s.thread?.detach()
            s.thread = nil
            return (report, nil)
        }
        thread?.join()
        if report.unsentLines > 0 {
            logger.warning("shut down with data unsent",
                           metadata: ["output.unsent_batches": "\(report.unsentBatches)",
                                      "output.unsent_lines": "\(report.unsentLines)",
                                      "output.unsent_bytes": "\(report.unsentBytes)"])
        }
        if report.spilledLines > 0 || report.spoolLines > 0 {
            logger.notice("shut down: the rest is in the spool and is sent after the next start",
                          metadata: ["output.spilled_lines": "\(report.spilledLines)",
                                     "output.spilled_batches": "\(report.spilledBatches)",
                                     "spool.lines": "\(report.spoolLines)", "spool.directory": .string(spooling?.directory ?? "")])
        }
        return report
    }

    /// Whether the writer may send its first held request now by the output's clock (true
    /// when it holds none or the request has not failed): the back-off decision, for tests.
    var retryIsDue: Bool {
        shared.withLock { s in s.retryDue(at: clock.monotonicNow()) }
    }

    /// Wakes the writer to decide again, as a timer would (for tests that moved the clock).
    func wakeWriter() {
        shared.broadcast()
    }

    /// The output's state, what it holds, its last success and its last error.
    public var status: OutputStatus {
        shared.withLock { s in
            OutputStatus(state: s.state,
                         queuedBatches: s.queue.count + s.heldBatches,
                         queuedLines: s.queue.lines + s.heldLines,
                         queuedBytes: s.queue.bytes + s.heldBytes,
                         lastSuccess: s.lastSuccess,
                         lastError: s.lastError,
                         lastErrorAt: s.lastErrorAt,
                         consecutiveFailures: s.consecutiveFailures)
        }
    }

    /// Shutdown without the writer (never started, or stuck in a request), with the lock held:
    /// the memory front and what the writer held are spilled when there is an open spool, the
    /// rest is unsent. Sets `s.report`. Disk I/O under the output's lock is acceptable here:
    /// nothing but late batches (dropped anyway) waits for it.
    func disposeWithoutWriter(_ s: SharedState) -> OutputShutdownReport {
        var report: OutputShutdownReport
        if let spooling, !spooling.isClosed {
            var leftovers: [LineProtocolBatch] = []
            for held in s.inFlight where !held.inSpool { leftovers += held.batches }
            leftovers += spooling.takeMemoryFront()
            report = spillLeftovers(leftovers, into: spooling)
            spooling.markClosed()
            s.oldestWaitingSince = nil
        } else {
            var pending: [PendingRequest] = []
            for held in s.inFlight where !held.inSpool { pending.append(PendingRequest(batches: held.batches)) }
            report = takeEverythingUnsent(s, pending: pending)
        }
        s.heldBatches = 0
        s.heldLines = 0
        s.heldBytes = 0
        s.inFlight = []
        s.report = report
        return report
    }

    /// Writes the batches left at shutdown to the spool (as unread records, sent after the next
    /// start), closes it, and reports what was spilled and what could not be (counted as
    /// dropped at shutdown). Any thread; takes only the spool's lock.
    func spillLeftovers(_ leftovers: [LineProtocolBatch], into spooling: SpoolingBatchQueue) -> OutputShutdownReport {
        var report = OutputShutdownReport()
        if !leftovers.isEmpty {
            let result = spooling.write(requests: [], batches: leftovers, recordLines: configuration.batchSize,
                                        recordBytes: configuration.batchBytes, clock: clock)
            _ = spooling.finishSpill(result, now: clock.monotonicNow())  // nothing goes back: the queue is done
            report.spilledBatches = result.spilledBatches
            report.spilledLines = result.spilledLines
            report.spilledBytes = leftovers.reduce(0) { $0 + $1.byteCount }
            for batch in result.notWritten {
                report.unsentBatches += 1
                report.unsentLines += batch.lines
                report.unsentBytes += batch.byteCount
            }
            report.spilledBytes -= report.unsentBytes
            metrics.droppedShutdown.add(report.unsentLines)
            // Lines the full spool dropped to take these (counted as spool_full) are lost too.
            report.unsentLines += result.loss.fullLines
            if let error = result.error {
                logger.error("could not spill to the spool at shutdown: the rest is lost",
                             metadata: ["error": "\(error)", "output.unsent_lines": "\(report.unsentLines)"])
            }
        }
        let held = spooling.close()
        report.spoolLines = held.lines
        return report
    }

    /// Empties the queue and the given pending requests into a report, counting them as
    /// dropped at shutdown. Called with the lock held.
    func takeEverythingUnsent(_ s: SharedState, pending: [PendingRequest]) -> OutputShutdownReport {
        var report = OutputShutdownReport()
        for request in pending {
            report.unsentBatches += request.batches.count
            report.unsentLines += request.lines
            report.unsentBytes += request.bytes
        }
        while let batch = s.queue.popFront() {
            report.unsentBatches += 1
            report.unsentLines += batch.lines
            report.unsentBytes += batch.byteCount
        }
        s.oldestWaitingSince = nil
        metrics.droppedShutdown.add(report.unsentLines)
        return report
    }

    /// Publishes the queue depth gauges. Called with the lock held.
    func publishDepth(_ s: SharedState) {
        metrics.queueLines.set(s.queue.lines + s.heldLines)
        metrics.queueBytes.set(s.queue.bytes + s.heldBytes)
    }
}

/// Requests the writer holds: taken from the queue (or a half of a split request), with the
/// body encoded once and reused by retries.
struct PendingRequest {
    var batches: [LineProtocolBatch]
    var lines: Int
    var bytes: Int
    var body: [UInt8]?
    /// The request's batches are in the spool (read back from it, or written there while the
    /// request waited): a restart sends them again until the request is done.
    var inSpool = false
    /// For batches read back from the spool, their record ordinals (parallel to `batches`).
    var ordinals: [Int] = []
    /// When the request is done, the spool's records through this ordinal are delivered.
    var acknowledgeThrough: Int?
    /// The spool could not take the request (larger than the whole spool, or a write error):
    /// it stays in memory only; not offered again.
    var spoolRefused = false

    init(batches: [LineProtocolBatch]) {
        self.batches = batches
        lines = batches.reduce(0) { $0 + $1.lines }
        bytes = batches.reduce(0) { $0 + $1.byteCount }
    }

    /// The request's batches were written to the spool as the record `ordinal`.
    mutating func spooled(as ordinal: Int) {
        inSpool = true
        ordinals = Array(repeating: ordinal, count: batches.count)
        acknowledgeThrough = ordinal
    }

    /// The request cut in two halves (by batches, else one batch by lines), nil for one line.
    /// A half acknowledges only spool records that lie wholly in it and before the other half:
    /// a record is delivered when its last part is.
    func halves() -> (PendingRequest, PendingRequest)? {
        var first: PendingRequest
        var second: PendingRequest
        if batches.count >= 2 {
            let middle = batches.count / 2
            first = PendingRequest(batches: Array(batches[..<middle]))
            second = PendingRequest(batches: Array(batches[middle...]))
            if ordinals.count == batches.count {
                first.ordinals = Array(ordinals[..<middle])
                second.ordinals = Array(ordinals[middle...])
            }
        } else {
            guard let only = batches.first, let (a, b) = PendingRequest.split(only) else { return nil }
            first = PendingRequest(batches: [a])
            second = PendingRequest(batches: [b])
            first.ordinals = ordinals
            second.ordinals = ordinals
        }
        if inSpool {
            first.inSpool = true
            second.inSpool = true
            let secondStart = second.ordinals.first ?? Int.max
            first.acknowledgeThrough = first.ordinals.last(where: { $0 < secondStart })
            second.acknowledgeThrough = acknowledgeThrough
        }
        return (first, second)
    }

    /// Cuts a batch at the line boundary nearest its middle; nil when it has one line.
    static func split(_ batch: LineProtocolBatch) -> (LineProtocolBatch, LineProtocolBatch)? {
        let bytes = batch.bytes
        var ends: [Int] = []  // offsets just past each line's newline
        for (i, b) in bytes.enumerated() where b == 0x0A { ends.append(i + 1) }
        if let last = bytes.last, last != 0x0A { ends.append(bytes.count) }
        guard ends.count >= 2 else { return nil }
        let half = ends.count / 2
        let cut = ends[half - 1]
        let first = LineProtocolBatch(bytes: Array(bytes[..<cut]), lines: half, source: batch.source, receivedAt: batch.receivedAt)
        let second = LineProtocolBatch(bytes: Array(bytes[cut...]), lines: ends.count - half, source: batch.source,
                                       receivedAt: batch.receivedAt)
        return (first, second)
    }

    /// The first line of the request (at most 300 bytes), for logs.
    var firstLine: String {
        guard let bytes = batches.first?.bytes else { return "" }
        var end = bytes.firstIndex(of: 0x0A) ?? bytes.count
        end = min(end, 300)
        return String(decoding: bytes[..<end], as: UTF8.self)
    }
}
