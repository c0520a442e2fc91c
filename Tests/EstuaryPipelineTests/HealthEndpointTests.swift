import EstuaryIO
import EstuaryPipeline
import EstuaryRuntime
import EstuaryTestSupport
import Foundation
import Synchronization
import Testing

/// An output whose health the test sets.
final class ScriptedHealthOutput: PipelineOutput {
    let name: String
    let current: Mutex<OutputHealth>

    init(name: String, state: String = "ok", healthy: Bool = true) {
        self.name = name
        current = Mutex(OutputHealth(name: name, state: state, healthy: healthy, queuedBatches: 2, queuedLines: 1500,
                                     queuedBytes: 90_000, lastSuccess: 1_700_000_000_123_000_000, lastError: nil,
                                     consecutiveFailures: 0))
    }

    func enqueue(_ batch: LineProtocolBatch) {}
    func drain(until deadline: UInt64) -> PipelineOutputReport { PipelineOutputReport(unsentBatches: 0, unsentLines: 0) }
    var health: OutputHealth { current.withLock { $0 } }

    func set(state: String, healthy: Bool, error: String?) {
        current.withLock {
            $0.state = state
            $0.healthy = healthy
            $0.lastError = error
            $0.consecutiveFailures = healthy ? 0 : 3
        }
    }
}

/// One sample of Prometheus' text format.
struct PrometheusSample: Equatable {
    var name: String
    var labels: [String: String]
    var value: Double
}

/// Parses Prometheus' text exposition format (0.0.4) strictly enough to catch what a scraper
/// would refuse: every sample's family declared by a `# TYPE` line before it, names and label
/// names of the allowed characters, label values quoted with only `\\`, `\"` and `\n` escapes,
/// numeric values, no series twice, counters named `_total`.
func parsePrometheus(_ text: String) throws -> [PrometheusSample] {
    struct Bad: Error, CustomStringConvertible { var description: String }
    func validName(_ name: Substring, colons: Bool) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic)
                || (colons && first == ":") else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)))
            || (colons && $0 == ":") }
    }
    var types: [String: String] = [:]
    var samples: [PrometheusSample] = []
    var seen = Set<String>()
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        if line.isEmpty { continue }
        if line.hasPrefix("# TYPE ") {
            let parts = line.split(separator: " ")
            guard parts.count == 4, validName(parts[2], colons: true),
                  ["counter", "gauge", "untyped", "histogram", "summary"].contains(parts[3]) else { throw Bad(description: "bad TYPE: \(line)") }
            guard types[String(parts[2])] == nil else { throw Bad(description: "family declared twice: \(line)") }
            types[String(parts[2])] = String(parts[3])
            continue
        }
        if line.hasPrefix("#") { continue }
        var rest = Substring(line)
        let name = rest.prefix { $0 != "{" && $0 != " " }
        guard validName(name, colons: true) else { throw Bad(description: "bad metric name: \(line)") }
        rest = rest.dropFirst(name.count)
        var labels: [String: String] = [:]
        if rest.first == "{" {
            rest = rest.dropFirst()
            while rest.first != "}" {
                let key = rest.prefix { $0 != "=" }
                guard validName(key, colons: false), rest.dropFirst(key.count).hasPrefix("=\"") else {
                    throw Bad(description: "bad label in: \(line)")
                }
                rest = rest.dropFirst(key.count + 2)
                var value = ""
                while let character = rest.first, character != "\"" {
                    rest = rest.dropFirst()
                    if character == "\\" {
                        switch rest.first {
                        case "\\": value.append("\\")
                        case "\"": value.append("\"")
                        case "n": value.append("\n")
                        default: throw Bad(description: "bad escape in: \(line)")
                        }
                        rest = rest.dropFirst()
                    } else {
                        value.append(character)
                    }
                }
                guard rest.first == "\"" else { throw Bad(description: "unterminated label value: \(line)") }
                rest = rest.dropFirst()
                labels[String(key)] = value
                if rest.first == "," { rest = rest.dropFirst() }
            }
            rest = rest.dropFirst()
        }
        guard rest.first == " ", let value = Double(rest.dropFirst()) else { throw Bad(description: "bad value: \(line)") }
        guard let type = types[String(name)] else { throw Bad(description: "sample before its # TYPE: \(line)") }
        if type == "counter" && !name.hasSuffix("_total") { throw Bad(description: "counter not named _total: \(line)") }
        let series = String(name) + labels.sorted { $0.key < $1.key }.description
        guard seen.insert(series).inserted else { throw Bad(description: "series twice: \(line)") }
        samples.append(PrometheusSample(name: String(name), labels: labels, value: value))
    }
    return samples
}

