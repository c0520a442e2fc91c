import EstuaryOutputs
import EstuaryRuntime
import EstuarySpool
import EstuaryTestSupport
import Foundation
import Logging
import Synchronization
import Testing

/// An output over a spool in its own directory, with its registry and logs.
struct SpooledOutput {
    let output: InfluxDBOutput
    let logs: CapturingLogHandler.Store
    let registry: SelfMetrics
    let directory: String
    var spool: SpoolMetrics { SpoolMetrics(registry: registry, measurement: OutputMetrics.measurement, instance: output.configuration.name) }

    /// `directory` nil: a new temporary one.
    init(_ configuration: InfluxDBOutputConfiguration, directory: String? = nil, spillThreshold: Int = 16 << 20,
         maxBytes: Int = 1 << 30, segmentBytes: Int = 256 << 10, start: Bool = true) throws {
        self.directory = directory ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("estuary-spool-out-\(UUID().uuidString)").path
        registry = SelfMetrics()
        let (logger, logs) = capturingLogger()
        self.logs = logs
        let metrics = SpoolMetrics(registry: registry, measurement: OutputMetrics.measurement, instance: configuration.name)
        let spool = try Spool(options: SpoolOptions(directory: self.directory, maxBytes: maxBytes, maxAge: 0,
                                                    segmentBytes: segmentBytes, fsync: .interval(0.1)),
                              metrics: metrics, logger: logger)
        let queue = SpoolingBatchQueue(spool: spool, memoryLimitBytes: 64 << 20, spillThresholdBytes: spillThreshold)
        output = InfluxDBOutput(configuration: configuration, metrics: registry, logger: logger, queue: queue)
        if start { output.start() }
    }

    var segmentFiles: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".seg") }
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

/// A server whose answer to every write is decided by a switch: 503 while "down", 204 while
/// up; the lines of every accepted request are kept, in order.
final class SwitchableServer: Sendable {
    final class State: Sendable {
        let up = Atomic<Bool>(false)
        let accepted = Mutex<[String]>([])
        let delay = Atomic<Int>(0)  // microseconds before each answer
    }

    let state = State()
    let server: ScriptedHTTPServer

    init(up: Bool = false) throws {
        let state = self.state
        state.up.store(up, ordering: .relaxed)
        server = try ScriptedHTTPServer(lifetime: 120) { request in
            let wait = state.delay.load(ordering: .relaxed)
            if wait > 0 { usleep(UInt32(wait)) }
            guard state.up.load(ordering: .relaxed) else { return .respond(status: 503, body: "down for the test") }
            state.accepted.withLock { $0 += request.lines }
            return .respond(status: 204)
        }
    }

    func setUp(_ value: Bool) { state.up.store(value, ordering: .relaxed) }
    func setDelay(microseconds: Int) { state.delay.store(microseconds, ordering: .relaxed) }
    var url: String { server.url }
    var lines: [String] { state.accepted.withLock { $0 } }
}

@Suite("InfluxDB output with a spool", .ownThreads)
struct SpoolOutputTests {
    @Test("server failing: batches go to the spool; when it answers, every line arrives once, in order, spooled before newer")
    func outageThenRecovery() throws {
        let server = try SwitchableServer()
        defer { server.server.stop() }
        let out = try SpooledOutput(testConfiguration(url: server.url))
        defer { out.remove() }
        var input: [String] = []
        for i in 0..<50 {
            let batch = makeBatch(20, tag: "o\(i)", firstIndex: i * 20)
            input += lines(of: batch)
            out.output.enqueue(batch)
            usleep(5_000)
        }
        // Everything reaches the disk (the held request too) within a few flush intervals.
        #expect(waitUntil(timeout: 5) { out.spool.spooledLines.count == 1000 }, "\(out.spool.spooledLines.count)")
        #expect(out.spool.bytes.current > 0)
        #expect(!out.segmentFiles.isEmpty)
        #expect(out.output.status.queuedLines == 1000)
        #expect(out.output.metrics.writtenLines.count == 0)
        server.setUp(true)
        // New data keeps flowing while the spool drains.
        for i in 50..<70 {
            let batch = makeBatch(20, tag: "o\(i)", firstIndex: i * 20)
            input += lines(of: batch)
            out.output.enqueue(batch)
            usleep(5_000)
        }
        #expect(waitUntil(timeout: 10) { out.output.metrics.writtenLines.count == 1400 })
        #expect(server.lines == input, "lines lost, repeated or out of order")
        #expect(waitUntil(timeout: 2) { out.spool.records.current == 0 && out.segmentFiles.isEmpty })
        #expect(out.spool.replayedLines.count > 0)
        #expect(out.output.status.queuedLines == 0)
        #expect(out.output.metrics.droppedQueueFull.count == 0)
        let report = out.output.shutdown(deadline: deadline(in: 1))
        #expect(report.unsentLines == 0 && report.spoolLines == 0)
    }

