import EstuaryCompression
import EstuaryRuntime
import EstuarySpool
import Logging

/// The writer thread of one output: takes requests from the queue, sends them with its own
/// libcurl handle, and acts on each answer. With a spool it also does the disk work between
/// requests (spill, read back, sync, acknowledge), outside the output's lock. Lives on that
/// thread only.
final class Writer {
    let output: InfluxDBOutput
    let configuration: InfluxDBOutputConfiguration
    let metrics: OutputMetrics
    let logger: Logger
    let client: CurlHTTPClient?
    let writeURL: String
    let writeHeaders: [String]
    let flushNanoseconds: UInt64
    let spooling: SpoolingBatchQueue?
    /// The output's clock: every decision (due, retry, deadline) is made by it.
    let clock: any Clock

    /// Requests taken from the queue, oldest first (the halves of a split go to the front).
    /// When the first may be sent is `SharedState.nextAttemptAt`.
    var pending: [PendingRequest] = []
    /// Consecutive failed attempts of the first pending request (for the backoff).
    var attempt = 0
    /// `CREATE DATABASE` was tried since the last accepted write.
    var databaseCreationTried = false
    /// Failed requests since the last accepted one (for the recovery log line).
    var failuresSinceSuccess = 0
    var sawStop = false
    var log = LogLimiter()
    var random = SystemRandomNumberGenerator()

    init(output: InfluxDBOutput) {
        self.output = output
        configuration = output.configuration
        metrics = output.metrics
        logger = output.logger
        writeURL = output.endpoint.writeURL
        writeHeaders = output.endpoint.writeHeaders(gzip: output.configuration.gzip)
        flushNanoseconds = Self.nanoseconds(output.configuration.flushInterval)
        spooling = output.spooling
        clock = output.clock
        do {
            client = try CurlHTTPClient(insecureSkipVerify: output.configuration.insecureSkipVerify)
        } catch {
            client = nil
        }
    }

    static func nanoseconds(_ seconds: Double) -> UInt64 {
        guard seconds.isFinite, seconds > 0 else { return 0 }
        return seconds >= 1e9 ? UInt64(1e18) : UInt64(seconds * 1e9)
    }

    private enum Decision {
        case send(deadline: UInt64?)
        case disk(DiskStep)
        case exit
    }

    /// Disk work, decided under the output's lock and done outside it.
    private enum DiskStep {
        /// Write the first `requests` pending requests (as outstanding records) and then the
        /// memory front (already taken out of the queue).
        case spill(requests: Int, front: [LineProtocolBatch])
        /// Read about one request's worth back from the spool.
        case read
        /// Interval sync, expiry.
        case maintain
    }

    /// A request failed since the last success: the server is down, throttling or refusing.
    var failing: Bool { failuresSinceSuccess > 0 }

    func run() {
        if client == nil {
            logger.critical("libcurl could not make a handle; every request will fail and be retried")
        }
        loop: while true {
            switch decide() {
            case .send(let deadline): send(deadline: deadline)
            case .disk(let step): perform(step)
            case .exit: break loop
            }
        }
        finish()
    }

