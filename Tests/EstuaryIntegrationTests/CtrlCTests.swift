#if canImport(Glibc)
import Glibc
#endif
import EstuaryTestSupport
import Foundation
import Testing

/// Ctrl-C as a user of `make run` gives it: `bash scripts/run-local.sh` runs as the session
/// leader of a pseudo-terminal, and the test types ^C into the terminal, so the line
/// discipline sends SIGINT to the whole foreground job (the script and Estuary at once), not
/// a `kill` to one chosen process. Estuary talks to a real influxd; the script is pointed at
/// it, at the test's configuration and at the built binary through its environment overrides.
@Suite("Ctrl-C in a terminal running scripts/run-local.sh", .serialized,
       .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/influxd")), .runsAlone)
struct CtrlCTests {
    static let lines = 50
    static let database = "collectd"  // the database scripts/run-local.sh creates

    @Test("one Ctrl-C 50 ms after 50 graphite lines: the job exits 0 and all 50 lines are in InfluxDB")
    func oneCtrlC() throws {
        let influx = try InfluxDBServer()
        defer { influx.stop() }
        let setup = try CtrlCSetup(outputURL: influx.url)
        let job = try setup.startedJob(influxURL: influx.url)
        try setup.sendLinesThenPressCtrlC(job, measurement: "ctrlc_once")
        let status = job.waitForExit(timeout: 30)
        #expect(status == .exited(0), "the job's exit status (waited 30 s for it to end):\n\(job.output)")
        #expect(job.output.contains("stopped: everything received was handed to the outputs and sent"), "\(job.output)")
        // The script passed no second signal on: Estuary saw the terminal's SIGINT alone.
        #expect(!job.output.contains("the same request to stop"), "Estuary got more than one signal:\n\(job.output)")
        expectAllStored(influx, "ctrlc_once", job)
    }

    /// All `lines` graphite lines of `measurement` reach InfluxDB (waited for, at most 10 s).
    func expectAllStored(_ influx: InfluxDBServer, _ measurement: String, _ job: TerminalJob,
                         sourceLocation: SourceLocation = #_sourceLocation) {
        let stored = eventually(timeout: 10) { try influx.count(measurement, db: Self.database) == Self.lines }
        #expect(stored, """
            waited 10 s for \(Self.lines) lines in InfluxDB, found \((try? influx.count(measurement, db: Self.database)) ?? -1):
            \(job.output)
            """, sourceLocation: sourceLocation)
    }

    /// With InfluxDB answering, the whole stop takes a few milliseconds: a second Ctrl-C would
    /// come after it. So InfluxDB is down while Estuary stops (no spool: the output retries
    /// until InfluxDB is back or shutdown_timeout passes), and the second Ctrl-C lands in the
    /// middle of the flush.
    @Test("Ctrl-C twice within the grace time, during a slow flush: one graceful stop, exit 0, all 50 lines stored")
    func twoCtrlCWithinGrace() throws {
        let influx = try InfluxDBServer()
        defer { influx.stop() }
        let setup = try CtrlCSetup(outputURL: influx.url, shutdownTimeout: "30s",
                                   extraOutput: "spool = false\nretry_initial = \"100ms\"\nretry_max = \"200ms\"")
        let job = try setup.startedJob(influxURL: influx.url)
        influx.halt()
        try setup.sendLinesThenPressCtrlC(job, measurement: "ctrlc_twice")
        usleep(100_000)
        try job.pressCtrlC()
        #expect(job.waitForOutput("the same request to stop", timeout: 5),
                "waited 5 s for Estuary to log the second SIGINT as the same request to stop:\n\(job.output)")
        try influx.restart()
        let status = job.waitForExit(timeout: 30)
        #expect(status == .exited(0), "the job's exit status (waited 30 s for it to end):\n\(job.output)")
        #expect(job.output.contains("stopped: everything received was handed to the outputs and sent"), "\(job.output)")
        expectAllStored(influx, "ctrlc_twice", job)
    }

    /// The output's server never answers and it has no spool, with a long shutdown_timeout:
    /// after the first Ctrl-C the 50 lines wait in the output's memory, retried, for 30 s.
    /// A second Ctrl-C past the grace time stops at once, and says how many lines it threw away.
    @Test("a second Ctrl-C after the grace time stops at once: exit 3, and the log counts the lines lost (what /health saw held)")
    func secondCtrlCAfterGrace() throws {
        let influx = try InfluxDBServer()  // answers the script's ping and CREATE DATABASE only
        defer { influx.stop() }
        let deadServer = "http://127.0.0.1:\(freePort())"
        let setup = try CtrlCSetup(outputURL: deadServer, shutdownTimeout: "30s",
                                   extraOutput: "spool = false\nretry_initial = \"100ms\"\nretry_max = \"200ms\"")
        let job = try setup.startedJob(influxURL: influx.url)
        try setup.sendLinesThenPressCtrlC(job, measurement: "ctrlc_late")
        // Past the grace time (2 s after the first signal), well inside shutdown_timeout (30 s).
        // By then the receivers and the self-metrics reporter have handed over their last
        // lines: what the output holds (the 50 lines and one last self-metrics report) no
        // longer changes, and /health (served through the flush) says how much it is.
        usleep(2_600_000)
        let health = try SimpleHTTPClient.request(method: "GET", port: setup.healthPort, path: "/health", timeout: 5).text
        let held = try #require(health.firstMatch(of: /"queue_lines": (\d+)/).flatMap { Int($0.1) },
                                "queue_lines in /health before the second Ctrl-C: \(health)")
        #expect(held >= Self.lines, "the output holds the \(Self.lines) graphite lines and its self-metrics: \(health)")
        try job.pressCtrlC()
        let status = job.waitForExit(timeout: 10)
        #expect(status == .exited(3), "the job's exit status (waited 10 s for it to end; the flush alone would take 30 s):\n\(job.output)")
        let lost = job.output.firstMatch(of: /stopped at once: (\d+) lines lost/).flatMap { Int($0.1) }
        #expect(lost == held, "the log's count of lines lost at the second Ctrl-C, against /health's queue_lines \(held):\n\(job.output)")
    }
}

/// What one test's job needs: a configuration file with free loopback ports in a temporary
/// directory (removed with the object).
final class CtrlCSetup {
    let directory: URL
    let configurationFile: URL
    let graphitePort: UInt16
    let healthPort: UInt16

    /// `outputURL`: the InfluxDB Estuary writes to.
    init(outputURL: String, shutdownTimeout: String = "10s", extraOutput: String = "") throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("estuary-ctrlc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        graphitePort = freePort()
        healthPort = freePort()
        let configuration = estuaryConfiguration(collectdPort: freePort(udp: true), graphitePort: graphitePort,
                                                 influxURL: outputURL, database: CtrlCTests.database,
                                                 shutdownTimeout: shutdownTimeout, extraOutput: extraOutput)
        let text = "health_listen = \"127.0.0.1:\(healthPort)\"\n"
            + configuration.replacingOccurrences(of: "@DATA_DIR@", with: directory.appendingPathComponent("data").path)
        configurationFile = directory.appendingPathComponent("estuary.toml")
        try text.write(to: configurationFile, atomically: true, encoding: .utf8)
    }

    deinit {
        try? FileManager.default.removeItem(at: directory)
    }

    /// `bash scripts/run-local.sh` in a new terminal, pointed at this configuration, the
    /// InfluxDB at `influxURL` (for the script's ping and CREATE DATABASE) and the built
    /// binary, once Estuary has said it started.
    func startedJob(influxURL: String) throws -> TerminalJob {
        guard FileManager.default.fileExists(atPath: Self.runLocalScript.path) else {
            throw LoopbackSocketError(call: "find \(Self.runLocalScript.path)", errno: ENOENT)
        }
        let job = try TerminalJob(path: "/bin/bash", arguments: [Self.runLocalScript.path], environment: [
            "ESTUARY_BINARY": EstuaryProcess.binary("estuary").path,
            "ESTUARY_CONFIG": configurationFile.path,
            "ESTUARY_INFLUX_URL": influxURL,
        ])
        guard job.waitForOutput("estuary started", timeout: 30) else {
            throw WaitTimedOut("Estuary's log line 'estuary started' on the terminal:\n\(job.output)", seconds: 30)
        }
        return job
    }

    /// The graphite lines, then Ctrl-C 50 ms later (while they are in flight); returns once
    /// Estuary says it is stopping.
    func sendLinesThenPressCtrlC(_ job: TerminalJob, measurement: String) throws {
        try sendGraphiteLines(measurement: measurement)
        usleep(50_000)
        try job.pressCtrlC()
        guard job.waitForOutput("stopping: receivers first", timeout: 10) else {
            throw WaitTimedOut("Estuary's log line 'stopping: receivers first' after Ctrl-C:\n\(job.output)", seconds: 10)
        }
    }

    /// `CtrlCTests.lines` graphite lines over one TCP connection, one second apart in time.
    func sendGraphiteLines(measurement: String) throws {
        let start = Int(Date().timeIntervalSince1970) - 3600
        let text = (0..<CtrlCTests.lines).map { "\(measurement) \($0) \(start + $0)\n" }.joined()
        let fd = try LoopbackSockets.connectTCP(port: graphitePort, timeout: 5)
        defer { close(fd) }
        try LoopbackSockets.writeAll(fd, Array(text.utf8))
    }

    /// scripts/run-local.sh of this package (three levels up from this file).
    static var runLocalScript: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/run-local.sh")
    }
}