    @Test("a healthy output never touches the disk")
    func healthyStaysInMemory() throws {
        let server = try SwitchableServer(up: true)
        defer { server.server.stop() }
        let out = try SpooledOutput(testConfiguration(url: server.url))
        defer { out.remove() }
        for i in 0..<100 { out.output.enqueue(makeBatch(30, tag: "h\(i)")) }
        #expect(waitUntil(timeout: 5) { out.output.metrics.writtenLines.count == 3000 })
        #expect(out.spool.spooledLines.count == 0)
        #expect(out.segmentFiles.isEmpty)
        _ = out.output.shutdown(deadline: deadline(in: 1))
    }

    @Test("a slow but healthy server: past spool_memory the front spills; still every line once, in order")
    func slowServerSpillsPastThreshold() throws {
        let server = try SwitchableServer(up: true)
        defer { server.server.stop() }
        server.setDelay(microseconds: 300_000)
        let batch0 = makeBatch(50, tag: "x")
        let out = try SpooledOutput(testConfiguration(url: server.url), spillThreshold: batch0.byteCount * 3)
        defer { out.remove() }
        var input: [String] = []
        for i in 0..<40 {
            let batch = makeBatch(50, tag: "s\(i)", firstIndex: i * 50)
            input += lines(of: batch)
            out.output.enqueue(batch)
            usleep(20_000)
        }
        server.setDelay(microseconds: 0)
        #expect(waitUntil(timeout: 10) { out.output.metrics.writtenLines.count == 2000 })
        #expect(out.spool.spooledLines.count > 0, "the front never spilled")
        #expect(out.output.metrics.failedRequests("server_error") + out.output.metrics.failedRequests("throttled") == 0)
        #expect(server.lines == input)
        _ = out.output.shutdown(deadline: deadline(in: 1))
    }

    @Test("shutdown with the server down: the rest is spilled, nothing lost; the next start sends it")
    func shutdownSpillsThenReplays() throws {
        let port = try refusedPort()
        var configuration = testConfiguration(url: "http://127.0.0.1:\(port)")
        configuration.flushInterval = 30  // nothing spilled before the shutdown but the held request
        let first = try SpooledOutput(configuration)
        defer { first.remove() }
        var input: [String] = []
        for i in 0..<30 {
            let batch = makeBatch(10, tag: "d\(i)", firstIndex: i * 10)
            input += lines(of: batch)
            first.output.enqueue(batch)
        }
        let started = Date()
        let report = first.output.shutdown(deadline: deadline(in: 3))
        #expect(Date().timeIntervalSince(started) < 2, "a failed request at shutdown should end the flush at once")
        #expect(report.unsentLines == 0)
        #expect(report.spoolLines == 300)
        #expect(report.spilledLines + first.spool.spooledLines.count >= 300)
        #expect(first.output.metrics.droppedShutdown.count == 0)
        #expect(first.output.status.state == .stopped)

        let server = try SwitchableServer(up: true)
        defer { server.server.stop() }
        let second = try SpooledOutput(testConfiguration(url: server.url), directory: first.directory)
        #expect(waitUntil(timeout: 5) { second.output.metrics.writtenLines.count == 300 })
        #expect(server.lines == input)
        let again = second.output.shutdown(deadline: deadline(in: 1))
        #expect(again == OutputShutdownReport())
        #expect(second.segmentFiles.isEmpty)
    }

