import EstuaryRuntime
import EstuarySNMP

/// The self-metrics of one `[[inputs.snmp]]` (`estuary_snmp`, `instance` = the input's name).
final class SNMPPollerMetrics: Sendable {
    let devices: Gauge
    let inFlight: Gauge
    let waiting: Gauge
    let polls: Counter
    let pollsComplete: Counter
    let pollsTimeout: Counter
    let pollsFailed: Counter
    let late: Counter
    let skipped: Counter
    let requests: Counter
    let varbinds: Counter
    let reductions: Counter
    let lines: Counter
    let droppedPoints: Counter
    let rateGaps: [RateDiscontinuity: Counter]

    init(registry: SelfMetrics, instance: String) {
        let tags = [("instance", instance)]
        devices = registry.gauge("estuary_snmp", "devices", tags)
        inFlight = registry.gauge("estuary_snmp", "in_flight", tags)
        waiting = registry.gauge("estuary_snmp", "waiting", tags)
        polls = registry.counter("estuary_snmp", "polls", tags)
        pollsComplete = registry.counter("estuary_snmp", "polls_complete", tags)
        pollsTimeout = registry.counter("estuary_snmp", "polls_timeout", tags)
        pollsFailed = registry.counter("estuary_snmp", "polls_failed", tags)
        late = registry.counter("estuary_snmp", "late", tags)
        skipped = registry.counter("estuary_snmp", "skipped", tags)
        requests = registry.counter("estuary_snmp", "requests", tags)
        varbinds = registry.counter("estuary_snmp", "varbinds", tags)
        reductions = registry.counter("estuary_snmp", "reductions", tags)
        lines = registry.counter("estuary_snmp", "lines", tags)
        droppedPoints = registry.counter("estuary_snmp", "dropped_points", tags)
        var gaps: [RateDiscontinuity: Counter] = [:]
        for reason in RateDiscontinuity.allCases {
            gaps[reason] = registry.counter("estuary_snmp", "rate_gaps", tags + [("reason", reason.rawValue)])
        }
        rateGaps = gaps
    }
}
