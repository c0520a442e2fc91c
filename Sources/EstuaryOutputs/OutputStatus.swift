/// What an output is doing, for logs and `/health`: its state, what it holds, when it last
/// wrote and what last went wrong.
public struct OutputStatus: Sendable, Equatable {
    /// The output's condition, from the answer to its last request.
    public enum State: String, Sendable, CaseIterable {
        /// Started, nothing sent yet.
        case idle
        /// The last request was accepted (or partly: a partial write).
        case ok
        /// The server answered 429/5xx; retrying with backoff.
        case retrying
        /// No HTTP answer (refused, reset, timeout, TLS); retrying with backoff.
        case down
        /// 401/403: data kept, retried slowly until the credentials are fixed.
        case unauthorized
        /// v1 404 `database not found`, and it could not (or may not) be created; retried slowly.
        case databaseNotFound = "database_not_found"
        /// Another 404 (no such endpoint: a v2 write to InfluxDB < 1.8, a wrong path prefix); retried slowly.
        case notFound = "not_found"
        /// A status the output does not expect from InfluxDB (1xx, 3xx, another 4xx); retried slowly.
        case unexpectedStatus = "unexpected_status"
        /// The server rejects the requests for a configuration error (`retention policy not found`).
        case misconfigured
        /// `shutdown` was called; sending what is held until the deadline.
        case stopping
        /// The writer thread has ended.
        case stopped
    }

    public var state: State
    /// Batches held: waiting in the queue plus those in the writer's hands (in flight or
    /// waiting to be retried).
    public var queuedBatches: Int
    /// Lines held (queue plus writer).
    public var queuedLines: Int
    /// Bytes of line protocol held (queue plus writer).
    public var queuedBytes: Int
    /// When a request was last accepted (wall clock, ns since the epoch).
    public var lastSuccess: Int64?
    /// The last failure or rejection, as logged.
    public var lastError: String?
    /// When `lastError` happened (wall clock, ns since the epoch).
    public var lastErrorAt: Int64?
    /// Failed attempts since the last accepted request.
    public var consecutiveFailures: Int

    public init(state: State, queuedBatches: Int = 0, queuedLines: Int = 0, queuedBytes: Int = 0,
                lastSuccess: Int64? = nil, lastError: String? = nil, lastErrorAt: Int64? = nil,
                consecutiveFailures: Int = 0) {
        self.state = state
        self.queuedBatches = queuedBatches
        self.queuedLines = queuedLines
        self.queuedBytes = queuedBytes
        self.lastSuccess = lastSuccess
        self.lastError = lastError
        self.lastErrorAt = lastErrorAt
        self.consecutiveFailures = consecutiveFailures
    }
}

/// What `shutdown` could not send before its deadline: spilled to the spool (sent after the
/// next start), or lost (`unsent…`, counted as `dropped_lines{reason=shutdown}`).
public struct OutputShutdownReport: Sendable, Equatable {
    /// Neither sent nor spilled: lost.
    public var unsentBatches: Int
    public var unsentLines: Int
    public var unsentBytes: Int
    /// Written to the spool at shutdown.
    public var spilledBatches: Int
    public var spilledLines: Int
    public var spilledBytes: Int
    /// Lines in the spool when it was closed (spilled at shutdown or before), for the next start.
    public var spoolLines: Int

    public init(unsentBatches: Int = 0, unsentLines: Int = 0, unsentBytes: Int = 0, spilledBatches: Int = 0,
                spilledLines: Int = 0, spilledBytes: Int = 0, spoolLines: Int = 0) {
        self.unsentBatches = unsentBatches
        self.unsentLines = unsentLines
        self.unsentBytes = unsentBytes
        self.spilledBatches = spilledBatches
        self.spilledLines = spilledLines
        self.spilledBytes = spilledBytes
        self.spoolLines = spoolLines
    }
}
