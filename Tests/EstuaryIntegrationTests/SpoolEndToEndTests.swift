import EstuaryTestSupport
import Foundation
import Testing

/// How long InfluxDB is down in the outage tests: 60 s (what the issue asks for), or
/// `ESTUARY_SPOOL_OUTAGE_SECONDS` for a quicker local run.
let outageSeconds: Double = ProcessInfo.processInfo.environment["ESTUARY_SPOOL_OUTAGE_SECONDS"].flatMap(Double.init) ?? 60

/// The spool end to end: the real `estuary run`, real influxd servers stopped and restarted on
/// the same data and port, and a counting graphite load generator (`estuary-loadtools
/// graphite-count`: every line its own value and second, so `count(value)` counts distinct
/// points and `sum(value)` checks the values). Each test has its own influxd, Estuary, ports
/// and data_dir, so they run in parallel: their outages overlap, and the suite costs about one
/// outage, not four.
@Suite("spool end to end", .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/influxd")),
       .timeLimit(.minutes(5)), .runsAlone)
struct SpoolEndToEndTests {
    static let database = "spooltest"

    /// One graphite input, one output per (name, url), with test-sized timings.
    func configuration(graphitePort: UInt16, outputs: [(name: String, url: String)], shutdownTimeout: String = "5s") -> String {
        var text = """
            data_dir = "@DATA_DIR@"
            hostname = "estuary-spool-test"
            log_level = "info"
            metrics_interval = "2s"
            batch_interval = "100ms"
            shutdown_timeout = "\(shutdownTimeout)"

            [[inputs.graphite]]
            listen_tcp = "127.0.0.1:\(graphitePort)"
            collectd_paths = false

            """
        for output in outputs {
            text += """

                [[outputs.influxdb]]
                name = "\(output.name)"
                url = "\(output.url)"
                database = "\(Self.database)"
                flush_interval = "200ms"
                retry_initial = "100ms"
                retry_max = "1s"
                spool_fsync = "interval"
                spool_fsync_interval = "1s"

                """
        }
        return text
    }

    /// An influxd with the test database, stopped with the test.
    func startInflux() throws -> InfluxDBServer {
        var options = InfluxDBServer.Options()
        options.lifetime = 400
        let influx = try InfluxDBServer(options: options)
        try influx.createDatabase(Self.database)
        return influx
    }

    /// (count, sum) of `value` in `measurement`.
    func stored(_ influx: InfluxDBServer, _ measurement: String) throws -> (count: Int, sum: Double) {
        let rows = try influx.query("SELECT count(value), sum(value) FROM \(InfluxDBServer.quote(measurement))", db: Self.database)
        let count = rows.first.flatMap { InfluxDBServer.int($0["count"]) } ?? 0
        let sum = (rows.first?["sum"] as? NSNumber)?.doubleValue ?? 0
        return (count, sum)
    }

    /// The sum of the values `graphite-count` sends for lines first..<first+count.
    func expectedSum(first: Int, count: Int) -> Double {
        Double((first + first + count - 1) * count / 2)
    }

