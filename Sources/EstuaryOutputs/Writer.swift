import EstuaryCompression
import EstuaryRuntime
import Logging

/// The writer thread of one output: takes requests from the queue, sends them with its own
/// libcurl handle, and acts on each answer. Lives on that thread only.
final class Writer {
    private let output: InfluxDBOutput
    private let configuration: InfluxDBOutputConfiguration
    private let metrics: OutputMetrics
    private let logger: Logger
    private let client: CurlHTTPClient?
    private let writeURL: String
    private let writeHeaders: [String]
    private let flushNanoseconds: UInt64

    /// Requests taken from the queue, oldest first (the halves of a split go to the front).
    private var pending: [PendingRequest] = []
    /// When the first pending request may be sent (monotonic ns).
    private var nextAttemptAt: UInt64 = 0
    /// Consecutive failed attempts of the first pending request (for the backoff).
    private var attempt = 0
    /// `CREATE DATABASE` was tried since the last accepted write.
    private var databaseCreationTried = false
    /// Failed requests since the last accepted one (for the recovery log line).
    private var failuresSinceSuccess = 0
    private var sawStop = false
    private var log = LogLimiter()
    private var random = SystemRandomNumberGenerator()

    init(output: InfluxDBOutput) {
        self.output = output
        configuration = output.configuration
        metrics = output.metrics
        logger = output.logger
        writeURL = output.endpoint.writeURL
        writeHeaders = output.endpoint.writeHeaders(gzip: output.configuration.gzip)
        flushNanoseconds = Self.nanoseconds(output.configuration.flushInterval)
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
        case exit
    }

    func run() {
        if client == nil {
            logger.critical("libcurl could not make a handle; every request will fail and be retried")
        }
        while true {
            let decision = decide()
            guard case .send(let deadline) = decision else { break }
            send(deadline: deadline)
        }
        finish()
    }

    /// Sleeps until there is something to send (a due request or a retry), or the end.
    private func decide() -> Decision {
        output.shared.withLockWaiting { s, waiter in
            while true {
                let now = MonotonicClock.now()
                if s.stopping {
                    if !sawStop {
                        // One last attempt now, whatever the backoff said: after the deadline
                        // there is no later.
                        sawStop = true
                        nextAttemptAt = min(nextAttemptAt, now)
                    }
                    if now >= s.deadline { return .exit }
                }
                let deadline: UInt64? = s.stopping ? s.deadline : nil
                if pending.isEmpty {
                    if s.stopping, s.queue.count == 0 { return .exit }
                    if s.queue.count > 0 {
                        let due = s.oldestWaitingSince.map { now >= $0 &+ flushNanoseconds } ?? true
                        if s.stopping || due || s.queue.lines >= configuration.batchSize || s.queue.bytes >= configuration.batchBytes {
                            takeRequest(s)
                            return .send(deadline: deadline)
                        }
                    }
                    var wake = s.oldestWaitingSince.map { $0 &+ flushNanoseconds }
                    if s.stopping { wake = min(wake ?? s.deadline, s.deadline) }
                    s.writerIdle = true
                    waiter.wait(untilMonotonic: wake)
                    s.writerIdle = false
                } else {
                    if now >= nextAttemptAt { return .send(deadline: deadline) }
                    waiter.wait(untilMonotonic: s.stopping ? min(nextAttemptAt, s.deadline) : nextAttemptAt)
                }
            }
        }
    }

    /// Moves whole batches from the queue into a new request, up to `batchSize` lines and
    /// `batchBytes` bytes (always at least one batch). Called with the lock held.
    private func takeRequest(_ s: InfluxDBOutput.SharedState) {
        var batches: [LineProtocolBatch] = []
        var lines = 0
        var bytes = 0
        while let next = s.queue.peekFront() {
            if !batches.isEmpty,
               lines + next.lines > configuration.batchSize || bytes + next.byteCount > configuration.batchBytes {
                break
            }
            guard let batch = s.queue.popFront() else { break }
            batches.append(batch)
            lines += batch.lines
            bytes += batch.byteCount
        }
        if s.queue.count == 0 { s.oldestWaitingSince = nil }
        // The remaining batches arrived after the ones taken: keeping the older timestamp only
        // sends them sooner, never later than the flush interval.
        let request = PendingRequest(batches: batches)
        pending.append(request)
        s.heldBatches += batches.count
        s.heldLines += request.lines
        s.heldBytes += request.bytes
        nextAttemptAt = 0
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
            let now = MonotonicClock.now()
            guard deadline > now else { return }
            timeout = min(timeout, Double(deadline - now) / 1e9)
        }
        if pending[0].body == nil { pending[0].body = encode(pending[0]) }
        let request = pending[0]
        let body = request.body ?? []

