@testable import EstuaryOutputs
import EstuaryRuntime
import EstuaryTestSupport
import Foundation
import Logging
import Testing

/// The output against the real InfluxDB 1.6.7 (`/usr/bin/influxd`), one server per test.
/// Serialized: each test starts its own influxd, and the machine has two cores.
@Suite("InfluxDB output against a real influxd", .ownThreads, .serialized,
       .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/influxd")))
struct InfluxDBIntegrationTests {
    func makeOutput(_ configuration: InfluxDBOutputConfiguration,
                    clock: any Clock = SystemClock()) -> (InfluxDBOutput, CapturingLogHandler.Store) {
        let (logger, logs) = capturingLogger()
        let output = InfluxDBOutput(configuration: configuration, metrics: SelfMetrics(), logger: logger, clock: clock)
        output.start()
        return (output, logs)
    }

    @Test("v1: a few thousand lines in many small batches all arrive", arguments: [true, false])
    func writesLines(gzip: Bool) throws {
        let influx = try InfluxDBServer()
        defer { influx.stop() }
        try influx.createDatabase("estuary_test")
        let (output, _) = makeOutput(testConfiguration(url: influx.url, gzip: gzip))
        for i in 0..<60 { output.enqueue(makeBatch(50, tag: "g\(i % 7)", measurement: "load", firstIndex: i * 50)) }
        #expect(waitUntil(timeout: 10) { output.metrics.writtenLines.count == 3000 })
        let report = output.shutdown(deadline: deadline(in: 2))
        #expect(report == OutputShutdownReport())
        #expect(try influx.count("load", db: "estuary_test") == 3000)
        #expect(output.metrics.writtenBatches.count >= 3)
        #expect(output.metrics.requests.count == output.metrics.writtenBatches.count)
        #expect(output.metrics.retried.count == 0)
        #expect(output.metrics.latencyMsTotal.count >= 0)
        let rows = try influx.query("SELECT value FROM load WHERE batch = 'g0' ORDER BY time LIMIT 1", db: "estuary_test")
        #expect(InfluxDBServer.int(rows.first?["value"]) == 0)
    }

    @Test("retention policy not found (500): the batch is rejected, never retried")
    func retentionPolicyNotFound() throws {
        let influx = try InfluxDBServer()
        defer { influx.stop() }
        try influx.createDatabase("estuary_test")
        var configuration = testConfiguration(url: influx.url)
        configuration.retentionPolicy = "nosuchrp"
        let (output, logs) = makeOutput(configuration)
        output.enqueue(makeBatch(100, tag: "rp"))
        #expect(waitUntil(timeout: 5) { output.metrics.rejected(.retentionPolicy).count == 100 })
        let requests = output.metrics.requests.count
        let status = output.status
        _ = output.shutdown(deadline: deadline(in: 2))  // a retry would be tried here
        #expect(output.metrics.requests.count == requests, "the output retried a retention-policy error")
        #expect(requests == 1)
        #expect(output.metrics.retried.count == 0)
        #expect(output.metrics.writtenLines.count == 0)
        #expect(status.state == .misconfigured)
        #expect(status.queuedLines == 0)
        #expect(logs.count(level: .error, containing: "retention policy not found") == 1)
        _ = output.shutdown(deadline: deadline(in: 0))
        #expect(try influx.count("m", db: "estuary_test") == 0)
    }

    @Test("database not found: created once, then written")
    func createsDatabase() throws {
        let influx = try InfluxDBServer()
        defer { influx.stop() }
        var configuration = testConfiguration(url: influx.url)
        configuration.database = "made_by_estuary"
        let (output, _) = makeOutput(configuration)
        output.enqueue(makeBatch(500, tag: "new"))
        #expect(waitUntil(timeout: 5) { output.metrics.writtenLines.count == 500 })
        _ = output.shutdown(deadline: deadline(in: 1))
        #expect(try influx.databases().contains("made_by_estuary"))
        #expect(try influx.count("m", db: "made_by_estuary") == 500)
        #expect(output.metrics.failedRequests("database_not_found") == 1)
    }

    @Test("database not found with createDatabase off: kept and retried slowly")
    func keepsWhenDatabaseMissing() throws {
        let influx = try InfluxDBServer()
        defer { influx.stop() }
        var configuration = testConfiguration(url: influx.url)
        configuration.database = "absent"
        configuration.createDatabase = false
        configuration.retryMax = 0.3
        // The slow retry (90–100 % of retry_max) is decided by a manual clock: the test moves it.
        let clock = ManualClock()
        let (output, logs) = makeOutput(configuration, clock: clock)
        output.enqueue(makeBatch(20, tag: "keep"))
        clock.advance(by: configuration.flushInterval)
        output.wakeWriter()
        for attempt in 1...3 {
            #expect(waitUntil(timeout: 5) { output.metrics.requests.count == attempt && output.status.state == .databaseNotFound },
                    "waited 5 s for request \(attempt) answered 'database not found'")
            clock.advance(by: configuration.retryMax * 0.9 - 0.001)
            #expect(!output.retryIsDue, "a slow retry waits at least 90 % of retry_max")
            clock.advance(by: configuration.retryMax * 0.1 + 0.001)
            #expect(output.retryIsDue)
            if attempt < 3 { output.wakeWriter() }
        }
        #expect(output.metrics.requests.count == 3)
        #expect(output.status.queuedLines == 20)
        #expect(output.metrics.writtenLines.count == 0)
        #expect(logs.count(level: .error, containing: "database not found") == 1)
        #expect(try !influx.databases().contains("absent"))
        let report = output.shutdown(deadline: clock.monotonicNow())
        #expect(report.unsentLines == 20)
    }

    @Test("auth on, wrong password: 401 counted, data kept, nothing written")
    func wrongPassword() throws {
        var options = InfluxDBServer.Options()
        options.authEnabled = true
        options.adminUser = "admin"
        options.adminPassword = "right"
        let influx = try InfluxDBServer(options: options)
        defer { influx.stop() }
        try influx.createDatabase("estuary_test")
        var configuration = testConfiguration(url: influx.url)
        configuration.username = "admin"
        configuration.password = "wrong"
        configuration.retryMax = 0.3
        let (output, logs) = makeOutput(configuration)
        output.enqueue(makeBatch(200, tag: "auth"))
        #expect(waitUntil(timeout: 3) { output.metrics.failedRequests("unauthorized") >= 2 })
        #expect(output.status.state == .unauthorized)
        #expect(output.status.queuedLines == 200)
        #expect(output.status.lastError?.contains("authorization failed") == true)
        #expect(output.metrics.writtenLines.count == 0)
        #expect(output.metrics.retried.count == output.metrics.failedRequests("unauthorized"))
        #expect(logs.count(level: .error, containing: "refuses the credentials") == 1)
        let report = output.shutdown(deadline: deadline(in: 0.2))
        #expect(report.unsentLines == 200)
        #expect(try influx.count("m", db: "estuary_test") == 0)
    }

    @Test("413 from influxd's max-body-size: split until the halves fit, every line stored")
    func splitsForMaxBodySize() throws {
        var options = InfluxDBServer.Options()
        options.maxBodySize = 20_000
        let influx = try InfluxDBServer(options: options)
        defer { influx.stop() }
        try influx.createDatabase("estuary_test")
        var configuration = testConfiguration(url: influx.url, gzip: false)
        configuration.flushInterval = 0.5
        let (output, _) = makeOutput(configuration)
        for i in 0..<4 { output.enqueue(makeBatch(250, tag: "big\(i)", firstIndex: i * 250)) }  // ~12 KB each, ~49 KB together
        #expect(waitUntil(timeout: 10) { output.metrics.writtenLines.count == 1000 })
        _ = output.shutdown(deadline: deadline(in: 1))
        #expect(output.metrics.split.count >= 1)
        #expect(try influx.count("m", db: "estuary_test") == 1000)
    }

    @Test("partial write from influxd: the good lines are stored, the conflicting one counted")
    func partialWrite() throws {
        let influx = try InfluxDBServer()
        defer { influx.stop() }
        try influx.createDatabase("estuary_test")
        #expect(try influx.write("conf v=1.5 1700000000000000000\n", db: "estuary_test").status == 204)
        let (output, _) = makeOutput(testConfiguration(url: influx.url))
        let text = "conf v=2.5 1700000001000000000\nconf v=3i 1700000002000000000\nconf v=4.5 1700000003000000000\n"
        output.enqueue(LineProtocolBatch(bytes: Array(text.utf8), lines: 3, source: "test"))
        #expect(waitUntil(timeout: 5) { output.metrics.writtenBatches.count == 1 })
        _ = output.shutdown(deadline: deadline(in: 0.5))
        #expect(output.metrics.writtenLines.count == 2)
        #expect(output.metrics.rejected(.partialWrite).count == 1)
        #expect(output.metrics.requests.count == 1)
        #expect(try influx.count("conf", field: "v", db: "estuary_test") == 3)
    }

    /// Throughput through the output into the local influxd: ESTUARY_OUTPUT_BENCH=1 to run.
    @Test("throughput into influxd (ESTUARY_OUTPUT_BENCH=1)",
          .enabled(if: ProcessInfo.processInfo.environment["ESTUARY_OUTPUT_BENCH"] != nil), arguments: [true, false])
    func throughput(gzip: Bool) throws {
        let influx = try InfluxDBServer()
        defer { influx.stop() }
        try influx.createDatabase("estuary_test")
        var configuration = testConfiguration(url: influx.url, gzip: gzip)
        configuration.batchSize = 5000
        configuration.timeout = 30
        configuration.queueLimitBytes = 1 << 30
        let (output, _) = makeOutput(configuration)
        let total = 200_000
        let batches = Fixtures.benchLineProtocol(batches: total / 100, lines: 100)
            .map { LineProtocolBatch(bytes: $0, lines: 100, source: "bench") }
        let bytes = batches.reduce(0) { $0 + $1.byteCount }
        let start = Date()
        for batch in batches { output.enqueue(batch) }
        #expect(waitUntil(timeout: 120) { output.metrics.writtenLines.count == total })
        let seconds = Date().timeIntervalSince(start)
        let requests = output.metrics.requests.count
        print("""
            BENCH gzip=\(gzip): \(total) lines (\(bytes) bytes) in \(String(format: "%.2f", seconds)) s = \
            \(Int(Double(total) / seconds)) lines/s, \(requests) requests = \(String(format: "%.1f", Double(requests) / seconds)) requests/s, \
            mean latency \(output.metrics.latencyMsTotal.count / max(requests, 1)) ms
            """)
        _ = output.shutdown(deadline: deadline(in: 5))
        #expect(try influx.count("bench", field: "a", db: "estuary_test") == total)
    }
}

