import EstuaryRuntime
import Logging

/// What the writer does with each answer of the server: accept, split, reject, retry, create
/// the database, and the log lines that say so.
extension Writer {
    func handle(_ outcome: InfluxWriteOutcome, status: Int?, request: PendingRequest) {
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

        case .rejected(.badRequest, let message) where request.batches.count >= 2:
            // InfluxDB 2.x and 3.x refuse a whole request for one bad line: find the bad batch
            // by halves, so that the good batches sharing its request are not lost with it.
            guard let (first, second) = request.halves() else { return }
            metrics.split.add()
            logLimited("isolate", level: .notice,
                       "the server rejected a request of \(request.batches.count) batches (400): sending its halves "
                       + "separately to find the bad batch: \(firstErrorLine(message))", meta)
            replace(request, with: first, second)

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
            replace(request, with: first, second)

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

    /// The first request is replaced by its halves, sent at once, before anything newer.
    func replace(_ request: PendingRequest, with first: PendingRequest, _ second: PendingRequest) {
        output.shared.withLock { s in
            // The held totals change only where a batch was cut into new ones.
            pending.removeFirst()
            pending.insert(contentsOf: [first, second], at: 0)
            s.heldBatches += first.batches.count + second.batches.count - request.batches.count
            s.heldLines += first.lines + second.lines - request.lines
            s.heldBytes += first.bytes + second.bytes - request.bytes
            s.nextAttemptAt = 0
            output.publishDepth(s)
        }
        attempt = 0
    }

    /// The first request is done (stored, partly stored or rejected): drop it from the held
    /// set, and from the spool when it came from there (the server has answered for it: it
    /// is never sent again).
    func complete(success: Bool, error: String? = nil, state: OutputStatus.State? = nil) {
        guard !pending.isEmpty else { return }
        let done = pending.removeFirst()
        let recoveredAfter = failuresSinceSuccess
        if success {
            failuresSinceSuccess = 0
            databaseCreationTried = false
        }
        attempt = 0
        output.shared.withLock { s in
            s.nextAttemptAt = 0
            s.heldBatches -= done.batches.count
            s.heldLines -= done.lines
            s.heldBytes -= done.bytes
            output.publishDepth(s)
            if success {
                s.lastSuccess = clock.wallNow()
                s.consecutiveFailures = 0
            }
            if let error {
                s.lastError = error
                s.lastErrorAt = clock.wallNow()
            }
            if !s.stopping { s.state = state ?? .ok }
        }
        if let through = done.acknowledgeThrough { spooling?.acknowledge(through: through) }
        if success, recoveredAfter > 0 {
            logger.notice("InfluxDB accepts writes again", metadata: ["output.failed_requests": "\(recoveredAfter)"])
            log.resetAll()
        }
    }

    /// The first request stays held and is sent again after `delay` seconds.
    func retry(after delay: Double, state: OutputStatus.State, error: String) {
        failuresSinceSuccess += 1
        output.shared.withLock { s in
            s.nextAttemptAt = clock.monotonicNow() &+ Self.nanoseconds(delay)
            s.consecutiveFailures += 1
            s.lastError = error
            s.lastErrorAt = clock.wallNow()
            if !s.stopping { s.state = state }
        }
        metrics.retried.add()
    }

    /// `CREATE DATABASE` through `/query`; true when the server accepted it.
    func createDatabase() -> Bool {
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

    func logLimited(_ key: String, level: Logger.Level, _ message: String, _ metadata: Logger.Metadata) {
        guard let suppressed = log.admit(key, now: clock.monotonicNow()) else { return }
        var metadata = metadata
        if suppressed > 0 { metadata["log.suppressed"] = "\(suppressed)" }
        logger.log(level: level, "\(message)", metadata: metadata)
    }

    /// The first line of a server message (partial writes list one unparsable line per line).
    func firstErrorLine(_ message: String) -> String {
        let first = message.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? message
        return String(first.prefix(500))
    }

    func formatSeconds(_ seconds: Double) -> String {
        let ms = (seconds * 1000).rounded()
        return ms < 1000 ? "\(Int(ms)) ms" : "\(Double(Int(ms / 10)) / 100) s"
    }
}
