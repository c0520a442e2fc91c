import Dispatch
import EstuaryModel
import EstuaryRuntime
import EstuaryWire
import Logging

/// Writes Estuary's own counters to the outputs as `estuary_*` points every interval (tag
/// `host` = the configured hostname, plus each metric's own tags) and logs a one-line
/// summary of the interval at info level.
final class SelfMetricsReporter: @unchecked Sendable {  // state confined to `queue`
    private let metrics: SelfMetrics
    private let router: Router
    private let hostname: String
    private let interval: Double
    private let logger: Logger
    private let queue = DispatchQueue(label: "estuary.self-metrics")
    private var timer: (any DispatchSourceTimer)?
    private var collectors: [@Sendable () -> Void] = []
    private var previous: [String: Int] = [:]

    init(metrics: SelfMetrics, router: Router, hostname: String, interval: Double, logger: Logger) {
        self.metrics = metrics
        self.router = router
        self.hostname = hostname
        self.interval = interval
        self.logger = logger
    }

    /// Something to run before each report (gauges read from elsewhere: kernel drops, open connections).
    func addCollector(_ collector: @escaping @Sendable () -> Void) {
        queue.sync { collectors.append(collector) }
    }

    func start() {
        let timer = DispatchSource.makeTimerSource(queue: queue)
        let nanos = Int(interval * 1e9)
        timer.schedule(deadline: .now() + .nanoseconds(nanos), repeating: .nanoseconds(nanos), leeway: .milliseconds(50))
        timer.setEventHandler { @Sendable [self] in report() }
        self.timer = timer
        timer.resume()
    }

    /// Stops the timer and reports one last time (so the final counts reach the outputs).
    func stop() {
        queue.sync {
            timer?.cancel()
            report()
        }
    }

    private func report() {
        for collector in collectors { collector() }
        let samples = metrics.snapshot()
        let now = WallClock.now()
        var points: [Point] = []
        var totals: [String: Int] = [:]
        for sample in samples {
            var tags = [Tag("host", hostname)]
            for (key, value) in sample.tags { tags.append(Tag(key, value)) }
            points.append(Point(measurement: sample.measurement, tags: tags,
                                fields: sample.fields.map { Field($0.0, .integer(Int64($0.1))) }, timestamp: now))
            for (field, value) in sample.fields { totals[sample.measurement + "." + field, default: 0] += value }
        }
        var bytes: [UInt8] = []
        let report = LineProtocolEncoder().encode(points, into: &bytes)
        router.route(LineProtocolBatch(bytes: bytes, lines: report.points, source: "self-metrics"))
        logSummary(totals)
    }

    private func logSummary(_ totals: [String: Int]) {
        func delta(_ key: String) -> Int {
            let value = totals[key] ?? 0
            defer { previous[key] = value }
            return value - (previous[key] ?? 0)
        }
        // Points in: from the listeners and from SNMP polls.
        let received = delta("estuary_input.points") + delta("estuary_snmp.lines")
        let rejected = delta("estuary_input.rejected")
        let written = delta("estuary_output.written_lines")
        let dropped = delta("estuary_output.dropped_lines")
        let retried = delta("estuary_output.retried")
        let spooled = delta("estuary_output.spooled_lines")
        let replayed = delta("estuary_output.replayed_lines")
        let queued = totals["estuary_output.queue_lines"] ?? 0
        let kernelDrops = delta("estuary_input.kernel_drops")
        var snmp = ""
        if totals["estuary_snmp.devices"] != nil {
            let timedOut = delta("estuary_snmp.polls_timeout"), failed = delta("estuary_snmp.polls_failed")
            let polls = delta("estuary_snmp.polls_complete") + timedOut + failed
            snmp = "; SNMP: \(polls) polls, \(timedOut) timed out, \(failed) failed, \(delta("estuary_snmp.late")) late"
        }
        logger.info("""
            last \(Int(interval))s: \(received) points in, \(written) lines written, \(rejected) rejected, \
            \(dropped) dropped, \(retried) retried, \(spooled) spooled, \(replayed) replayed, \(queued) queued, \
            \(kernelDrops) lost in the kernel\(snmp)
            """)
    }
}
