#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Why an `InfluxDBServer` could not start or answer.
public enum InfluxDBServerError: Error, CustomStringConvertible {
    case binaryMissing(String)
    case startFailed(String)
    case notReady(seconds: Double, log: String)
    case http(status: Int, body: String)
    case transport(String)
    case badJSON(String)
    case queryError(String)

    public var description: String {
        switch self {
        case .binaryMissing(let path): return "\(path) not found (install the influxdb package)"
        case .startFailed(let why): return "influxd did not start: \(why)"
        case .notReady(let seconds, let log): return "influxd did not answer /ping within \(seconds) s; log tail:\n\(log)"
        case .http(let status, let body): return "HTTP \(status): \(body)"
        case .transport(let why): return "request to influxd failed: \(why)"
        case .badJSON(let text): return "not InfluxDB JSON: \(text.prefix(300))"
        case .queryError(let text): return "query error: \(text)"
        }
    }
}

/// A real `influxd` (1.x) on loopback for one test: its own temporary directory and free
/// ports, a minimal configuration, started and ready (`/ping`) within a bounded time, and
/// stopped (SIGTERM, then SIGKILL) with its directory deleted when `stop()` is called or the
/// object goes away. `halt()` stops it keeping its data, `restart()` starts it again on the
/// same data and port (an outage, as a client sees it). influxd runs under `timeout(1)`, so
/// it dies by itself after `lifetime` seconds even if the test process crashes.
///
/// ```swift
/// let influx = try InfluxDBServer()
/// defer { influx.stop() }
/// try influx.createDatabase("db")
/// let rows = try influx.query("SELECT count(value) FROM cpu", db: "db")
/// ```
public final class InfluxDBServer: @unchecked Sendable {
    /// What to configure.
    public struct Options: Sendable {
        /// `[http] auth-enabled`.
        public var authEnabled = false
        /// With auth on: an admin user made right after start, and used by `query`.
        public var adminUser: String? = nil
        public var adminPassword: String? = nil
        /// `[http] max-body-size` (bytes; 1.x checks the compressed Content-Length).
        public var maxBodySize = 25_000_000
        /// A `[[collectd]]` UDP listener (port 0 picks a free one) when set.
        public var collectd: Collectd? = nil
        /// A `[[graphite]]` listener (port 0 picks a free one) when set.
        public var graphite: Graphite? = nil
        /// TOML appended verbatim to the generated configuration (more sections).
        public var extraConfiguration = ""
        /// How long to wait for `/ping` after start.
        public var startTimeout: Double = 20
        /// influxd is killed after this many seconds whatever happens.
        public var lifetime: Double = 600
        /// The binary.
        public var binary = "/usr/bin/influxd"

        public init() {}
    }

    /// `[[collectd]]` options.
    public struct Collectd: Sendable {
        public var port: UInt16 = 0
        public var database = "collectd"
        public var typesDB: String
        public var securityLevel = "none"
        public var authFile: String? = nil
        public var parseMultivalue = "split"
        public var batchSize = 5000
        public var batchTimeout = "1s"

        public init(typesDB: String) { self.typesDB = typesDB }
    }

    /// `[[graphite]]` options.
    public struct Graphite: Sendable {
        public var port: UInt16 = 0
        public var database = "graphite"
        public var protocolName = "tcp"
        public var templates: [String] = []
        public var separator = "."
        public var batchSize = 5000
        public var batchTimeout = "1s"

        public init() {}
    }

    public let options: Options
    /// The HTTP port on 127.0.0.1.
    public let port: UInt16
    /// The RPC (backup/restore) port on 127.0.0.1.
    public let rpcPort: UInt16
    /// The collectd / graphite listener ports, when configured.
    public let collectdPort: UInt16?
    public let graphitePort: UInt16?
    /// The temporary directory holding the configuration, data and log.
    public let directory: String
    /// `http://127.0.0.1:<port>`.
    public var url: String { "http://127.0.0.1:\(port)" }

    private var process: ChildProcess
    private let lock = NSLock()
    private var stopped = false
    private let configPath: String

