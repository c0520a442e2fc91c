import EstuaryTestSupport
import Foundation

/// `estuary run` as a user runs it: the built binary (next to the test bundle) with a
/// configuration file written for the test. Stopped by `terminate()` (SIGTERM) or when the
/// object goes away (SIGKILL after a grace period); its log is kept for failure messages.
final class EstuaryProcess: @unchecked Sendable {  // used from one test at a time
    let directory: URL
    let child: ChildProcess
    private let logFile: URL

    init(configuration: String) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("estuary-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("estuary.toml")
        try configuration.write(to: file, atomically: true, encoding: .utf8)
        logFile = directory.appendingPathComponent("estuary.log")
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("estuary")
        child = try ChildProcess(path: binary.path, arguments: ["run", "--config", file.path], outputPath: logFile.path)
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
        try? FileManager.default.removeItem(at: directory)
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
    data_dir = "\(FileManager.default.temporaryDirectory.path)"
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