    func temporaryDirectory() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("estuary-spool-e2e-\(UUID().uuidString)")
    }

    func segments(_ work: URL, output: String) -> [String] {
        let directory = work.appendingPathComponent("data/spool/\(output)").path
        return ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".seg") }
    }

    /// Sleeps (without holding one of the test pool's few threads) until `seconds` have passed
    /// since `start`.
    func wait(until seconds: Double, since start: Date) async {
        let left = seconds - Date().timeIntervalSince(start)
        if left > 0 { await pause(left) }
    }

    func pause(_ seconds: Double) async {
        try? await Task.sleep(nanoseconds: UInt64(max(0, seconds) * 1e9))
    }

    /// Polls `condition` every `interval` seconds until it holds or `timeout` passes (an
    /// error counts as not yet), sleeping in between without holding a thread.
    func arrives(within timeout: Double, every interval: Double = 0.2, _ condition: () throws -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if (try? condition()) == true { return true }
            await pause(interval)
        }
        return (try? condition()) == true
    }

    @Test("(a) InfluxDB down for the outage while load comes in: after its restart every metric is stored exactly once")
    func outage() async throws {
        let testStart = Date()
        func phase(_ name: String) { print("spool e2e (a) \(String(format: "%6.2f", Date().timeIntervalSince(testStart))) s: \(name)") }
        let influx = try startInflux()
        phase("influxd up")
        defer { influx.stop() }
        let work = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let port = freePort()
        let estuary = try EstuaryProcess(configuration: configuration(graphitePort: port, outputs: [("influxdb", influx.url)]),
                                         workDirectory: work)
        #expect(estuary.waitForLog("estuary started"), "\(estuary.log)")
        let measurement = "spooltest_a"
        #expect(try await LoadGenerator.send(port: port, path: measurement, first: 0, count: 200, rate: 2000) == 200)
        #expect(await arrives(within: 20) { try stored(influx, measurement).count == 200 }, "\(estuary.log)")
        phase("warm-up stored")

        let outageStart = Date()
        influx.halt()
        phase("influxd halted")
        let count = Int(outageSeconds * 0.75 * 400)  // 400 lines/s for three quarters of the outage
        #expect(try await LoadGenerator.send(port: port, path: measurement, first: 200, count: count, rate: 400) == count)
        await wait(until: outageSeconds, since: outageStart)
        #expect(!segments(work, output: "influxdb").isEmpty, "nothing in the spool during the outage")
        try influx.restart()
        let down = Date().timeIntervalSince(outageStart)
        let total = 200 + count
        let caughtUp = await arrives(within: 60) { try stored(influx, measurement).count >= total }
        let catchUp = Date().timeIntervalSince(outageStart) - down
        #expect(caughtUp, "\(estuary.log)")
        let result = try stored(influx, measurement)
        #expect(result.count == total)
        #expect(result.sum == expectedSum(first: 0, count: total))
        print("spool e2e (a): InfluxDB down \(String(format: "%.1f", down)) s, \(count) lines sent meanwhile, "
              + "all \(total) stored \(String(format: "%.1f", catchUp)) s after its restart")
        #expect(estuary.terminate() == 0, "\(estuary.log)")
        phase("estuary stopped")
    }

    @Test("(b) the outage with Estuary stopped (SIGTERM) and started again in the middle: every metric stored exactly once")
    func outageWithRestart() async throws {
        let influx = try startInflux()
        defer { influx.stop() }
        let work = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let port = freePort()
        let text = configuration(graphitePort: port, outputs: [("influxdb", influx.url)])
        let first = try EstuaryProcess(configuration: text, workDirectory: work)
        #expect(first.waitForLog("estuary started"), "\(first.log)")
        let measurement = "spooltest_b"
        #expect(try await LoadGenerator.send(port: port, path: measurement, first: 0, count: 100, rate: 2000) == 100)
        #expect(await arrives(within: 20) { try stored(influx, measurement).count == 100 }, "\(first.log)")

        let outageStart = Date()
        influx.halt()
        let perPhase = Int(outageSeconds * 0.3 * 400)
        #expect(try await LoadGenerator.send(port: port, path: measurement, first: 100, count: perPhase, rate: 400) == perPhase)
        await pause(1)  // Estuary has read it all
        let stopping = Date()
        #expect(first.terminate() == 0, "\(first.log)")
        let stopTook = Date().timeIntervalSince(stopping)
        #expect(first.log.contains("stopped: nothing lost;"), "\(first.log)")
        #expect(!first.log.contains("lines lost"))
        let inSpool = first.log.firstMatch(of: /(\d+) lines in the spool, sent after the next start/).flatMap { Int($0.1) }
        #expect((inSpool ?? 0) >= perPhase, "\(first.log)")

        let second = try EstuaryProcess(configuration: text, workDirectory: work)
        #expect(second.waitForLog("estuary started"), "\(second.log)")
        #expect(second.log.contains("spool opened: replaying records left by the last run"), "\(second.log)")
        #expect(try await LoadGenerator.send(port: port, path: measurement, first: 100 + perPhase, count: perPhase, rate: 400) == perPhase)
        await wait(until: outageSeconds, since: outageStart)
        try influx.restart()
        let total = 100 + 2 * perPhase
        #expect(await arrives(within: 60) { try stored(influx, measurement).count >= total }, "\(second.log)")
        let result = try stored(influx, measurement)
        #expect(result.count == total)
        #expect(result.sum == expectedSum(first: 0, count: total))
        print("spool e2e (b): SIGTERM during the outage took \(String(format: "%.2f", stopTook)) s; \(total) lines stored once")
        #expect(await arrives(within: 10) { segments(work, output: "influxdb").isEmpty }, "the spool did not empty")
        #expect(second.terminate() == 0, "\(second.log)")
    }

    @Test("(c) kill -9 under load while InfluxDB is down: the loss is within the documented bound, the spool replays")
    func killUnderLoad() async throws {
        let influx = try startInflux()
        defer { influx.stop() }
        let work = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        influx.halt()
        let port = freePort()
        let text = configuration(graphitePort: port, outputs: [("influxdb", influx.url)])
        let first = try EstuaryProcess(configuration: text, workDirectory: work)
        #expect(first.waitForLog("estuary started"), "\(first.log)")
        let measurement = "spooltest_c"
        let rate = 1000.0
        let load = try LoadGenerator.start(port: port, path: measurement, first: 0, count: 60_000, rate: rate)
        await pause(10)  // ten seconds of load, spilled as it comes
        first.kill()
        let sent = try #require(await load.wait(timeout: 30), "the load generator did not end")
        #expect(sent > Int(rate) * 5)

        let second = try EstuaryProcess(configuration: text, workDirectory: work)
        #expect(second.waitForLog("estuary started"), "\(second.log)")
        #expect(second.log.contains("spool opened: replaying records left by the last run"), "\(second.log)")
        try influx.restart()
        // Wait until everything the spool had is in (the count stops moving).
        var last = -1
        var stable = 0
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, stable < 3 {
            let now = (try? stored(influx, measurement).count) ?? -1
            stable = (now == last && now > 0) ? stable + 1 : 0
            last = now
            await pause(1)
        }
        let result = try stored(influx, measurement)
        let lost = sent - result.count
        // The documented bound: what arrived in the last batch_interval (0.1 s) + flush_interval
        // (0.2 s) before the kill, plus 0.2 s for scheduling and the write the generator made
        // before it saw the connection die.
        let bound = Int(rate * (0.1 + 0.2 + 0.2))
        print("spool e2e (c): kill -9 at \(sent) lines sent (\(Int(rate)) lines/s): \(result.count) stored, "
              + "\(lost) lost = \(String(format: "%.2f", Double(lost) / rate)) s of input; bound \(bound)")
        #expect(result.count > 0)
        #expect(lost >= 0 && lost <= bound, "lost \(lost) lines, bound \(bound)")
        #expect(second.terminate() == 0, "\(second.log)")
    }

    @Test("(d) two outputs, one down for the outage: the healthy one loses nothing and stays fast; the other catches up")
    func fanOutIsolation() async throws {
        let healthy = try startInflux()
        defer { healthy.stop() }
        let broken = try startInflux()
        defer { broken.stop() }
        let work = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let port = freePort()
        let estuary = try EstuaryProcess(
            configuration: configuration(graphitePort: port, outputs: [("healthy", healthy.url), ("broken", broken.url)]),
            workDirectory: work)
        #expect(estuary.waitForLog("estuary started"), "\(estuary.log)")
        let measurement = "spooltest_d", probe = "spooltest_probe"
        #expect(try await LoadGenerator.send(port: port, path: measurement, first: 0, count: 100, rate: 2000) == 100)
        #expect(await arrives(within: 20) {
            try stored(healthy, measurement).count == 100 && stored(broken, measurement).count == 100
        }, "\(estuary.log)")

        let outageStart = Date()
        broken.halt()
        let count = Int(outageSeconds * 0.8 * 400)
        let load = try LoadGenerator.start(port: port, path: measurement, first: 100, count: count, rate: 400)
        // Probes: one line every 2 s on its own connection; how long until the healthy
        // InfluxDB answers it in a query.
        var delays: [Double] = []
        var probes = 0
        while Date().timeIntervalSince(outageStart) < outageSeconds * 0.8 {
            let sentAt = Date()
            try sendTCP(Array("\(probe) \(probes) \(1_700_000_000 + probes)\n".utf8), port: port)
            probes += 1
            let arrived = await arrives(within: 10, every: 0.02) { try stored(healthy, probe).count == probes }
            #expect(arrived, "probe \(probes) did not reach the healthy output")
            delays.append(Date().timeIntervalSince(sentAt))
            await wait(until: 2, since: sentAt)
        }
        let sent = try #require(await load.wait(timeout: 60))
        #expect(sent == count)
        await wait(until: outageSeconds, since: outageStart)
        // Nothing lost on the healthy side, before the other one is back.
        #expect(await arrives(within: 10) { try stored(healthy, measurement).count == 100 + count })
        try broken.restart()
        #expect(await arrives(within: 60) { try stored(broken, measurement).count >= 100 + count }, "\(estuary.log)")
        for influx in [healthy, broken] {
            let result = try stored(influx, measurement)
            #expect(result.count == 100 + count)
            #expect(result.sum == expectedSum(first: 0, count: 100 + count))
            #expect(try stored(influx, probe).count == probes)
        }
        // The healthy output never failed a request, and its requests stayed fast.
        let failures = try healthy.query(
            "SELECT max(failed_requests) FROM estuary_output WHERE instance = 'healthy'", db: Self.database)
        #expect(failures.isEmpty || failures.allSatisfy { (InfluxDBServer.int($0["max"]) ?? 0) == 0 }, "\(failures)")
        let latency = try healthy.query("SELECT max(last_latency_ms) FROM estuary_output WHERE instance = 'healthy'",
                                        db: Self.database)
        let maxLatency = latency.first.flatMap { InfluxDBServer.int($0["max"]) } ?? 0
        let sorted = delays.sorted()
        let median = sorted.isEmpty ? 0 : sorted[sorted.count / 2]
        let ninetieth = sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, sorted.count * 9 / 10)]
        let worst = sorted.last ?? 0
        print("spool e2e (d): healthy output during the other's outage: \(probes) probes, line to query median "
              + "\(String(format: "%.2f", median)) s, 90th percentile \(String(format: "%.2f", ninetieth)) s, "
              + "max \(String(format: "%.2f", worst)) s; requests at most \(maxLatency) ms")
        // The stated bound: a line is queryable in the healthy InfluxDB in a median under 1 s and
        // nine probes in ten under 2 s (batch_interval 0.1 s + flush_interval 0.2 s + the request
        // + the test's query), none over 5 s. A lone slow probe is the two shared cores (this suite
        // runs five influxd, and other suites run alongside, the 10,000-connection test among
        // them); an output held up by the broken one (its retries, back-off or spool) would delay
        // every probe, by a back-off step or more.
        #expect(median < 1, "median probe \(median) s; all: \(sorted)")
        #expect(ninetieth < 2, "90th percentile probe \(ninetieth) s; all: \(sorted)")
        #expect(worst < 5, "a probe took \(worst) s; all: \(sorted)")
        #expect(maxLatency < 1000)
        #expect(estuary.terminate() == 0, "\(estuary.log)")
    }
}