    /// Starts influxd and waits for `/ping` (at most `options.startTimeout`).
    public init(options: Options = Options()) throws {
        self.options = options
        guard FileManager.default.isExecutableFile(atPath: options.binary) else {
            throw InfluxDBServerError.binaryMissing(options.binary)
        }
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("estuary-influxd-\(getpid())-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        self.directory = directory
        port = try LoopbackSockets.freePort()
        rpcPort = try LoopbackSockets.freePort()
        collectdPort = try options.collectd.map { $0.port != 0 ? $0.port : try LoopbackSockets.freePort(udp: true) }
        graphitePort = try options.graphite.map {
            $0.port != 0 ? $0.port : try LoopbackSockets.freePort(udp: $0.protocolName == "udp")
        }

        let configuration = Self.configuration(options: options, directory: directory, port: port, rpcPort: rpcPort,
                                               collectdPort: collectdPort, graphitePort: graphitePort)
        configPath = directory + "/influxdb.conf"
        try configuration.write(toFile: configPath, atomically: true, encoding: .utf8)
        do {
            process = try Self.spawn(options: options, configPath: configPath, logPath: directory + "/influxd.log")
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
        guard waitReady() else {
            let tail = logTail()
            stop()
            throw InfluxDBServerError.notReady(seconds: options.startTimeout, log: tail)
        }
        if options.authEnabled, let user = options.adminUser {
            let password = options.adminPassword ?? ""
            _ = try query("CREATE USER \(Self.quote(user)) WITH PASSWORD '\(password.replacingOccurrences(of: "'", with: "\\'"))' WITH ALL PRIVILEGES",
                          db: nil)
        }
    }

    deinit {
        stop()
    }

    /// influxd under timeout(1), which forwards SIGTERM to it and kills it (-k: SIGKILL 5 s
    /// later) once the lifetime is over, even if the test process has crashed.
    private static func spawn(options: Options, configPath: String, logPath: String) throws -> ChildProcess {
        do {
            return try ChildProcess(path: "/usr/bin/timeout",
                                    arguments: ["-k", "5", "\(Int(options.lifetime.rounded(.up)))", options.binary,
                                                "-config", configPath],
                                    outputPath: logPath)
        } catch {
            throw InfluxDBServerError.startFailed("\(error)")
        }
    }

    /// Waits (at most `options.startTimeout`) for `/ping`; false if influxd ended or never answered.
    private func waitReady() -> Bool {
        let child = currentProcess
        let port = self.port
        let ready = waitUntil(timeout: options.startTimeout) {
            guard child.isRunning else { return true }
            return (try? SimpleHTTPClient.request(method: "GET", port: port, path: "/ping", timeout: 1).status) == 204
        }
        return ready && child.isRunning
    }

    private var currentProcess: ChildProcess {
        lock.lock()
        defer { lock.unlock() }
        return process
    }

    /// Whether influxd is running now.
    public var isRunning: Bool { currentProcess.isRunning }

    /// Stops influxd (SIGTERM, then SIGKILL after 5 s) and keeps its data, configuration and
    /// port: nothing answers at `url` until `restart()`.
    public func halt() {
        currentProcess.stop(grace: 5)
    }

    /// Starts influxd again on the same data, configuration and port, and waits for `/ping`.
    public func restart() throws {
        halt()
        let started = try Self.spawn(options: options, configPath: configPath, logPath: directory + "/influxd.log")
        lock.lock()
        process = started
        lock.unlock()
        // The port may linger a moment after the last run; influxd then exits at once.
        guard waitReady() else {
            throw InfluxDBServerError.notReady(seconds: options.startTimeout, log: logTail())
        }
    }

    /// The generated configuration file.
    static func configuration(options: Options, directory: String, port: UInt16, rpcPort: UInt16,
                              collectdPort: UInt16?, graphitePort: UInt16?) -> String {
        var text = """
            reporting-disabled = true
            bind-address = "127.0.0.1:\(rpcPort)"

            [meta]
              dir = "\(directory)/meta"

            [data]
              dir = "\(directory)/data"
              wal-dir = "\(directory)/wal"
              query-log-enabled = false

            [http]
              enabled = true
              bind-address = "127.0.0.1:\(port)"
              auth-enabled = \(options.authEnabled)
              log-enabled = false
              max-body-size = \(options.maxBodySize)

            [monitor]
              store-enabled = false

            [continuous_queries]
              enabled = false

            """
        if let collectd = options.collectd, let collectdPort {
            text += """

                [[collectd]]
                  enabled = true
                  bind-address = "127.0.0.1:\(collectdPort)"
                  database = "\(collectd.database)"
                  typesdb = "\(collectd.typesDB)"
                  security-level = "\(collectd.securityLevel)"
                  auth-file = "\(collectd.authFile ?? directory + "/collectd-auth")"
                  parse-multivalue-plugin = "\(collectd.parseMultivalue)"
                  batch-size = \(collectd.batchSize)
                  batch-timeout = "\(collectd.batchTimeout)"

                """
        }
        if let graphite = options.graphite, let graphitePort {
            let templates = graphite.templates.map { "\"\($0.replacingOccurrences(of: "\"", with: "\\\""))\"" }.joined(separator: ", ")
            text += """

                [[graphite]]
                  enabled = true
                  bind-address = "127.0.0.1:\(graphitePort)"
                  database = "\(graphite.database)"
                  protocol = "\(graphite.protocolName)"
                  separator = "\(graphite.separator)"
                  batch-size = \(graphite.batchSize)
                  batch-timeout = "\(graphite.batchTimeout)"
                  templates = [\(templates)]

                """
        }
        return text + options.extraConfiguration + "\n"
    }