    @Test("shutdown while a request hangs: shutdown does not wait for it; what it held is spilled and sent after a restart")
    func hungRequestAtShutdown() throws {
        let hanging = try ScriptedHTTPServer(script: [.hang(seconds: 8)])
        defer { hanging.stop() }
        var configuration = testConfiguration(url: hanging.url)
        configuration.timeout = 6
        let first = try SpooledOutput(configuration)
        defer { first.remove() }
        var input: [String] = []
        for i in 0..<5 {
            let batch = makeBatch(10, tag: "hung\(i)", firstIndex: i * 10)
            input += lines(of: batch)
            first.output.enqueue(batch)
        }
        #expect(hanging.waitForRequests(1, timeout: 3))
        for i in 5..<8 {
            let batch = makeBatch(10, tag: "hung\(i)", firstIndex: i * 10)
            input += lines(of: batch)
            first.output.enqueue(batch)
        }
        let started = Date()
        let report = first.output.shutdown(deadline: deadline(in: 0.2))
        let took = Date().timeIntervalSince(started)
        #expect(took < 4, "shutdown waited \(took) s for a hung request")
        #expect(report.unsentLines == 0)
        #expect(report.spoolLines == 80)

        let server = try SwitchableServer(up: true)
        defer { server.server.stop() }
        let second = try SpooledOutput(testConfiguration(url: server.url), directory: first.directory)
        #expect(waitUntil(timeout: 5) { second.output.metrics.writtenLines.count == 80 })
        #expect(server.lines == input)
        _ = second.output.shutdown(deadline: deadline(in: 1))
    }

    @Test("a damaged record in the spool: the output starts, counts it, sends the others")
    func damagedSpoolAtStart() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("estuary-spool-dmg-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let batches = (0..<3).map { makeBatch(10, tag: "dmg\($0)", firstIndex: $0 * 10) }
        do {
            let spool = try Spool(options: SpoolOptions(directory: directory), metrics: nil, logger: capturingLogger().0)
            _ = spool.append(batches, recordLines: 10, recordBytes: 1 << 20)
            spool.close()
        }
        let path = directory + "/0000000000000001.seg"
        let bytes = try #require(FileManager.default.contents(atPath: path))
        let second = try SpoolRecordHeader.decode(Array(bytes)).recordLength
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        try handle.seek(toOffset: UInt64(second + SpoolRecordHeader.size + 3))
        try handle.write(contentsOf: [bytes[second + SpoolRecordHeader.size + 3] ^ 0xFF])
        try handle.close()

        let server = try SwitchableServer(up: true)
        defer { server.server.stop() }
        let out = try SpooledOutput(testConfiguration(url: server.url), directory: directory)
        #expect(waitUntil(timeout: 5) { out.output.metrics.writtenLines.count == 20 })
        #expect(server.lines == lines(of: batches[0]) + lines(of: batches[2]))
        #expect(out.spool.corruptRecords.count == 1)
        #expect(out.spool.droppedCorrupt.count == 10)
        #expect(out.logs.count(level: .error, containing: "spool record damaged") == 1)
        _ = out.output.shutdown(deadline: deadline(in: 1))
    }

