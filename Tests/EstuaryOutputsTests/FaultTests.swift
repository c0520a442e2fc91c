@testable import EstuaryOutputs
import EstuaryRuntime
import EstuaryTestSupport
import Dispatch
import Foundation
import Logging
import Synchronization
import Testing

/// The output against a scripted loopback server: every status, a hung socket, a reset.
@Suite("InfluxDB output against a scripted server", .ownThreads)
struct FaultTests {
    let partialBody = #"{"error":"partial write: field type conflict: input field \"value\" on measurement \"m\" is type integer, already exists as type float dropped=1"}"#

    /// Makes, starts and (after `body`) shuts down an output against `server`.
    func withOutput(_ configuration: InfluxDBOutputConfiguration,
                    _ body: (InfluxDBOutput, CapturingLogHandler.Store) throws -> Void) throws {
        let (logger, logs) = capturingLogger()
        let output = InfluxDBOutput(configuration: configuration, metrics: SelfMetrics(), logger: logger)
        output.start()
        defer { _ = output.shutdown(deadline: deadline(in: 0)) }
        try body(output, logs)
    }

    /// The lines of every request the server accepted with a 2xx, in order.
    func acceptedLines(_ server: ScriptedHTTPServer, accepted: (ScriptedHTTPServer.Request) -> Bool) -> [String] {
        server.requests.filter(accepted).flatMap(\.lines)
    }

    @Test("503 with Retry-After: waits at least that long, then the same body succeeds")
    func retryAfter() throws {
        let server = try ScriptedHTTPServer(script: [.respond(status: 503, headers: ["Retry-After": "1"], body: "overloaded")])
        defer { server.stop() }
        try withOutput(testConfiguration(url: server.url)) { output, _ in
            let batch = makeBatch(100, tag: "ra")
            output.enqueue(batch)
            #expect(waitUntil(timeout: 5) { output.metrics.writtenLines.count == 100 && output.status.state == .ok })
            let requests = server.requests
            try #require(requests.count == 2)
            #expect(requests[1].receivedAt - requests[0].receivedAt >= 1_000_000_000)
            #expect(requests[1].body == requests[0].body)
            #expect(requests[1].lines == lines(of: batch))
            #expect(output.metrics.retried.count == 1)
            #expect(output.metrics.failedRequests("throttled") == 1)
            #expect(output.metrics.writtenBatches.count == 1)
            #expect(output.metrics.requests.count == 2)
            #expect(output.status.state == .ok)
            #expect(output.status.queuedLines == 0)
        }
    }