    /// Sleeps until there is something to do (a due request, a retry, disk work), or the end.
    private func decide() -> Decision {
        output.shared.withLockWaiting { s, waiter in
            while true {
                let now = clock.monotonicNow()
                if s.stopping {
                    if !sawStop {
                        // One last attempt now, whatever the backoff said: after the deadline
                        // there is no later.
                        sawStop = true
                        s.nextAttemptAt = min(s.nextAttemptAt, now)
                    }
                    if now >= s.deadline { return .exit }
                }
                let deadline: UInt64? = s.stopping ? s.deadline : nil
                var wake: UInt64? = deadline
                func wakeBy(_ time: UInt64?) {
                    guard let time else { return }
                    wake = min(wake ?? time, time)
                }
                let spool = spooling.flatMap { $0.isClosed ? nil : $0 }
                if let spool {
                    let (step, due) = diskStep(s, spool, now: now)
                    if let step { return .disk(step) }
                    wakeBy(due)
                }
                let replaying = spool?.isReplaying ?? false
                if pending.isEmpty {
                    let ready = s.queue.ready
                    if s.stopping {
                        // With a spool, what is on disk stays there for the next start.
                        if spool != nil ? (ready.batches == 0 || replaying) : s.queue.count == 0 { return .exit }
                    }
                    if ready.batches > 0 {
                        let due = replaying || (s.oldestWaitingSince.map { now >= $0 &+ flushNanoseconds } ?? true)
                        if s.stopping || due || ready.lines >= configuration.batchSize || ready.bytes >= configuration.batchBytes {
                            takeRequest(s, replaying: replaying)
                            return .send(deadline: deadline)
                        }
                        wakeBy(s.oldestWaitingSince.map { $0 &+ flushNanoseconds })
                    }
                    s.writerSleeping = true
                    waiter.wait(untilMonotonic: wake.map(clock.sleepDeadline(until:)))
                    s.writerSleeping = false
                } else {
                    // A request already in the spool waits there for the next start.
                    if s.stopping, spool != nil, pending[0].inSpool { return .exit }
                    if s.retryDue(at: now) { return .send(deadline: deadline) }
                    wakeBy(s.nextAttemptAt)
                    // With a spool, new batches may have to be spilled before the retry.
                    s.writerSleeping = spool != nil
                    waiter.wait(untilMonotonic: wake.map(clock.sleepDeadline(until:)))
                    s.writerSleeping = false
                }
            }
        }
    }

    /// The disk work due now, if any, else when some will be due. Called with the lock held.
    ///
    /// Spill: while requests fail or the spool holds data, the memory front goes to disk once
    /// it holds a request's worth or its oldest batch has waited `flush_interval` (at shutdown:
    /// at once); a healthy output with an empty spool spills only past the threshold. Pending
    /// requests still only in memory go first when nothing is unread on disk, as outstanding
    /// records: from then on every request comes from the spool until it is empty.
    private func diskStep(_ s: InfluxDBOutput.SharedState, _ spool: SpoolingBatchQueue,
                          now: UInt64) -> (DiskStep?, UInt64?) {
        var due: UInt64?
        let front = spool.incoming
        // Requests held only in memory can go to the spool only before every unread record.
        let memoryRequests = spool.hasUnread ? 0 : pending.first.map { $0.inSpool || $0.spoolRefused ? 0 : pending.count } ?? 0
        let spoolActive = spool.isReplaying || (pending.first?.inSpool ?? false)
        if now >= spool.unavailableUntil, front.batches > 0 || (memoryRequests > 0 && failing) {
            var spill = false
            if s.stopping {
                spill = failing || spoolActive
            } else if failing || spoolActive {
                let oldestDue = s.oldestWaitingSince.map { $0 &+ flushNanoseconds }
                spill = front.lines >= configuration.batchSize || front.bytes >= configuration.batchBytes
                    || (oldestDue.map { now >= $0 } ?? false) || (front.batches == 0 && memoryRequests > 0)
                if !spill { due = oldestDue }
            } else {
                spill = front.bytes > spool.spillThresholdBytes
            }
            if spill {
                let batches = spool.takeMemoryFront()
                s.oldestWaitingSince = nil
                return (.spill(requests: memoryRequests, front: batches), nil)
            }
        } else if front.batches > 0, now < spool.unavailableUntil {
            due = spool.unavailableUntil
        }
        if let maintenance = spool.maintenanceDue {
            if now >= maintenance { return (.maintain, nil) }
            due = min(due ?? maintenance, maintenance)
        }
        if !s.stopping, pending.isEmpty, spool.needsRead { return (.read, nil) }
        return (nil, due)
    }

