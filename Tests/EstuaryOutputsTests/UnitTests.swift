import EstuaryCompression
@testable import EstuaryOutputs
import EstuaryRuntime
import EstuaryTestSupport
import Testing

@Suite("RetryPolicy")
struct RetryPolicyTests {
    @Test("ceilings double from initial and stop at maximum")
    func ceilings() {
        let policy = RetryPolicy(initial: 0.5, maximum: 60)
        #expect(policy.ceiling(attempt: 1) == 0.5)
        #expect(policy.ceiling(attempt: 2) == 1)
        #expect(policy.ceiling(attempt: 3) == 2)
        #expect(policy.ceiling(attempt: 8) == 60)  // 64 capped
        #expect(policy.ceiling(attempt: 1000) == 60)
        #expect(policy.ceiling(attempt: 0) == 0.5)
        #expect(policy.ceiling(attempt: -5) == 0.5)
    }

    @Test("full jitter: every delay within [0, ceiling], spread over the range, repeatable by seed")
    func jitter() {
        let policy = RetryPolicy(initial: 0.5, maximum: 60)
        var random = SplitMix64(seed: 42)
        for attempt in 1...20 {
            var low = Double.infinity, high = 0.0
            for _ in 0..<500 {
                let delay = policy.delay(attempt: attempt, using: &random)
                #expect(delay >= 0 && delay <= policy.ceiling(attempt: attempt))
                low = min(low, delay)
                high = max(high, delay)
            }
            let ceiling = policy.ceiling(attempt: attempt)
            #expect(low < ceiling * 0.1, "attempt \(attempt): not spread low")
            #expect(high > ceiling * 0.9, "attempt \(attempt): not spread high")
        }
        var a = SplitMix64(seed: 7), b = SplitMix64(seed: 7)
        #expect((1...10).map { policy.delay(attempt: $0, using: &a) } == (1...10).map { policy.delay(attempt: $0, using: &b) })
    }

    @Test("Retry-After raises the delay to at least its value, capped at retryAfterCap")
    func retryAfter() {
        let policy = RetryPolicy(initial: 0.5, maximum: 60)
        var random = SplitMix64(seed: 1)
        for _ in 0..<200 {
            #expect(policy.delay(attempt: 1, retryAfter: 5, using: &random) == 5)
            #expect(policy.delay(attempt: 1, retryAfter: 10_000, using: &random) == 600)
            let big = policy.delay(attempt: 10, retryAfter: 1, using: &random)
            #expect(big >= 1 && big <= 60)
            let ignored = policy.delay(attempt: 1, retryAfter: -3, using: &random)
            #expect(ignored <= 0.5)
        }
    }

    @Test("slow retries wait about the maximum; bad bounds are repaired")
    func slowAndBounds() {
        let policy = RetryPolicy(initial: 0.5, maximum: 60)
        var random = SplitMix64(seed: 3)
        for _ in 0..<100 {
            let delay = policy.slowDelay(using: &random)
            #expect(delay >= 54 && delay <= 60)
        }
        let repaired = RetryPolicy(initial: -1, maximum: .nan)
        #expect(repaired.initial > 0)
        #expect(repaired.maximum >= repaired.initial)
    }
}

@Suite("Gzip")
struct GzipTests {
    @Test("round trip at every level, empty and large inputs; the output is gzip (1f 8b)")
    func roundTrip() throws {
        var random = SplitMix64(seed: 99)
        let text = Array((0..<20_000).map { "cpu_value,host=h\($0 % 50),type=percent value=\($0) 17000000000\($0)\n" }.joined().utf8)
        let noise = (0..<100_000).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        for input in [[], [0x41], text, noise] {
            for level: Int32 in [0, 1, 6, 9] {
                let compressed = Gzip.compress(input, level: level)
                #expect(compressed.prefix(2) == [0x1F, 0x8B])
                #expect(try Gzip.decompress(compressed) == input)
            }
        }
        #expect(Gzip.compress(text).count < text.count / 5)
    }

    @Test("typed errors: not gzip, truncated, over the limit; concatenated members")
    func errors() throws {
        let data = Gzip.compress(Array("hello world, hello world, hello world".utf8))
        #expect(throws: GzipError.self) { try Gzip.decompress(Array("not gzip at all".utf8)) }
        #expect(throws: GzipError.truncated) { try Gzip.decompress(Array(data.prefix(data.count - 6))) }
        #expect(throws: GzipError.truncated) { try Gzip.decompress([]) }
        #expect(throws: GzipError.outputTooLarge(limit: 10)) { try Gzip.decompress(data, limit: 10) }
        #expect(try Gzip.decompress(data + Gzip.compress(Array("!".utf8))) == Array("hello world, hello world, hello world!".utf8))
        var corrupt = data
        corrupt[corrupt.count - 8] ^= 0xFF  // CRC
        #expect(throws: GzipError.self) { try Gzip.decompress(corrupt) }
    }
}