extension InfluxDBIntegrationTests {
    /// Requests per second with one-line requests (per-request cost of the output and influxd):
    /// ESTUARY_OUTPUT_BENCH=1 to run.
    @Test("one-line requests per second into influxd (ESTUARY_OUTPUT_BENCH=1)",
          .enabled(if: ProcessInfo.processInfo.environment["ESTUARY_OUTPUT_BENCH"] != nil), arguments: [true, false])
    func requestRate(gzip: Bool) throws {
        let influx = try InfluxDBServer()
        defer { influx.stop() }
        try influx.createDatabase("estuary_test")
        var configuration = testConfiguration(url: influx.url, gzip: gzip)
        configuration.batchSize = 1
        let (output, _) = makeOutput(configuration)
        let total = 5000
        let start = Date()
        for i in 0..<total { output.enqueue(makeBatch(1, tag: "r", firstIndex: i)) }
        #expect(waitUntil(timeout: 120) { output.metrics.writtenLines.count == total })
        let seconds = Date().timeIntervalSince(start)
        print("""
            BENCH requests gzip=\(gzip): \(total) one-line requests in \(String(format: "%.2f", seconds)) s = \
            \(Int(Double(total) / seconds)) requests/s, mean latency \
            \(String(format: "%.2f", Double(output.metrics.latencyMsTotal.count) / Double(total))) ms (ms-truncated sum)
            """)
        _ = output.shutdown(deadline: deadline(in: 5))
        #expect(try influx.count("m", db: "estuary_test") == total)
    }
}
