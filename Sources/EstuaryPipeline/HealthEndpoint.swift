import EstuaryIO
import EstuaryRuntime
#if canImport(Glibc)
import Glibc
#endif

/// What the health endpoint serves, on the HTTP server's queue:
///
/// - `GET /health`: JSON with every output's state, what it holds (queue, spool), when it
///   last wrote and what last went wrong, and the uptime. 200 when every output is healthy
///   (idle or writing), 503 otherwise, so that a load balancer or a supervisor can act on
///   the status code alone.
/// - `GET /metrics`: the self-metrics in Prometheus' text exposition format (version 0.0.4):
///   `estuary_<component>_<field>`, counters with `_total`, a `# TYPE` line per family,
///   label values escaped.
///
/// It only reads atomics and each output's status (a short lock), so a scrape never waits
/// for the pipeline, and the pipeline never waits for a scrape.
public final class HealthEndpoint: Sendable {
    private let hostname: String
    private let metrics: SelfMetrics
    private let outputs: [any PipelineOutput]
    private let started: UInt64

    public init(hostname: String, metrics: SelfMetrics, outputs: [any PipelineOutput], started: UInt64 = MonotonicClock.now()) {
        self.hostname = hostname
        self.metrics = metrics
        self.outputs = outputs
        self.started = started
    }

    /// The answer to one request.
    public func respond(_ request: HTTPRequest) -> HTTPResponse {
        switch request.path {
        case "/health", "/health/":
            let (healthy, body) = health()
            return HTTPResponse(status: healthy ? 200 : 503, contentType: "application/json", text: body)
        case "/metrics", "/metrics/":
            return HTTPResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", text: prometheus())
        case "/":
            return HTTPResponse(status: 200, text: "estuary: GET /health (JSON; 200 healthy, 503 not), GET /metrics (Prometheus)\n")
        default:
            return HTTPResponse(status: 404, text: "not found: try /health or /metrics\n")
        }
    }

    /// Seconds since the daemon started.
    var uptime: Double { Double(MonotonicClock.now() &- started) / 1e9 }

    /// Whether every output is healthy, and the JSON document.
    public func health() -> (Bool, String) {
        let now = WallClock.now()
        var healthy = true
        var items: [String] = []
        for output in outputs {
            let status = output.health
            healthy = healthy && status.healthy
            let instance = [("instance", status.name)]
            var fields: [(String, String)] = [
                ("name", Self.json(status.name)),
                ("state", Self.json(status.state)),
                ("healthy", status.healthy ? "true" : "false"),
                ("queue_batches", "\(status.queuedBatches)"),
                ("queue_lines", "\(status.queuedLines)"),
                ("queue_bytes", "\(status.queuedBytes)"),
            ]
            if let bytes = metrics.existingGauge("estuary_output", "spool_bytes", instance) {
                fields.append(("spool_bytes", "\(bytes.current)"))
                fields.append(("spool_records", "\(metrics.existingGauge("estuary_output", "spool_records", instance)?.current ?? 0)"))
                fields.append(("spool_segments", "\(metrics.existingGauge("estuary_output", "spool_segments", instance)?.current ?? 0)"))
            }
            if let last = status.lastSuccess {
                fields.append(("last_success", Self.json(Self.rfc3339(last))))
                fields.append(("last_success_age_seconds", Self.number(Double(now - last) / 1e9)))
            } else {
                fields.append(("last_success", "null"))
            }
            fields.append(("last_error", status.lastError.map(Self.json) ?? "null"))
            fields.append(("consecutive_failures", "\(status.consecutiveFailures)"))
            items.append("    {" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
        }
        let body = """
            {
              "status": \(healthy ? "\"ok\"" : "\"unhealthy\""),
              "host": \(Self.json(hostname)),
              "uptime_seconds": \(Self.number(uptime)),
              "outputs": [
            \(items.joined(separator: ",\n"))
              ]
            }

            """
        return (healthy, body)
    }

    /// The self-metrics as Prometheus text: one family per measurement and field, with
    /// `estuary_uptime_seconds` and `estuary_output_healthy` added.
    public func prometheus() -> String {
        var text = ""
        var family = ""
        for entry in metrics.entries() {
            var name = Self.metricName(entry.key.measurement + "_" + entry.key.field)
            if entry.kind == .counter { name += "_total" }
            if name != family {
                family = name
                text += "# TYPE \(name) \(entry.kind == .counter ? "counter" : "gauge")\n"
            }
            text += name + Self.labels([("host", hostname)] + entry.tags) + " \(entry.value)\n"
        }
        text += "# TYPE estuary_output_healthy gauge\n"
        for output in outputs {
            let status = output.health
            text += "estuary_output_healthy" + Self.labels([("host", hostname), ("instance", status.name)])
                + " \(status.healthy ? 1 : 0)\n"
        }
        text += "# TYPE estuary_uptime_seconds gauge\n"
        text += "estuary_uptime_seconds" + Self.labels([("host", hostname)]) + " \(Self.number(uptime))\n"
        return text
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`: anything else becomes `_`.
    static func metricName(_ text: String) -> String {
        var bytes = Array(text.utf8)
        for index in bytes.indices {
            let byte = bytes[index]
            let letter = (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x5F || byte == 0x3A
            let digit = byte >= 0x30 && byte <= 0x39
            if !(letter || (digit && index > 0)) { bytes[index] = 0x5F }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `{key="value",...}` with label names made valid and values escaped (`\\`, `\"`, `\n`).
    static func labels(_ pairs: [(String, String)]) -> String {
        guard !pairs.isEmpty else { return "" }
        let rendered = pairs.map { key, value -> String in
            var name = metricName(key).replacingColons()
            if name.hasPrefix("__") { name = "_" + name.drop { $0 == "_" } }
            var escaped = ""
            for character in value.unicodeScalars {
                switch character {
                case "\\": escaped += "\\\\"
                case "\"": escaped += "\\\""
                case "\n": escaped += "\\n"
                default: escaped.unicodeScalars.append(character)
                }
            }
            return "\(name)=\"\(escaped)\""
        }
        return "{" + rendered.joined(separator: ",") + "}"
    }

    /// A JSON string.
    static func json(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// A number with three decimals at most (JSON and Prometheus both read it).
    static func number(_ value: Double) -> String {
        let milli = (value * 1000).rounded()
        let whole = Int(milli / 1000)
        let fraction = Int(abs(milli).truncatingRemainder(dividingBy: 1000))
        let sign = value < 0 && whole == 0 && fraction > 0 ? "-" : ""
        let digits = String(fraction)
        return "\(sign)\(whole).\(String(repeating: "0", count: 3 - digits.count))\(digits)"
    }

    /// `2026-12-04T15:01:03.123Z` for ns since the epoch.
    static func rfc3339(_ nanoseconds: Int64) -> String {
        var seconds = time_t(nanoseconds / 1_000_000_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let millis = Int((nanoseconds % 1_000_000_000) / 1_000_000)
        let milliText = String(millis)
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):"
            + "\(two(parts.tm_min)):\(two(parts.tm_sec)).\(String(repeating: "0", count: 3 - milliText.count))\(milliText)Z"
    }
}

extension String {
    /// Label names may not contain `:` (metric names may).
    fileprivate func replacingColons() -> String {
        String(decoding: utf8.map { $0 == 0x3A ? 0x5F : $0 }, as: UTF8.self)
    }
}