    /// Does a disk step outside the output's lock, then commits it under the lock.
    private func perform(_ step: DiskStep) {
        guard let spool = spooling else { return }
        switch step {
        case .spill(let requestCount, let front):
            let result = spool.write(requests: pending.prefix(requestCount).map(\.batches), batches: front,
                                     recordLines: configuration.batchSize, recordBytes: configuration.batchBytes, clock: clock)
            for (index, ordinal) in result.requestOrdinals.enumerated() {
                if let ordinal {
                    pending[index].spooled(as: ordinal)
                } else {
                    pending[index].spoolRefused = true
                }
            }
            let now = clock.monotonicNow()
            let overflow: QueueOverflow = output.shared.withLock { s in
                let overflow = spool.finishSpill(result, now: now)
                if !result.notWritten.isEmpty, s.queue.incoming.batches > 0 {
                    s.oldestWaitingSince = min(s.oldestWaitingSince ?? now, now)
                }
                output.publishDepth(s)
                return overflow
            }
            if !overflow.isEmpty { metrics.droppedQueueFull.add(overflow.lines) }
            if let error = result.error {
                logLimited("spool_write", level: .error,
                           "could not write to the spool: batches kept in memory (bounded by queue_size), spool retried in 10 s",
                           ["error": .string(error.description), "spool.directory": .string(spool.directory)])
            }
        case .read:
            let result = spool.read(maxLines: configuration.batchSize, maxBytes: configuration.batchBytes, clock: clock)
            output.shared.withLock { s in
                spool.finishRead(result)
                output.publishDepth(s)
            }
        case .maintain:
            let (_, snapshot) = spool.maintain(clock: clock)
            let now = clock.monotonicNow()
            output.shared.withLock { s in
                spool.finishMaintenance(snapshot, now: now)
                output.publishDepth(s)
            }
        }
    }

    /// Moves whole batches from the queue into a new request, up to `batchSize` lines and
    /// `batchBytes` bytes (always at least one batch): from the spool's replay buffer while
    /// it is replaying, else from memory. Called with the lock held.
    private func takeRequest(_ s: InfluxDBOutput.SharedState, replaying: Bool) {
        var batches: [LineProtocolBatch] = []
        var ordinals: [Int] = []
        var lines = 0
        var bytes = 0
        func fits(_ next: LineProtocolBatch) -> Bool {
            batches.isEmpty || (lines + next.lines <= configuration.batchSize && bytes + next.byteCount <= configuration.batchBytes)
        }
        if replaying, let spool = spooling {
            while let next = spool.peekReplay(), fits(next), let (batch, ordinal) = spool.popReplay() {
                batches.append(batch)
                ordinals.append(ordinal)
                lines += batch.lines
                bytes += batch.byteCount
            }
        } else {
            while let next = s.queue.peekFront(), fits(next), let batch = s.queue.popFront() {
                batches.append(batch)
                lines += batch.lines
                bytes += batch.byteCount
            }
            if s.queue.incoming.batches == 0 { s.oldestWaitingSince = nil }
        }
        // The remaining batches arrived after the ones taken: keeping the older timestamp only
        // sends them sooner, never later than the flush interval.
        var request = PendingRequest(batches: batches)
        if !ordinals.isEmpty {
            request.inSpool = true
            request.ordinals = ordinals
            request.acknowledgeThrough = ordinals.last
        }
        pending.append(request)
        s.heldBatches += batches.count
        s.heldLines += request.lines
        s.heldBytes += request.bytes
        s.nextAttemptAt = 0
        attempt = 0
    }

    /// The request body: the batches' bytes, gzipped when configured.
    private func encode(_ request: PendingRequest) -> [UInt8] {
        if request.batches.count == 1, let only = request.batches.first {
            return configuration.gzip ? Gzip.compress(only.bytes, level: 1) : only.bytes
        }
        var raw: [UInt8] = []
        raw.reserveCapacity(request.bytes + request.batches.count)
        for batch in request.batches {
            raw.append(contentsOf: batch.bytes)
            // Batches end with a newline by contract; never let two lines run together.
            if let last = batch.bytes.last, last != 0x0A { raw.append(0x0A) }
        }
        return configuration.gzip ? Gzip.compress(raw, level: 1) : raw
    }

