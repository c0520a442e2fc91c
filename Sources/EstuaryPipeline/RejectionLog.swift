import EstuaryRuntime
import Logging

/// Counts bad input by (listener, reason) and logs it without flooding: the first
/// occurrence of each reason is logged with its detail, later ones only as a count in a
/// summary line once per interval. A flood of malformed datagrams costs a counter bump each.
public final class RejectionLog: @unchecked Sendable {  // confined to one receiver queue
    private let listener: String
    private let logger: Logger
    private let metrics: SelfMetrics
    private let summaryInterval: UInt64
    private var counters: [String: Counter] = [:]
    private var seen: Set<String> = []
    private var suppressed: [String: Int] = [:]
    private var lastSummary = MonotonicClock.now()

    public init(listener: String, logger: Logger, metrics: SelfMetrics, summaryInterval: Double = 60) {
        self.listener = listener
        self.logger = logger
        self.metrics = metrics
        self.summaryInterval = UInt64(summaryInterval * 1e9)
    }

    /// Counts one rejection of `reason` (the values or lines it lost), logging `detail` the
    /// first time this reason is seen on this listener.
    public func record(reason: String, lost: Int = 1, detail: @autoclosure () -> String, peer: @autoclosure () -> String) {
        counter(reason).add(max(1, lost))
        if seen.insert(reason).inserted {
            logger.warning("rejected input: \(detail())", metadata: [
                "listener.name": "\(listener)", "reason": "\(reason)", "peer.address": "\(peer())",
                "note": "first of its kind on this listener; later ones are counted and summarized",
            ])
        } else {
            suppressed[reason, default: 0] += 1
        }
    }

    private func counter(_ reason: String) -> Counter {
        if let existing = counters[reason] { return existing }
        let made = metrics.counter("estuary_input", "rejected", [("instance", listener), ("reason", reason)])
        counters[reason] = made
        return made
    }

    /// Logs the summary of suppressed rejections when the interval has passed.
    public func tick() {
        let now = MonotonicClock.now()
        guard now &- lastSummary >= summaryInterval, !suppressed.isEmpty else { return }
        lastSummary = now
        let summary = suppressed.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        logger.warning("rejected input since the last summary: \(summary)", metadata: ["listener.name": "\(listener)"])
        suppressed.removeAll(keepingCapacity: true)
    }
}