    @Test("413: split in halves until the server takes them; every line written exactly once")
    func splitsOn413() throws {
        let limit = 25
        let server = try ScriptedHTTPServer { request in
            request.lines.count > limit ? .respond(status: 413, body: #"{"error":"Request Entity Too Large"}"#) : .respond(status: 204)
        }
        defer { server.stop() }
        var configuration = testConfiguration(url: server.url)
        configuration.flushInterval = 0.3
        try withOutput(configuration) { output, _ in
            var input: [String] = []
            for i in 0..<4 {
                let batch = makeBatch(25, tag: "small\(i)")
                input += lines(of: batch)
                output.enqueue(batch)
            }
            let big = makeBatch(100, tag: "big")  // one receiver batch: cut by lines
            input += lines(of: big)
            output.enqueue(big)

            #expect(waitUntil(timeout: 5) { output.metrics.writtenLines.count == 200 })
            let written = acceptedLines(server) { $0.lines.count <= limit }
            #expect(written.count == 200)
            #expect(Set(written) == Set(input))
            #expect(Set(written).count == written.count, "a line was written twice")
            let refused = server.requests.filter { $0.lines.count > limit }.count
            #expect(refused >= 1)
            #expect(output.metrics.split.count == refused)
            #expect(output.metrics.failedRequests("too_large") == refused)
            #expect(output.metrics.rejected(.tooLarge).count == 0)
            #expect(output.metrics.retried.count == 0)
        }
    }

    @Test("413 for single lines: rejected as too_large, never looping")
    func singleLineTooLarge() throws {
        let server = try ScriptedHTTPServer { _ in .respond(status: 413, body: #"{"error":"Request Entity Too Large"}"#) }
        defer { server.stop() }
        try withOutput(testConfiguration(url: server.url)) { output, logs in
            output.enqueue(makeBatch(2, tag: "huge"))
            #expect(waitUntil(timeout: 5) { output.metrics.rejected(.tooLarge).count == 2 })
            // A stopped writer has sent all it ever will: a batch still held (a loop) would be tried again here.
            _ = output.shutdown(deadline: deadline(in: 2))
            #expect(server.requests.count == 3)  // the pair, then each line
            #expect(output.metrics.split.count == 1)
            #expect(output.metrics.writtenLines.count == 0)
            #expect(output.status.queuedLines == 0)
            #expect(logs.count(level: .error, containing: "single line") == 1)
        }
    }

    @Test("400 partial write: not resent; the dropped line is counted, the rest written")
    func partialWrite() throws {
        let server = try ScriptedHTTPServer(script: [.respond(status: 400, headers: ["X-Influxdb-Version": "1.6.7~rc0"], body: partialBody)])
        defer { server.stop() }
        try withOutput(testConfiguration(url: server.url)) { output, logs in
            output.enqueue(makeBatch(10, tag: "pw"))
            #expect(waitUntil(timeout: 5) { output.metrics.writtenBatches.count == 1 })
            let status = output.status
            _ = output.shutdown(deadline: deadline(in: 2))  // a resend would be tried here
            #expect(server.requests.count == 1)
            #expect(output.metrics.writtenLines.count == 9)
            #expect(output.metrics.rejected(.partialWrite).count == 1)
            #expect(output.metrics.retried.count == 0)
            #expect(status.state == .ok)
            #expect(status.lastError?.contains("field type conflict") == true)
            #expect(logs.count(level: .warning, containing: "partial write") == 1)
        }
    }

    @Test("400 bad request: the whole request is rejected and logged with its first line")
    func badRequest() throws {
        let server = try ScriptedHTTPServer(script: [
            .respond(status: 400, body: #"{"error":"unable to parse 'types2 u=3u 1700000010000000000': invalid number"}"#),
        ])
        defer { server.stop() }
        try withOutput(testConfiguration(url: server.url)) { output, logs in
            let batch = makeBatch(5, tag: "bad")
            output.enqueue(batch)
            #expect(waitUntil(timeout: 5) { output.metrics.rejected(.badRequest).count == 5 })
            _ = output.shutdown(deadline: deadline(in: 2))  // a resend would be tried here
            #expect(server.requests.count == 1)
            #expect(output.metrics.writtenLines.count == 0)
            let entry = logs.all.first { $0.level == .error }
            #expect(entry?.message.contains("invalid number") == true)
            #expect(entry?.metadata["output.first_line"] == lines(of: batch)[0])
            #expect(entry?.metadata["http.status"] == "400")
        }
    }

    @Test("hung socket: the request times out after `timeout`, is retried, then succeeds")
    func hungSocket() throws {
        let server = try ScriptedHTTPServer(script: [.hang(seconds: 5)])
        defer { server.stop() }
        var configuration = testConfiguration(url: server.url)
        configuration.timeout = 0.3
        let started = Date()
        try withOutput(configuration) { output, _ in
            output.enqueue(makeBatch(20, tag: "hang"))
            #expect(waitUntil(timeout: 5) { output.metrics.writtenLines.count == 20 })
            let requests = server.requests
            try #require(requests.count == 2)
            #expect(requests[1].receivedAt - requests[0].receivedAt >= 300_000_000)
            #expect(requests[1].connection != requests[0].connection)
            #expect(output.metrics.failedRequests("transport") == 1)
            #expect(output.metrics.retried.count == 1)
            #expect(output.status.lastError?.lowercased().contains("timeout") == true
                    || output.status.lastError?.lowercased().contains("timed out") == true)
        }
        #expect(Date().timeIntervalSince(started) < 3)
    }

    @Test("connection reset: retried, then written")
    func connectionReset() throws {
        let server = try ScriptedHTTPServer(script: [.reset, .close])
        defer { server.stop() }
        try withOutput(testConfiguration(url: server.url)) { output, _ in
            output.enqueue(makeBatch(20, tag: "rst"))
            #expect(waitUntil(timeout: 5) { output.metrics.writtenLines.count == 20 })
            #expect(server.requests.count == 3)
            #expect(output.metrics.failedRequests("transport") == 2)
            #expect(output.metrics.retried.count == 2)
            #expect(output.metrics.writtenBatches.count == 1)
        }
    }

    @Test("5xx: capped exponential backoff, then success; state goes retrying -> ok")
    func serverErrors() throws {
        let server = try ScriptedHTTPServer(script: Array(repeating: .respond(status: 500, body: #"{"error":"timeout"}"#), count: 3))
        defer { server.stop() }
        try withOutput(testConfiguration(url: server.url)) { output, logs in
            output.enqueue(makeBatch(10, tag: "5xx"))
            #expect(waitUntil(timeout: 5) { output.metrics.writtenLines.count == 10 && output.status.state == .ok })
            let requests = server.requests
            #expect(requests.count == 4, "transport failures: \(output.metrics.failedRequests("transport")), last error: \(output.status.lastError ?? "none")")
            // Full jitter with retryInitial 0.02 and retryMax 0.2: every gap is at most 0.2 s
            // (plus scheduling slack).
            for (a, b) in zip(requests, requests.dropFirst()) {
                #expect(b.receivedAt - a.receivedAt < 600_000_000)
            }
            #expect(output.metrics.retried.count == 3)
            #expect(output.metrics.failedRequests("server_error") == 3)
            #expect(output.status.state == .ok)
            #expect(output.status.consecutiveFailures == 0)
            #expect(logs.count(level: .warning, containing: "HTTP 500") == 1)
            #expect(logs.count(containing: "accepts writes again") == 1)
        }
    }

    @Test("401: data kept, retried slowly at retryMax, logged once")
    func unauthorized() throws {
        let server = try ScriptedHTTPServer { _ in .respond(status: 401, body: #"{"error":"authorization failed"}"#) }
        defer { server.stop() }
        var configuration = testConfiguration(url: server.url)
        configuration.retryMax = 0.25
        configuration.username = "writer"
        configuration.password = "wrong"
        // The slow retry (90–100 % of retry_max) is decided by a manual clock: the test moves it.
        let clock = ManualClock()
        let (output, logs) = startedOutputByTheClock(configuration, clock: clock, sending: makeBatch(30, tag: "auth"))
        defer { _ = output.shutdown(deadline: clock.monotonicNow()) }
        let attempts = 4
        for attempt in 1...attempts {
            #expect(waitUntil(timeout: 5) { output.metrics.failedRequests("unauthorized") == attempt },
                    "waited 5 s for refused request \(attempt); the server saw \(server.requests.count)")
            #expect(server.requests.count == attempt)
            clock.advance(by: configuration.retryMax * 0.9 - 0.001)
            #expect(!output.retryIsDue, "a slow retry waits at least 90 % of retry_max")
            clock.advance(by: configuration.retryMax * 0.1 + 0.001)
            #expect(output.retryIsDue, "a slow retry is due after retry_max")
            if attempt < attempts { output.wakeWriter() }
        }
        #expect(output.metrics.writtenLines.count == 0)
        #expect(output.status.state == .unauthorized)
        #expect(output.status.queuedLines == 30)
        #expect(logs.count(level: .error, containing: "refuses the credentials") == 1)
        #expect(server.requests.first?.headers["authorization"] == "Basic d3JpdGVyOndyb25n")
    }

    @Test("404 database not found: CREATE DATABASE once through /query, then the write is retried")
    func createsDatabase() throws {
        let writes = Mutex(0)
        let server = try ScriptedHTTPServer { request in
            if request.path == "/query" { return .respond(status: 200, body: #"{"results":[{"statement_id":0}]}"#) }
            let n = writes.withLock { n in n += 1; return n }
            return n == 1 ? .respond(status: 404, body: #"{"error":"database not found: \"estuary_test\""}"#) : .respond(status: 204)
        }
        defer { server.stop() }
        try withOutput(testConfiguration(url: server.url)) { output, _ in
            output.enqueue(makeBatch(10, tag: "db"))
            #expect(waitUntil(timeout: 5) { output.metrics.writtenLines.count == 10 })
            let requests = server.requests
            #expect(requests.map(\.path) == ["/write", "/query", "/write"])
            #expect(String(decoding: requests[1].body, as: UTF8.self) == "q=CREATE%20DATABASE%20%22estuary_test%22")
            #expect(output.metrics.failedRequests("database_not_found") == 1)
        }
    }

    @Test("v1 request: path, query, Basic auth, no Content-Encoding when gzip is off")
    func v1Request() throws {
        let server = try ScriptedHTTPServer(script: [])
        defer { server.stop() }
        var configuration = testConfiguration(url: server.url + "/", gzip: false)
        configuration.retentionPolicy = "autogen"
        configuration.username = "admin"
        configuration.password = "adminpw"
        try withOutput(configuration) { output, _ in
            let batch = makeBatch(3, tag: "v1")
            output.enqueue(batch)
            #expect(server.waitForRequests(1, timeout: 5))
            let request = try #require(server.requests.first)
            #expect(request.method == "POST")
            #expect(request.path == "/write")
            #expect(request.query == ["db": "estuary_test", "rp": "autogen", "precision": "ns"])
            #expect(request.headers["authorization"] == "Basic YWRtaW46YWRtaW5wdw==")
            #expect(request.headers["content-encoding"] == nil)
            #expect(request.headers["content-type"] == "text/plain; charset=utf-8")
            #expect(request.headers["expect"] == nil)
            #expect(request.body == batch.bytes)
        }
    }

    @Test("v2 request: /api/v2/write, org, bucket, precision, Token, gzip body")
    func v2Request() throws {
        let server = try ScriptedHTTPServer(script: [])
        defer { server.stop() }
        var configuration = testConfiguration(url: server.url)
        configuration.api = .v2
        configuration.org = "acme"
        configuration.bucket = "metrics"
        configuration.token = "s3cr3t=="
        try withOutput(configuration) { output, _ in
            let batch = makeBatch(50, tag: "v2")
            output.enqueue(batch)
            #expect(waitUntil(timeout: 5) { output.metrics.writtenLines.count == 50 })
            let request = try #require(server.requests.first)
            #expect(request.path == "/api/v2/write")
            #expect(request.query == ["org": "acme", "bucket": "metrics", "precision": "ns"])
            #expect(request.headers["authorization"] == "Token s3cr3t==")
            #expect(request.headers["content-encoding"] == "gzip")
            #expect(request.decodeError == nil)
            #expect(request.decodedBody == batch.bytes)
            #expect(request.body.count < batch.byteCount)
        }
    }

    @Test("v2 against a server without /api/v2/write (404): kept, retried slowly, hint logged")
    func v2NotFound() throws {
        let server = try ScriptedHTTPServer { _ in .respond(status: 404, body: "404 page not found\n") }
        defer { server.stop() }
        var configuration = testConfiguration(url: server.url)
        configuration.api = .v2
        configuration.retryMax = 0.3
        try withOutput(configuration) { output, logs in
            output.enqueue(makeBatch(5, tag: "nf"))
            usleep(700_000)
            #expect(server.requests.count <= 4)
            #expect(output.status.state == .notFound)
            #expect(output.status.queuedLines == 5)
            #expect(logs.count(level: .error, containing: "use api v1") == 1)
        }
    }

    @Test("batching: whole receiver batches concatenated up to batchSize lines, in order")
    func batching() throws {
        let server = try ScriptedHTTPServer(script: [])
        defer { server.stop() }
        var configuration = testConfiguration(url: server.url)
        configuration.batchSize = 100
        configuration.flushInterval = 0.2
        try withOutput(configuration) { output, _ in
            var input: [String] = []
            for i in 0..<50 {
                let batch = makeBatch(30, tag: "b\(i)")
                input += lines(of: batch)
                output.enqueue(batch)
            }
            #expect(waitUntil(timeout: 5) { output.metrics.writtenLines.count == 1500 })
            let requests = server.requests
            #expect(requests.allSatisfy { $0.lines.count <= 100 && $0.lines.count % 30 == 0 })
            #expect(requests.flatMap(\.lines) == input)
            #expect(output.metrics.writtenBatches.count == requests.count)
            #expect(requests.count >= 17)
        }
    }

    @Test("batchBytes bounds a request before compression")
    func batchBytes() throws {
        let server = try ScriptedHTTPServer(script: [])
        defer { server.stop() }
        let sample = makeBatch(10, tag: "x0")
        var configuration = testConfiguration(url: server.url)
        configuration.batchBytes = sample.byteCount * 3
        try withOutput(configuration) { output, _ in
            for i in 0..<9 { output.enqueue(makeBatch(10, tag: "x\(i)")) }
            #expect(waitUntil(timeout: 5) { output.metrics.writtenLines.count == 90 })
            #expect(server.requests.allSatisfy { $0.decodedBody.count <= sample.byteCount * 3 })
        }
    }

    @Test("flush interval: a partial batch waits about flushInterval; a full one goes at once")
    func flushInterval() throws {
        let server = try ScriptedHTTPServer(script: [])
        defer { server.stop() }
        var configuration = testConfiguration(url: server.url)
        configuration.flushInterval = 0.4
        configuration.batchSize = 100
        try withOutput(configuration) { output, _ in
            let t0 = MonotonicClock.now()
            output.enqueue(makeBatch(5, tag: "partial"))
            #expect(server.waitForRequests(1, timeout: 3))
            let waited = Double((server.requests.first?.receivedAt ?? t0) - t0) / 1e9
            #expect(waited >= 0.35 && waited < 1.5, "partial batch sent after \(waited) s")

            let t1 = MonotonicClock.now()
            output.enqueue(makeBatch(100, tag: "full"))
            #expect(server.waitForRequests(2, timeout: 3))
            let immediate = Double((server.requests.last?.receivedAt ?? t1) - t1) / 1e9
            #expect(immediate < 0.3, "full batch sent after \(immediate) s")
        }
    }

    @Test("shutdown drains what is queued before the deadline")
    func shutdownDrains() throws {
        let server = try ScriptedHTTPServer(script: [])
        defer { server.stop() }
        var configuration = testConfiguration(url: server.url)
        configuration.flushInterval = 30
        let (logger, _) = capturingLogger()
        let output = InfluxDBOutput(configuration: configuration, metrics: SelfMetrics(), logger: logger)
        output.start()
        output.enqueue(makeBatch(40, tag: "drain"))
        let report = output.shutdown(deadline: deadline(in: 3))
        #expect(report == OutputShutdownReport())
        #expect(output.metrics.writtenLines.count == 40)
        #expect(output.status.state == .stopped)
        #expect(server.requests.count == 1)
    }

    @Test("shutdown with the server down: returns at the deadline with everything unsent, counted")
    func shutdownWhileDown() throws {
        let port = try refusedPort()
        let (logger, _) = capturingLogger()
        let output = InfluxDBOutput(configuration: testConfiguration(url: "http://127.0.0.1:\(port)"), metrics: SelfMetrics(),
                                    logger: logger)
        output.start()
        let batch = makeBatch(100, tag: "down")
        output.enqueue(batch)
        output.enqueue(makeBatch(50, tag: "down2"))
        // Counters move a moment before the state: wait for the state.
        #expect(waitUntil(timeout: 3) { output.status.state == .down })
        #expect(output.metrics.failedRequests("transport") >= 1)
        let started = Date()
        let report = output.shutdown(deadline: deadline(in: 0.3))
        let took = Date().timeIntervalSince(started)
        #expect(took < 2, "shutdown took \(took) s")
        #expect(report.unsentLines == 150)
        #expect(report.unsentBatches == 2)
        #expect(output.metrics.droppedShutdown.count == 150)
        #expect(output.metrics.writtenLines.count == 0)
        #expect(output.status.queuedLines == 0)
        #expect(output.status.state == .stopped)
    }

    @Test("an unexpected status (405) keeps the data and retries slowly")
    func unexpectedStatus() throws {
        let server = try ScriptedHTTPServer { _ in .respond(status: 405, body: "Method Not Allowed") }
        defer { server.stop() }
        var configuration = testConfiguration(url: server.url)
        configuration.retryMax = 0.3
        try withOutput(configuration) { output, _ in
            output.enqueue(makeBatch(5, tag: "405"))
            #expect(waitUntil(timeout: 3) { output.status.state == .unexpectedStatus })
            usleep(400_000)
            #expect(server.requests.count <= 3)
            #expect(output.status.queuedLines == 5)
            #expect(output.metrics.failedRequests("unexpected_status") == server.requests.count)
        }
    }

    @Test("batches without a final newline are never run together in one request")
    func missingNewline() throws {
        let server = try ScriptedHTTPServer(script: [])
        defer { server.stop() }
        var configuration = testConfiguration(url: server.url)
        configuration.flushInterval = 0.3
        try withOutput(configuration) { output, _ in
            output.enqueue(LineProtocolBatch(bytes: Array("a value=1 1".utf8), lines: 1, source: "t"))
            output.enqueue(LineProtocolBatch(bytes: Array("b value=2 2".utf8), lines: 1, source: "t"))
            #expect(waitUntil(timeout: 3) { output.metrics.writtenLines.count == 2 })
            #expect(server.requests.flatMap(\.lines) == ["a value=1 1", "b value=2 2"])
        }
    }

    @Test("enqueue from several threads at once: every line written exactly once")
    func concurrentEnqueue() throws {
        let server = try ScriptedHTTPServer(script: [])
        defer { server.stop() }
        var configuration = testConfiguration(url: server.url)
        configuration.batchSize = 500
        try withOutput(configuration) { output, _ in
            DispatchQueue.concurrentPerform(iterations: 4) { thread in
                for i in 0..<250 { output.enqueue(makeBatch(4, tag: "t\(thread)", firstIndex: i * 4)) }
            }
            #expect(waitUntil(timeout: 10) { output.metrics.writtenLines.count == 4000 })
            let written = server.requests.flatMap(\.lines)
            #expect(written.count == 4000)
            #expect(Set(written).count == 4000)
            #expect(output.status.queuedLines == 0)
            #expect(output.metrics.queueLines.current == 0)
        }
    }
}