    @Test("the spool full: the oldest spooled data is dropped and counted, the newest delivered")
    func spoolFull() throws {
        let server = try SwitchableServer()
        defer { server.server.stop() }
        var configuration = testConfiguration(url: server.url)
        configuration.batchSize = 100
        let out = try SpooledOutput(configuration, maxBytes: 256 << 10, segmentBytes: 64 << 10)
        defer { out.remove() }
        // Incompressible-ish lines, so that the spool fills.
        var state: UInt64 = 42
        var total = 0
        for i in 0..<120 {
            var text = ""
            for j in 0..<100 {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                text += "m,tag=full\(i) v=\(state),w=\(state >> 7),x=\(state >> 13) \(i * 100 + j)\n"
            }
            out.output.enqueue(LineProtocolBatch(bytes: Array(text.utf8), lines: 100, source: "test"))
            total += 100
            usleep(2_000)
        }
        #expect(waitUntil(timeout: 5) { out.spool.droppedFull.count > 0 && out.output.status.queuedLines + out.spool.droppedFull.count == total })
        #expect(out.spool.bytes.current <= (256 << 10) + (64 << 10))
        server.setUp(true)
        #expect(waitUntil(timeout: 10) { out.output.metrics.writtenLines.count + out.spool.droppedFull.count == total })
        #expect(server.lines.last?.contains("tag=full119") == true, "the newest data must survive")
        _ = out.output.shutdown(deadline: deadline(in: 1))
    }
}