        let started = MonotonicClock.now()
        let result: Result<HTTPResponse, HTTPTransportError>
        if let client {
            result = body.withUnsafeBytes { client.post(url: writeURL, headers: writeHeaders, body: $0, timeout: timeout) }
        } else {
            result = .failure(HTTPTransportError(code: 2, message: "libcurl could not be initialized"))
        }
        recordLatency(nanoseconds: MonotonicClock.now() - started)

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

    // MARK: - Outcomes

    private func handle(_ outcome: InfluxWriteOutcome, status: Int?, request: PendingRequest) {
        var meta: Logger.Metadata = ["output.lines": "\(request.lines)"]
        if let status { meta["http.status"] = "\(status)" }
        if let reason = outcome.reason { meta["output.reason"] = .string(reason) }

        switch outcome {
        // State first, counters after: whoever sees a counter move sees the state that goes with it.
        case .accepted:
            complete(success: true)
            metrics.writtenLines.add(request.lines)
            metrics.writtenBatches.add()

        case .partialWrite(let rejected, let message):
            complete(success: true, error: "partial write: \(message)")
            metrics.writtenLines.add(request.lines - rejected)
            metrics.writtenBatches.add()
            metrics.rejected(.partialWrite).add(rejected)
            meta["output.rejected_lines"] = "\(rejected)"
            logLimited("partial_write", level: .warning,
                       "partial write: some lines were not stored (not resent): \(firstErrorLine(message))", meta)

        case .rejected(let reason, let message):
            meta["output.first_line"] = .string(request.firstLine)
            let text: String
            switch reason {
            case .retentionPolicy:
                text = "retention policy not found: configuration error, batch rejected (not retried): \(message)"
            case .tooLarge:
                text = "a single line is larger than the server accepts (413): rejected"
            case .badRequest, .partialWrite:
                text = "the server rejected the whole request: \(firstErrorLine(message))"
            }
            complete(success: false, error: text, state: reason == .retentionPolicy ? .misconfigured : nil)
            metrics.rejected(reason).add(request.lines)
            logLimited("rejected_" + reason.rawValue, level: .error, text, meta)

        case .tooLarge(let message):
            metrics.failedRequest("too_large")
            guard let (first, second) = request.halves() else {
                handle(.rejected(reason: .tooLarge, message: message), status: status, request: request)
                return
            }
            metrics.split.add()
            logLimited("too_large", level: .notice,
                       "request too large (413): split in halves of \(first.lines) and \(second.lines) lines", meta)
            output.shared.withLock { s in
                // The halves replace the request; the held totals do not change.
                pending.removeFirst()
                pending.insert(contentsOf: [first, second], at: 0)
                s.heldBatches += first.batches.count + second.batches.count - request.batches.count
                s.heldLines += first.lines + second.lines - request.lines
                s.heldBytes += first.bytes + second.bytes - request.bytes
                output.publishDepth(s)
            }
            nextAttemptAt = 0
            attempt = 0

        case .unauthorized(_, let message):
            let delay = output.policy.slowDelay(using: &random)
            logLimited("unauthorized", level: .error,
                       "InfluxDB refuses the credentials: data kept, retrying every \(Int(delay)) s: \(message)", meta)
            retry(after: delay, state: .unauthorized, error: "unauthorized: \(message)")
            metrics.failedRequest("unauthorized")

        case .databaseNotFound(let message):
            if configuration.api == .v1, configuration.createDatabase, !databaseCreationTried {
                databaseCreationTried = true
                if createDatabase() {
                    logger.notice("database not found: created it", metadata: ["output.database": .string(configuration.database)])
                    retry(after: 0, state: .retrying, error: "database not found: \(message)")
                    metrics.failedRequest("database_not_found")
                    return
                }
            }
            let delay = output.policy.slowDelay(using: &random)
            logLimited("database_not_found", level: .error,
                       "database not found: data kept, retrying every \(Int(delay)) s: \(message)", meta)
            retry(after: delay, state: .databaseNotFound, error: "database not found: \(message)")
            metrics.failedRequest("database_not_found")

        case .notFound(let message):
            let delay = output.policy.slowDelay(using: &random)
            let hint = configuration.api == .v2 ? " (InfluxDB before 1.8 has no /api/v2/write: use api v1)" : ""
            logLimited("not_found", level: .error,
                       "404 from \(writeURL)\(hint): data kept, retrying every \(Int(delay)) s: \(message)", meta)
            retry(after: delay, state: .notFound, error: "404: \(message)")
            metrics.failedRequest("not_found")

        case .unexpectedStatus(let code, let message):
            let delay = output.policy.slowDelay(using: &random)
            logLimited("unexpected_status", level: .error,
                       "unexpected HTTP \(code): data kept, retrying every \(Int(delay)) s: \(message)", meta)
            retry(after: delay, state: .unexpectedStatus, error: "HTTP \(code): \(message)")
            metrics.failedRequest("unexpected_status")

        case .throttled(let code, let retryAfter, let message), .serverError(let code, let retryAfter, let message):
            let reason = outcome.reason ?? "server_error"
            attempt += 1
            let delay = output.policy.delay(attempt: attempt, retryAfter: retryAfter, using: &random)
            if let retryAfter { meta["http.retry_after"] = "\(retryAfter)" }
            logLimited(reason, level: .warning,
                       "HTTP \(code): retrying in \(formatSeconds(delay)): \(message)", meta)
            retry(after: delay, state: .retrying, error: "HTTP \(code): \(message)")
            metrics.failedRequest(reason)

        case .transportFailure(let message):
            attempt += 1
            let delay = output.policy.delay(attempt: attempt, using: &random)
            logLimited("transport", level: .warning, "no answer from InfluxDB: retrying in \(formatSeconds(delay)): \(message)", meta)
            retry(after: delay, state: .down, error: message)
            metrics.failedRequest("transport")
        }
    }