/// `estuary-loadtools graphite-count` as a child process.
struct LoadGenerator {
    let child: ChildProcess
    let outputPath: String

    static func start(port: UInt16, path: String, first: Int, count: Int, rate: Double) throws -> LoadGenerator {
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("estuary-load-\(UUID().uuidString).out").path
        let child = try ChildProcess(path: EstuaryProcess.binary("estuary-loadtools").path,
                                     arguments: ["graphite-count", "\(port)", path, "\(first)", "\(count)", "\(rate)"],
                                     outputPath: outputPath)
        return LoadGenerator(child: child, outputPath: outputPath)
    }

    /// Waits (bounded, without holding a thread) for the end; the lines it wrote whole, nil
    /// if it did not end or say.
    func wait(timeout: Double) async -> Int? {
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let deadline = Date().addingTimeInterval(timeout)
        while child.isRunning, Date() < deadline { try? await Task.sleep(nanoseconds: 100_000_000) }
        guard !child.isRunning else {
            child.stop(grace: 1)
            return nil
        }
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        guard let line = text.split(separator: "\n").last(where: { $0.hasPrefix("sent ") }) else { return nil }
        return Int(line.dropFirst(5))
    }

    /// Sends and waits: the lines sent.
    static func send(port: UInt16, path: String, first: Int, count: Int, rate: Double) async throws -> Int? {
        try await start(port: port, path: path, first: first, count: count, rate: rate).wait(timeout: Double(count) / rate + 30)
    }
}