    private func send(deadline: UInt64?) {
        guard !pending.isEmpty else { return }
        var timeout = configuration.timeout
        if let deadline {
            let now = clock.monotonicNow()
            guard deadline > now else { return }
            timeout = min(timeout, Double(deadline - now) / 1e9)
        }
        if pending[0].body == nil { pending[0].body = encode(pending[0]) }
        let request = pending[0]
        let body = request.body ?? []

        output.shared.withLock { s in
            s.inRequest = true
            s.inFlight = pending.map { ($0.batches, $0.inSpool) }
        }
        let started = clock.monotonicNow()
        let result: Result<HTTPResponse, HTTPTransportError>
        if let client {
            result = body.withUnsafeBytes { client.post(url: writeURL, headers: writeHeaders, body: $0, timeout: timeout) }
        } else {
            result = .failure(HTTPTransportError(code: 2, message: "libcurl could not be initialized"))
        }
        recordLatency(nanoseconds: clock.monotonicNow() - started)
        let abandoned: Bool = output.shared.withLock { s in
            s.inRequest = false
            s.inFlight = []
            return s.report != nil
        }
        // Shutdown gave up on this request and reported (spilled) what it held: nothing more to do.
        if abandoned { return }

        switch result {
        case .success(let response):
            let outcome = InfluxWriteOutcome.classify(status: response.status, body: response.body,
                                                      headers: response.headers, lines: request.lines)
            handle(outcome, status: response.status, request: request)
        case .failure(let error):
            handle(.transportFailure(message: error.description), status: nil, request: request)
        }
    }

    /// Requests last well under a millisecond on loopback: the total is kept in microseconds
    /// and `latency_ms_total` advanced by whole milliseconds, so the average stays right.
    private var latencyMicrosecondsTotal: UInt64 = 0
    private var latencyMillisecondsReported: UInt64 = 0

    private func recordLatency(nanoseconds: UInt64) {
        metrics.requests.add()
        latencyMicrosecondsTotal &+= nanoseconds / 1000
        let milliseconds = latencyMicrosecondsTotal / 1000
        metrics.latencyMsTotal.add(Int(truncatingIfNeeded: milliseconds &- latencyMillisecondsReported))
        latencyMillisecondsReported = milliseconds
        metrics.lastLatencyMs.set(Int((nanoseconds + 500_000) / 1_000_000))
    }

    /// The writer ends: what it and the memory front still hold is spilled to the spool when
    /// there is one (what is on disk already stays there), else unsent.
    private func finish() {
        let spool = spooling.flatMap { $0.isClosed ? nil : $0 }
        var leftovers: [LineProtocolBatch] = []
        let reported: Bool = output.shared.withLock { s in
            if s.report != nil { return true }
            if let spool {
                for request in pending where !request.inSpool { leftovers += request.batches }
                leftovers += spool.takeMemoryFront()
                s.oldestWaitingSince = nil
            }
            return false
        }
        var spilled: OutputShutdownReport?
        if !reported, let spool { spilled = output.spillLeftovers(leftovers, into: spool) }
        output.shared.withLock { s in
            if s.report == nil {
                if let spilled, let spool {
                    s.report = spilled
                    spool.markClosed()
                } else {
                    s.report = output.takeEverythingUnsent(s, pending: pending)
                }
            }
            pending.removeAll()
            s.heldBatches = 0
            s.heldLines = 0
            s.heldBytes = 0
            output.publishDepth(s)
            s.finished = true
            s.state = .stopped
        }
        output.shared.broadcast()
    }
}