    /// The first request is done (stored, partly stored or rejected): drop it from the held set.
    private func complete(success: Bool, error: String? = nil, state: OutputStatus.State? = nil) {
        guard !pending.isEmpty else { return }
        let done = pending.removeFirst()
        let recoveredAfter = failuresSinceSuccess
        if success {
            failuresSinceSuccess = 0
            databaseCreationTried = false
        }
        attempt = 0
        nextAttemptAt = 0
        output.shared.withLock { s in
            s.heldBatches -= done.batches.count
            s.heldLines -= done.lines
            s.heldBytes -= done.bytes
            output.publishDepth(s)
            if success {
                s.lastSuccess = WallClock.now()
                s.consecutiveFailures = 0
            }
            if let error {
                s.lastError = error
                s.lastErrorAt = WallClock.now()
            }
            if !s.stopping { s.state = state ?? .ok }
        }
        if success, recoveredAfter > 0 {
            logger.notice("InfluxDB accepts writes again", metadata: ["output.failed_requests": "\(recoveredAfter)"])
            log.resetAll()
        }
    }

    /// The first request stays held and is sent again after `delay` seconds.
    private func retry(after delay: Double, state: OutputStatus.State, error: String) {
        failuresSinceSuccess += 1
        nextAttemptAt = MonotonicClock.now() &+ Self.nanoseconds(delay)
        output.shared.withLock { s in
            s.consecutiveFailures += 1
            s.lastError = error
            s.lastErrorAt = WallClock.now()
            if !s.stopping { s.state = state }
        }
        metrics.retried.add()
    }

    /// `CREATE DATABASE` through `/query`; true when the server accepted it.
    private func createDatabase() -> Bool {
        guard let client else { return false }
        let body = output.endpoint.createDatabaseBody
        let result = body.withUnsafeBytes {
            client.post(url: output.endpoint.queryURL, headers: output.endpoint.queryHeaders, body: $0,
                        timeout: configuration.timeout)
        }
        switch result {
        case .success(let response):
            let text = String(decoding: response.body, as: UTF8.self)
            if (200..<300).contains(response.status), !text.contains("\"error\"") { return true }
            logger.error("CREATE DATABASE failed", metadata: ["http.status": "\(response.status)",
                                                              "output.database": .string(configuration.database),
                                                              "error": .string(String(text.prefix(300)))])
            return false
        case .failure(let error):
            logger.error("CREATE DATABASE failed", metadata: ["error": .string(error.description)])
            return false
        }
    }

    private func logLimited(_ key: String, level: Logger.Level, _ message: String, _ metadata: Logger.Metadata) {
        guard let suppressed = log.admit(key, now: MonotonicClock.now()) else { return }
        var metadata = metadata
        if suppressed > 0 { metadata["log.suppressed"] = "\(suppressed)" }
        logger.log(level: level, "\(message)", metadata: metadata)
    }

    /// The first line of a server message (partial writes list one unparsable line per line).
    private func firstErrorLine(_ message: String) -> String {
        let first = message.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? message
        return String(first.prefix(500))
    }

    private func formatSeconds(_ seconds: Double) -> String {
        let ms = (seconds * 1000).rounded()
        return ms < 1000 ? "\(Int(ms)) ms" : "\(Double(Int(ms / 10)) / 100) s"
    }

    /// The writer ends: what it and the queue still hold is unsent.
    private func finish() {
        output.shared.withLock { s in
            if s.report == nil {
                s.report = output.takeEverythingUnsent(s, pending: pending)
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