    /// Stops influxd (SIGTERM, then SIGKILL after 5 s) and deletes its directory. Idempotent.
    public func stop() {
        lock.lock()
        if stopped { lock.unlock(); return }
        stopped = true
        lock.unlock()

        // SIGTERM to timeout(1), which forwards it to influxd; SIGKILL to both after 5 s.
        currentProcess.stop(grace: 5)
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The last 40 lines of influxd's log.
    public func logTail(lines: Int = 40) -> String {
        guard let text = try? String(contentsOfFile: directory + "/influxd.log", encoding: .utf8) else { return "" }
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    // MARK: - HTTP

    /// Credentials for requests when auth is on and an admin was made (`u`/`p` in the URL:
    /// InfluxDB 1.x does not read them from a form body).
    private var credentials: [(String, String)] {
        guard options.authEnabled, let user = options.adminUser else { return [] }
        return [("u", user), ("p", options.adminPassword ?? "")]
    }

    /// Runs an InfluxQL statement (POST /query) and returns the raw JSON object.
    public func queryJSON(_ statement: String, db: String?) throws -> [String: Any] {
        var form: [(String, String)] = [("q", statement)]
        if let db { form.append(("db", db)) }
        let path = credentials.isEmpty ? "/query" : "/query?" + SimpleHTTPClient.formEncode(credentials)
        let response: SimpleHTTPResponse
        do {
            response = try SimpleHTTPClient.request(method: "POST", port: port, path: path,
                                                    headers: ["Content-Type": "application/x-www-form-urlencoded"],
                                                    body: Array(SimpleHTTPClient.formEncode(form).utf8), timeout: 10)
        } catch {
            throw InfluxDBServerError.transport("\(error)")
        }
        guard response.status == 200 else { throw InfluxDBServerError.http(status: response.status, body: response.text) }
        guard let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] else {
            throw InfluxDBServerError.badJSON(response.text)
        }
        if let results = object["results"] as? [[String: Any]] {
            for result in results { if let error = result["error"] as? String { throw InfluxDBServerError.queryError(error) } }
        }
        if let error = object["error"] as? String { throw InfluxDBServerError.queryError(error) }
        return object
    }

    /// One series of a query result.
    public struct Series {
        public var name: String
        public var tags: [String: String]
        public var columns: [String]
        public var values: [[Any]]
    }

    /// The series of the first statement's result.
    public func querySeries(_ statement: String, db: String?) throws -> [Series] {
        let object = try queryJSON(statement, db: db)
        guard let results = object["results"] as? [[String: Any]], let first = results.first else { return [] }
        let series = first["series"] as? [[String: Any]] ?? []
        return series.map { s in
            Series(name: s["name"] as? String ?? "",
                   tags: s["tags"] as? [String: String] ?? [:],
                   columns: s["columns"] as? [String] ?? [],
                   values: s["values"] as? [[Any]] ?? [])
        }
    }

    /// Rows of the first statement's result: column -> value (tags of the series included),
    /// every series concatenated. JSON nulls are left out.
    public func query(_ statement: String, db: String?) throws -> [[String: Any]] {
        var rows: [[String: Any]] = []
        for series in try querySeries(statement, db: db) {
            for values in series.values {
                var row: [String: Any] = [:]
                for (key, value) in series.tags { row[key] = value }
                for (column, value) in zip(series.columns, values) where !(value is NSNull) { row[column] = value }
                rows.append(row)
            }
        }
        return rows
    }

    /// `SELECT count(<field>) FROM <measurement>`, 0 when nothing is there.
    public func count(_ measurement: String, field: String = "value", db: String) throws -> Int {
        let rows = try query("SELECT count(\(Self.quote(field))) FROM \(Self.quote(measurement))", db: db)
        return rows.first.flatMap { Self.int($0["count"]) } ?? 0
    }

    /// `CREATE DATABASE`.
    public func createDatabase(_ name: String) throws {
        _ = try queryJSON("CREATE DATABASE \(Self.quote(name))", db: nil)
    }

    /// The databases (`SHOW DATABASES`).
    public func databases() throws -> [String] {
        try query("SHOW DATABASES", db: nil).compactMap { $0["name"] as? String }
    }

    /// POSTs line protocol to `/write` directly (not through Estuary) and returns the answer.
    public func write(_ lineProtocol: String, db: String, extraQuery: String = "") throws -> SimpleHTTPResponse {
        var path = "/write?" + SimpleHTTPClient.formEncode([("db", db)])
        if !extraQuery.isEmpty { path += "&" + extraQuery }
        if !credentials.isEmpty { path += "&" + SimpleHTTPClient.formEncode(credentials) }
        do {
            return try SimpleHTTPClient.request(method: "POST", port: port, path: path, body: Array(lineProtocol.utf8), timeout: 10)
        } catch {
            throw InfluxDBServerError.transport("\(error)")
        }
    }

    /// An InfluxQL identifier in double quotes.
    public static func quote(_ identifier: String) -> String {
        "\"" + identifier.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// A JSON number as Int.
    public static func int(_ value: Any?) -> Int? {
        if let n = value as? Int { return n }
        if let d = value as? Double { return Int(exactly: d) }
        if let n = value as? NSNumber { return n.intValue }
        return nil
    }
}