@Suite("Poison batches", .ownThreads)
struct PoisonBatchTests {
    @Test("400 for a request of several batches: the bad batch is found by halves; every good line is written")
    func isolatesBadBatch() throws {
        let written = Mutex<[String]>([])
        let server = try ScriptedHTTPServer { request in
            if request.lines.contains(where: { $0.contains("batch=poison") }) {
                return .respond(status: 400, body: #"{"code":"invalid","message":"unable to parse 'poison': missing fields"}"#)
            }
            written.withLock { $0 += request.lines }
            return .respond(status: 204)
        }
        defer { server.stop() }
        var configuration = testConfiguration(url: server.url)
        configuration.flushInterval = 0.3  // the batches below go in one request
        let (logger, logs) = capturingLogger()
        let output = InfluxDBOutput(configuration: configuration, metrics: SelfMetrics(), logger: logger)
        output.start()
        defer { _ = output.shutdown(deadline: deadline(in: 0)) }
        var good: [String] = []
        for i in 0..<7 {
            let batch = makeBatch(10, tag: i == 4 ? "poison" : "good\(i)", firstIndex: i * 10)
            if i != 4 { good += lines(of: batch) }
            output.enqueue(batch)
        }
        #expect(waitUntil(timeout: 5) { output.metrics.writtenLines.count == 60 && output.metrics.rejected(.badRequest).count == 10 })
        #expect(Set(written.withLock { $0 }) == Set(good))
        #expect(written.withLock { $0 }.count == 60)
        #expect(output.metrics.split.count >= 2)
        #expect(output.metrics.retried.count == 0)
        let error = logs.all.first { $0.level == .error }
        #expect(error?.metadata["output.first_line"]?.contains("batch=poison") == true)
    }

    @Test("retention policy not found: rejected at once, never retried, and later batches are still sent")
    func retentionPolicyDoesNotBlock() throws {
        let server = try ScriptedHTTPServer { request in
            if request.lines.contains(where: { $0.contains("batch=norp") }) {
                return .respond(status: 500, body: #"{"error":"retention policy not found: nosuchrp"}"#)
            }
            return .respond(status: 204)
        }
        defer { server.stop() }
        let (logger, logs) = capturingLogger()
        let output = InfluxDBOutput(configuration: testConfiguration(url: server.url), metrics: SelfMetrics(), logger: logger)
        output.start()
        defer { _ = output.shutdown(deadline: deadline(in: 0)) }
        output.enqueue(makeBatch(10, tag: "norp"))
        #expect(waitUntil(timeout: 3) { output.metrics.rejected(.retentionPolicy).count == 10 })
        output.enqueue(makeBatch(10, tag: "after"))
        #expect(waitUntil(timeout: 3) { output.metrics.writtenLines.count == 10 })
        _ = output.shutdown(deadline: deadline(in: 2))  // a resend would be tried here
        #expect(server.requests.count == 2, "the rejected batch was sent again")
        #expect(output.metrics.retried.count == 0)
        #expect(logs.count(level: .error, containing: "retention policy not found") == 1)
    }

    @Test("422 partial write (InfluxDB 2.x, points beyond retention): not resent, not blocking")
    func unprocessableNotRetried() throws {
        let body = #"{"code":"unprocessable entity","message":"failure writing points to database: partial write: points beyond retention policy dropped=3"}"#
        let server = try ScriptedHTTPServer(script: [.respond(status: 422, body: body)])
        defer { server.stop() }
        let output = InfluxDBOutput(configuration: testConfiguration(url: server.url), metrics: SelfMetrics(),
                                    logger: capturingLogger().0)
        output.start()
        defer { _ = output.shutdown(deadline: deadline(in: 0)) }
        output.enqueue(makeBatch(10, tag: "old"))
        #expect(waitUntil(timeout: 3) { output.metrics.rejected(.partialWrite).count == 3 })
        output.enqueue(makeBatch(5, tag: "next"))
        #expect(waitUntil(timeout: 3) { output.metrics.writtenLines.count == 7 + 5 })
        #expect(server.requests.count == 2)
        #expect(output.metrics.retried.count == 0)
    }
}

extension SpoolOutputTests {
    /// The cost of the spool: 200,000 lines enqueued while influxd is down (spilled), then
    /// replayed into it after its restart. ESTUARY_OUTPUT_BENCH=1 to run.
    @Test("spill and replay through a real influxd (ESTUARY_OUTPUT_BENCH=1)",
          .enabled(if: ProcessInfo.processInfo.environment["ESTUARY_OUTPUT_BENCH"] != nil
                   && FileManager.default.isExecutableFile(atPath: "/usr/bin/influxd")))
    func spillAndReplayBench() throws {
        let influx = try InfluxDBServer()
        defer { influx.stop() }
        try influx.createDatabase("estuary_test")
        influx.halt()
        var configuration = testConfiguration(url: influx.url)
        configuration.batchSize = 5000
        configuration.timeout = 30
        configuration.flushInterval = 1
        let out = try SpooledOutput(configuration, segmentBytes: 16 << 20)
        defer { out.remove() }
        let total = 200_000
        let batches = Fixtures.benchLineProtocol(batches: total / 100, lines: 100)
            .map { LineProtocolBatch(bytes: $0, lines: 100, source: "bench") }
        let bytes = batches.reduce(0) { $0 + $1.byteCount }
        #expect(waitUntil(timeout: 5) { out.output.status.state == .down || out.output.status.state == .idle })
        let start = Date()
        var times: [Double] = []
        for batch in batches {
            let t = MonotonicClock.now()
            out.output.enqueue(batch)
            times.append(Double(MonotonicClock.now() - t) / 1e6)
        }
        times.sort()
        let slowest = times.last ?? 0
        let p99 = times[times.count * 99 / 100]
        let enqueued = Date().timeIntervalSince(start)
        #expect(waitUntil(timeout: 120) { out.spool.spooledLines.count == total })
        let spilled = Date().timeIntervalSince(start)
        let disk = out.spool.bytes.current
        try influx.restart()
        let replayStart = Date()
        #expect(waitUntil(timeout: 300) { out.output.metrics.writtenLines.count == total })
        let replayed = Date().timeIntervalSince(replayStart)
        print("""
            BENCH spool: \(total) lines (\(bytes) bytes) enqueued in \(String(format: "%.2f", enqueued)) s \
            (enqueue p99 \(String(format: "%.3f", p99)) ms, slowest \(String(format: "%.2f", slowest)) ms), all on disk after \(String(format: "%.2f", spilled)) s \
            = \(Int(Double(total) / spilled)) lines/s, \(disk) bytes on disk (\(String(format: "%.1f", Double(bytes) / Double(max(disk, 1))))x); \
            replayed into influxd in \(String(format: "%.2f", replayed)) s = \(Int(Double(total) / replayed)) lines/s
            """)
        _ = out.output.shutdown(deadline: deadline(in: 5))
        #expect(try influx.count("bench", field: "a", db: "estuary_test") == total)
    }
}
