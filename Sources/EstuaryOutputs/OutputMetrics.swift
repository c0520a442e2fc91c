import EstuaryRuntime

/// The self-metrics of one InfluxDB output: measurement `estuary_output`, tag `instance` (the
/// output's name), and `reason` where it applies. Registered once at construction; the hot
/// path only touches atomics.
public struct OutputMetrics: Sendable {
    /// The measurement every output metric is written under.
    public static let measurement = "estuary_output"

    /// Lines the server stored (a partial write counts only the stored ones).
    public let writtenLines: Counter
    /// Requests the server accepted (2xx or partial write).
    public let writtenBatches: Counter
    /// Requests sent again after a failure.
    public let retried: Counter
    /// 413 answers that split a request in halves.
    public let split: Counter
    /// Every request made (answered or not), for the average latency.
    public let requests: Counter
    /// Milliseconds spent in requests, summed.
    public let latencyMsTotal: Counter
    /// The last request's latency.
    public let lastLatencyMs: Gauge
    /// Lines held (queue plus writer).
    public let queueLines: Gauge
    /// Bytes held (queue plus writer).
    public let queueBytes: Gauge
    /// Lines the server refused, by reason (`rejected(_:)`).
    private let rejectedPartialWrite: Counter
    private let rejectedBadRequest: Counter
    private let rejectedRetentionPolicy: Counter
    private let rejectedTooLarge: Counter
    /// Lines the output threw away itself: `queue_full`, `shutdown`.
    public let droppedQueueFull: Counter
    public let droppedShutdown: Counter
    /// Requests that failed, by outcome reason (`unauthorized`, `server_error`, `transport`, …).
    private let failed: [String: Counter]

    /// Every reason `failed_requests` is counted under.
    public static let failureReasons = ["unauthorized", "database_not_found", "not_found", "too_large",
                                        "throttled", "server_error", "unexpected_status", "transport"]

    public init(registry: SelfMetrics, instance: String) {
        let m = Self.measurement
        let tags = [("instance", instance)]
        writtenLines = registry.counter(m, "written_lines", tags)
        writtenBatches = registry.counter(m, "written_batches", tags)
        retried = registry.counter(m, "retried", tags)
        split = registry.counter(m, "split", tags)
        requests = registry.counter(m, "requests", tags)
        latencyMsTotal = registry.counter(m, "latency_ms_total", tags)
        lastLatencyMs = registry.gauge(m, "last_latency_ms", tags)
        queueLines = registry.gauge(m, "queue_lines", tags)
        queueBytes = registry.gauge(m, "queue_bytes", tags)
        func rejected(_ reason: RejectionReason) -> Counter {
            registry.counter(m, "rejected_lines", tags + [("reason", reason.rawValue)])
        }
        rejectedPartialWrite = rejected(.partialWrite)
        rejectedBadRequest = rejected(.badRequest)
        rejectedRetentionPolicy = rejected(.retentionPolicy)
        rejectedTooLarge = rejected(.tooLarge)
        droppedQueueFull = registry.counter(m, "dropped_lines", tags + [("reason", "queue_full")])
        droppedShutdown = registry.counter(m, "dropped_lines", tags + [("reason", "shutdown")])
        var failures: [String: Counter] = [:]
        for reason in Self.failureReasons {
            failures[reason] = registry.counter(m, "failed_requests", tags + [("reason", reason)])
        }
        failed = failures
    }

    /// Lines rejected for `reason`.
    public func rejected(_ reason: RejectionReason) -> Counter {
        switch reason {
        case .partialWrite: return rejectedPartialWrite
        case .badRequest: return rejectedBadRequest
        case .retentionPolicy: return rejectedRetentionPolicy
        case .tooLarge: return rejectedTooLarge
        }
    }

    /// Counts one failed request under `reason` (one of `failureReasons`).
    func failedRequest(_ reason: String) {
        failed[reason]?.add()
    }

    /// Requests that failed for `reason`.
    public func failedRequests(_ reason: String) -> Int {
        failed[reason]?.count ?? 0
    }
}