@Suite("health endpoint", .ownThreads, .serialized)
struct HealthEndpointTests {
    func start(_ outputs: [ScriptedHealthOutput], metrics: SelfMetrics = SelfMetrics(),
               options: (SocketAddress) -> HTTPServerOptions = { HTTPServerOptions(listen: $0) }) throws -> (Daemon, UInt16) {
        let daemon = Daemon(settings: DaemonSettings(hostname: "relay-1", batchInterval: 0.05, metricsInterval: 60, shutdownTimeout: 1,
                                                     graphiteInputs: [graphiteInput(udp: false)],
                                                     health: options(try SocketAddress(host: "127.0.0.1", port: 0))),
                            outputs: outputs, metrics: metrics, logger: testLogger)
        try daemon.start()
        return (daemon, try #require(daemon.addresses["health/tcp"]?.port))
    }

    @Test("/health: 200 and the outputs' state while every output is healthy, 503 when one is not")
    func healthStatus() throws {
        let metrics = SelfMetrics()
        metrics.gauge("estuary_output", "spool_bytes", [("instance", "primary")]).set(4096)
        metrics.gauge("estuary_output", "spool_records", [("instance", "primary")]).set(3)
        let primary = ScriptedHealthOutput(name: "primary"), secondary = ScriptedHealthOutput(name: "secondary", state: "idle")
        let (daemon, port) = try start([primary, secondary], metrics: metrics)
        defer { _ = daemon.stop() }

        let healthy = try SimpleHTTPClient.request(method: "GET", port: port, path: "/health")
        #expect(healthy.status == 200)
        #expect(healthy.headers["content-type"]?.hasPrefix("application/json") == true, "\(healthy.headers)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(healthy.body)) as? [String: Any], "\(healthy.text)")
        #expect(document["status"] as? String == "ok")
        #expect(document["host"] as? String == "relay-1")
        #expect((document["uptime_seconds"] as? Double ?? -1) >= 0)
        let outputs = try #require(document["outputs"] as? [[String: Any]])
        #expect(outputs.map { $0["name"] as? String } == ["primary", "secondary"])
        #expect(outputs[0]["state"] as? String == "ok")
        #expect(outputs[0]["queue_lines"] as? Int == 1500)
        #expect(outputs[0]["spool_bytes"] as? Int == 4096)
        #expect(outputs[0]["spool_records"] as? Int == 3)
        #expect(outputs[1]["spool_bytes"] == nil)  // no spool registered
        #expect(outputs[0]["last_success"] as? String == "2023-11-14T22:13:20.123Z")
        #expect(outputs[1]["healthy"] as? Bool == true)

        secondary.set(state: "down", healthy: false, error: "no answer from InfluxDB: \"connection refused\"")
        let unhealthy = try SimpleHTTPClient.request(method: "GET", port: port, path: "/health")
        #expect(unhealthy.status == 503)
        let again = try #require(try JSONSerialization.jsonObject(with: Data(unhealthy.body)) as? [String: Any])
        #expect(again["status"] as? String == "unhealthy")
        let second = try #require((again["outputs"] as? [[String: Any]])?.last)
        #expect(second["state"] as? String == "down")
        #expect(second["last_error"] as? String == "no answer from InfluxDB: \"connection refused\"")
        #expect(second["consecutive_failures"] as? Int == 3)

        secondary.set(state: "ok", healthy: true, error: nil)
        #expect(try SimpleHTTPClient.request(method: "HEAD", port: port, path: "/health").status == 200)
    }

    @Test("/metrics is Prometheus text: every self-metric, counters as _total, # TYPE lines, label values escaped")
    func metricsExposition() throws {
        let metrics = SelfMetrics()
        metrics.counter("estuary_input", "rejected", [("instance", "graphite"), ("reason", "line_too_long")]).add(7)
        metrics.counter("estuary_input", "rejected", [("instance", "graphite"), ("reason", "not_allowed")]).add(2)
        metrics.counter("estuary_input", "points", [("instance", "we\"ird\\name\nx")]).add(5)
        metrics.gauge("estuary_output", "queue_lines", [("instance", "primary")]).set(42)
        let (daemon, port) = try start([ScriptedHealthOutput(name: "primary")], metrics: metrics)
        defer { _ = daemon.stop() }
        let response = try SimpleHTTPClient.request(method: "GET", port: port, path: "/metrics")
        #expect(response.status == 200)
        #expect(response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
        let samples = try parsePrometheus(response.text)
        func value(_ name: String, _ labels: [String: String]) -> Double? {
            samples.first { sample in sample.name == name && labels.allSatisfy { key, value in sample.labels[key] == value } }?.value
        }
        #expect(value("estuary_input_rejected_total", ["instance": "graphite", "reason": "line_too_long", "host": "relay-1"]) == 7)
        #expect(value("estuary_input_rejected_total", ["reason": "not_allowed"]) == 2)
        #expect(value("estuary_input_points_total", ["instance": "we\"ird\\name\nx"]) == 5)
        #expect(value("estuary_output_queue_lines", ["instance": "primary"]) == 42)
        #expect(value("estuary_output_healthy", ["instance": "primary"]) == 1)
        #expect(value("estuary_uptime_seconds", [:]) != nil)
        // The daemon's own metrics are there too (registered at start).
        #expect(samples.contains { $0.name == "estuary_pipeline_batches_total" })
        #expect(response.text.contains("# TYPE estuary_input_rejected_total counter\n"))
        #expect(response.text.contains("# TYPE estuary_output_queue_lines gauge\n"))
    }

    @Test("bounded: unknown paths 404, other methods 405, oversized requests 431, slow clients cut off, extra connections 503")
    func bounds() throws {
        let (daemon, port) = try start([ScriptedHealthOutput(name: "primary")]) {
            HTTPServerOptions(listen: $0, maxConnections: 3, maxRequestBytes: 1024, timeout: 0.5)
        }
        defer { _ = daemon.stop() }
        // First, while no other connection is open: the server may still count a closed client
        // for a moment, and with three counted a fourth is answered 503 at once.
        // A client that never finishes its request is closed after the timeout.
        let slow = try #require(TestClient.tcp(to: port))
        slow.write("GET /health HTTP/1.1\r\nHost: x\r\n")
        let began = Date()
        #expect(slow.closedByPeer(timeout: 3))
        #expect(Date().timeIntervalSince(began) < 2)
        slow.close()

        #expect(try SimpleHTTPClient.request(method: "GET", port: port, path: "/nope").status == 404)
        let post = try SimpleHTTPClient.request(method: "POST", port: port, path: "/health", body: Array("x".utf8))
        #expect(post.status == 405)
        #expect(post.headers["allow"] == "GET, HEAD")
        let huge = try SimpleHTTPClient.request(method: "GET", port: port, path: "/health",
                                                headers: ["X-Padding": String(repeating: "a", count: 4000)])
        #expect(huge.status == 431)

        // Three idle connections fill the server: a fourth is answered 503 at once; once they
        // are gone, requests are served again.
        // Until the server has taken all three, a probe is served and closed; then it gets 503.
        let idle = (0..<3).compactMap { _ in TestClient.tcp(to: port) }
        #expect(idle.count == 3)
        #expect(waitUntil(timeout: 5) { (try? SimpleHTTPClient.request(method: "GET", port: port, path: "/health").status) == 503 },
                "waited 5 s for a fourth connection to be answered 503 while three idle ones fill the server")
        for client in idle { client.close() }
        #expect(waitUntil(timeout: 5) { (try? SimpleHTTPClient.request(method: "GET", port: port, path: "/health").status) == 200 },
                "waited 5 s for requests to be served again once the idle connections closed")
    }

    @Test("a health_listen that cannot bind is a start error naming it")
    func bindFailure() throws {
        let (first, port) = try start([ScriptedHealthOutput(name: "primary")])
        defer { _ = first.stop() }
        let daemon = Daemon(settings: DaemonSettings(hostname: "relay-1", graphiteInputs: [graphiteInput(udp: false)],
                                                     health: HTTPServerOptions(listen: try SocketAddress(host: "127.0.0.1", port: port))),
                            outputs: [ScriptedHealthOutput(name: "primary")], metrics: SelfMetrics(), logger: testLogger)
        #expect(throws: DaemonStartError.self) { try daemon.start() }
        do {
            try daemon.start()
        } catch {
            #expect(error.description.contains("health_listen"), "\(error)")
        }
    }
}