@Suite("MemoryBatchQueue")
struct MemoryBatchQueueTests {
    @Test("FIFO with line and byte totals")
    func fifo() {
        let queue = MemoryBatchQueue(limitBytes: 1 << 20)
        let batches = (0..<40).map { makeBatch($0 % 5 + 1, tag: "b\($0)") }  // forces ring growth
        for batch in batches { #expect(queue.push(batch).isEmpty) }
        #expect(queue.count == 40)
        #expect(queue.lines == batches.reduce(0) { $0 + $1.lines })
        #expect(queue.bytes == batches.reduce(0) { $0 + $1.byteCount })
        for batch in batches {
            #expect(queue.peekFront() === batch)
            #expect(queue.popFront() === batch)
        }
        #expect(queue.popFront() == nil)
        #expect(queue.count == 0 && queue.lines == 0 && queue.bytes == 0)
    }

    @Test("overflow drops the oldest batches and reports them")
    func overflow() {
        let one = makeBatch(10, tag: "x")
        let queue = MemoryBatchQueue(limitBytes: one.byteCount * 3)
        let batches = (0..<5).map { makeBatch(10, tag: "\($0)") }  // same size as `one`
        #expect(queue.push(batches[0]).isEmpty)
        #expect(queue.push(batches[1]).isEmpty)
        #expect(queue.push(batches[2]).isEmpty)
        let dropped = queue.push(batches[3])
        #expect(dropped == QueueOverflow(batches: 1, lines: 10, bytes: batches[0].byteCount))
        #expect(queue.peekFront() === batches[1])
        let dropped2 = queue.push(batches[4])
        #expect(dropped2.batches == 1)
        #expect(queue.peekFront() === batches[2])
        #expect(queue.bytes <= queue.limitBytes)
        #expect(queue.count == 3)
    }

    @Test("a batch larger than the whole bound is itself dropped; the rest stays")
    func oversized() {
        let queue = MemoryBatchQueue(limitBytes: 200)
        let small = makeBatch(1, tag: "s")
        #expect(queue.push(small).isEmpty)
        let huge = makeBatch(100, tag: "h")
        let dropped = queue.push(huge)
        #expect(dropped == QueueOverflow(batches: 1, lines: 100, bytes: huge.byteCount))
        #expect(queue.count == 1 && queue.peekFront() === small)
    }

    @Test("the output counts queue overflow as dropped_lines{reason=queue_full} and logs it once")
    func outputCountsOverflow() {
        let registry = SelfMetrics()
        let (logger, logs) = capturingLogger()
        let batch = makeBatch(10, tag: "q0")  // the same size as every batch below
        var configuration = testConfiguration(url: "http://127.0.0.1:9")
        configuration.queueLimitBytes = batch.byteCount * 2
        let output = InfluxDBOutput(configuration: configuration, metrics: registry, logger: logger)  // not started
        for i in 0..<5 { output.enqueue(makeBatch(10, tag: "q\(i)")) }
        #expect(output.metrics.droppedQueueFull.count == 30)
        #expect(output.status.queuedLines == 20)
        #expect(output.metrics.queueLines.current == 20)
        #expect(logs.count(containing: "queue full") == 1)
        let report = output.shutdown(deadline: MonotonicClock.now())
        #expect(report == OutputShutdownReport(unsentBatches: 2, unsentLines: 20, unsentBytes: batch.byteCount * 2))
        #expect(output.metrics.droppedShutdown.count == 20)
        output.enqueue(makeBatch(3, tag: "late"))
        #expect(output.metrics.droppedShutdown.count == 23)
        #expect(output.shutdown(deadline: MonotonicClock.now()) == report)
    }
}

@Suite("Shutdown in two steps", .ownThreads)
struct TwoStepShutdownTests {
    @Test("a writer that ended after beginShutdown, before shutdown waited, is still joined")
    func joinedAfterEarlyEnd() throws {
        let (logger, _) = capturingLogger()
        let output = InfluxDBOutput(configuration: testConfiguration(url: "http://127.0.0.1:9"), metrics: SelfMetrics(),
                                    logger: logger)
        output.start()
        output.beginShutdown(deadline: deadline(in: 0))
        #expect(waitUntil(timeout: 3) { output.status.state == .stopped })
        #expect(output.shared.withLock { $0.thread != nil }, "the writer thread is not joined yet")
        #expect(output.shutdown(deadline: deadline(in: 0)) == OutputShutdownReport())
        #expect(output.shared.withLock { $0.thread == nil }, "shutdown returned without joining the writer thread")
    }
}

@Suite("Requests: URLs, headers, splitting")
struct RequestShapeTests {
    @Test("v1 write URL, rp, escaping, Basic auth, gzip header")
    func v1() {
        var c = InfluxDBOutputConfiguration(name: "a", url: "https://influx.example:8086/prefix/", database: "my db&x",
                                            retentionPolicy: "two weeks", username: "user", password: "pa:ss")
        let endpoint = InfluxEndpoint(configuration: c)
        #expect(endpoint.writeURL == "https://influx.example:8086/prefix/write?db=my%20db%26x&rp=two%20weeks&precision=ns")
        #expect(endpoint.writeHeaders(gzip: true) == ["Content-Type: text/plain; charset=utf-8", "Content-Encoding: gzip",
                                                      "Authorization: Basic dXNlcjpwYTpzcw=="])
        #expect(endpoint.queryURL == "https://influx.example:8086/prefix/query")
        #expect(String(decoding: endpoint.createDatabaseBody, as: UTF8.self) == "q=CREATE%20DATABASE%20%22my%20db%26x%22")
        c.username = nil
        c.retentionPolicy = ""
        let plain = InfluxEndpoint(configuration: c)
        #expect(plain.writeHeaders(gzip: false) == ["Content-Type: text/plain; charset=utf-8"])
        #expect(plain.writeURL.hasSuffix("/write?db=my%20db%26x&precision=ns"))
    }

    @Test("v2 write URL and token; bucket falls back to database[/rp]")
    func v2() {
        var c = InfluxDBOutputConfiguration(name: "a", url: "http://h:8086", api: .v2, database: "db", org: "acme",
                                            bucket: "metrics", token: "tok")
        #expect(InfluxEndpoint(configuration: c).writeURL == "http://h:8086/api/v2/write?org=acme&bucket=metrics&precision=ns")
        #expect(InfluxEndpoint(configuration: c).writeHeaders(gzip: false).last == "Authorization: Token tok")
        c.bucket = nil
        c.retentionPolicy = "rp"
        #expect(InfluxEndpoint(configuration: c).writeURL == "http://h:8086/api/v2/write?org=acme&bucket=db%2Frp&precision=ns")
    }

    @Test("base64 and identifier quoting")
    func encodings() {
        #expect(InfluxEndpoint.base64([]) == "")
        #expect(InfluxEndpoint.base64(Array("f".utf8)) == "Zg==")
        #expect(InfluxEndpoint.base64(Array("fo".utf8)) == "Zm8=")
        #expect(InfluxEndpoint.base64(Array("foobar".utf8)) == "Zm9vYmFy")
        #expect(InfluxEndpoint.quoteIdentifier(#"a"b\c"#) == #""a\"b\\c""#)
    }

    @Test("validation names the key")
    func validation() {
        #expect(throws: InfluxDBOutputConfigurationError.badURL("localhost:8086")) {
            try InfluxDBOutputConfiguration(name: "a", url: "localhost:8086").validate()
        }
        #expect(throws: InfluxDBOutputConfigurationError.missing("database")) {
            try InfluxDBOutputConfiguration(name: "a", url: "http://h", database: "").validate()
        }
        var c = InfluxDBOutputConfiguration(name: "a", url: "http://h")
        c.retryMax = 0.1
        #expect(throws: InfluxDBOutputConfigurationError.self) { try c.validate() }
        #expect(throws: Never.self) { try InfluxDBOutputConfiguration(name: "a", url: "http://h").validate() }
    }

    @Test("413 halves: by batches, then one batch by lines, never below one line")
    func halves() {
        let request = PendingRequest(batches: (0..<5).map { makeBatch(4, tag: "\($0)") })
        let (a, b) = request.halves()!
        #expect(a.batches.count == 2 && b.batches.count == 3)
        #expect(a.lines + b.lines == 20)
        let single = PendingRequest(batches: [makeBatch(7, tag: "s")])
        let (c, d) = single.halves()!
        #expect(c.lines == 3 && d.lines == 4)
        #expect(lines(of: c.batches[0]) + lines(of: d.batches[0]) == lines(of: single.batches[0]))
        #expect(PendingRequest(batches: [makeBatch(1, tag: "one")]).halves().map { _ in true } == nil)
        let unterminated = LineProtocolBatch(bytes: Array("a v=1\nb v=2".utf8), lines: 2, source: "t")
        let (e, f) = PendingRequest(batches: [unterminated]).halves()!
        #expect(e.batches[0].bytes == Array("a v=1\n".utf8) && f.batches[0].bytes == Array("b v=2".utf8))
    }

    @Test("log limiter: first logged, then counted, then logged with the count after the window")
    func logLimiter() {
        var limiter = LogLimiter(windowSeconds: 1)
        #expect(limiter.admit("x", now: 0) == 0)
        #expect(limiter.admit("x", now: 100) == nil)
        #expect(limiter.admit("x", now: 200) == nil)
        #expect(limiter.admit("y", now: 200) == 0)
        #expect(limiter.admit("x", now: 1_000_000_000) == 2)
        #expect(limiter.admit("x", now: 1_000_000_001) == nil)
        limiter.reset("x")
        #expect(limiter.admit("x", now: 1_000_000_002) == 0)
    }
}
