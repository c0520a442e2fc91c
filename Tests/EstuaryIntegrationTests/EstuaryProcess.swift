import EstuaryTestSupport
import Foundation

/// `estuary run` as a user runs it: the built binary (next to the test bundle) with a
/// configuration file written for the test. Stopped by `terminate()` (SIGTERM), `kill()`
/// (SIGKILL) or when the object goes away (SIGKILL after a grace period); its log is kept for
/// failure messages.
///
/// `@DATA_DIR@` in the configuration becomes `<directory>/data`: every process has its own
/// spools. A test that restarts Estuary passes the same `workDirectory` to each process (and
/// removes it itself); otherwise the directory is temporary and removed with the object.
final class EstuaryProcess: @unchecked Sendable {  // used from one test at a time
    let directory: URL
    let child: ChildProcess
    private let logFile: URL
    private let ownsDirectory: Bool

    init(configuration: String, workDirectory: URL? = nil) throws {
        ownsDirectory = workDirectory == nil
        directory = workDirectory
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("estuary-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let run = UUID().uuidString.prefix(8)
        let file = directory.appendingPathComponent("estuary-\(run).toml")
        let text = configuration.replacingOccurrences(of: "@DATA_DIR@", with: directory.appendingPathComponent("data").path)
        try text.write(to: file, atomically: true, encoding: .utf8)
        logFile = directory.appendingPathComponent("estuary-\(run).log")
        child = try ChildProcess(path: Self.binary("estuary").path, arguments: ["run", "--config", file.path],
                                 outputPath: logFile.path)
    }

    /// A binary built next to the test bundle.
    static func binary(_ name: String) -> URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name)
    }

    /// SIGKILL (kill -9): no flush, no spill. Waits for the exit (bounded).
    func kill() {
        child.signal(SIGKILL)
        child.waitForExit(timeout: 10)
    }

    var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    /// Waits (bounded) until the log contains `text`.
    func waitForLog(_ text: String, timeout: Double = 15) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if log.contains(text) { return true }
            if !child.isRunning { return log.contains(text) }
            usleep(20_000)
        }
        return false
    }

    /// SIGTERM, then waits for the exit (bounded); returns the exit code (nil if it had to be killed).
    @discardableResult
    func terminate(timeout: Double = 20) -> Int32? {
        guard child.stop(grace: timeout), let status = child.terminationStatus else { return nil }
        return (status >> 8) & 0xFF
    }

    deinit {
        child.stop(grace: 1)
        if ownsDirectory { try? FileManager.default.removeItem(at: directory) }
    }
}

/// A free loopback port.
func freePort(udp: Bool = false) -> UInt16 {
    (try? LoopbackSockets.freePort(udp: udp)) ?? 0
}

/// A configuration for one collectd input, one graphite input and one InfluxDB output.
func estuaryConfiguration(collectdPort: UInt16, graphitePort: UInt16, influxURL: String, database: String = "collectd",
                          shutdownTimeout: String = "10s", extraCollectd: String = "", extraOutput: String = "") -> String {
    """
    data_dir = "@DATA_DIR@"
    hostname = "estuary-under-test"
    log_level = "info"
    metrics_interval = "1s"
    batch_interval = "100ms"
    shutdown_timeout = "\(shutdownTimeout)"

    [[inputs.collectd]]
    listen = "127.0.0.1:\(collectdPort)"
    types_db = ["\(Fixtures.collectd)/types.db"]
    \(extraCollectd)

    [[inputs.graphite]]
    listen_tcp = "127.0.0.1:\(graphitePort)"
    types_db = ["\(Fixtures.collectd)/types.db"]

    [[outputs.influxdb]]
    url = "\(influxURL)"
    database = "\(database)"
    flush_interval = "200ms"
    \(extraOutput)
    """
}

/// Polls `condition` until it holds or `timeout` passes (an error, e.g. a database not
/// created yet, counts as not yet).
func eventually(timeout: Double = 20, _ condition: () throws -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if (try? condition()) == true { return true }
        usleep(200_000)
    }
    return (try? condition()) == true
}
