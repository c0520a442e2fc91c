import Foundation

/// A real collectd (Debian `collectd-core`, /usr/sbin/collectd) started by a test, in the
/// foreground, with a configuration written to a temporary folder: a few read plugins
/// every `interval` seconds, the network plugin sending to `networkPort` and write_graphite
/// to `graphitePort` (either may be nil), both flushing every second. Stops on `stop()`
/// or when the object goes away; never outlives the test.
public final class CollectdAgent: @unchecked Sendable {  // used from one test at a time
    public static let binary = "/usr/sbin/collectd"
    public let directory: URL
    public let hostname: String
    private var process: ChildProcess?

    /// Whether collectd is installed (tests that need it fail with this message otherwise).
    public static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: binary) }

    public init(hostname: String = "agent-1.example.org", networkPort: UInt16?, graphitePort: UInt16?,
                securityLevel: String? = nil, username: String = "relay", password: String = "s3cret",
                interval: Double = 1, extraConfiguration: String = "") throws {
        self.hostname = hostname
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("estuary-collectd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var text = """
            Hostname "\(hostname)"
            FQDNLookup false
            BaseDir "\(directory.path)"
            PIDFile "\(directory.path)/collectd.pid"
            PluginDir "/usr/lib/collectd"
            TypesDB "/usr/share/collectd/types.db"
            Interval \(interval)
            LoadPlugin logfile
            <Plugin logfile>
              LogLevel "info"
              File "\(directory.path)/collectd.log"
            </Plugin>
            LoadPlugin load
            LoadPlugin memory
            LoadPlugin uptime
            LoadPlugin interface
            <Plugin interface>
              Interface "lo"
            </Plugin>

            """
        if let networkPort {
            let security = securityLevel.map {
                "\n    SecurityLevel \"\($0)\"\n    Username \"\(username)\"\n    Password \"\(password)\""
            } ?? ""
            text += """
                <LoadPlugin network>
                  FlushInterval 1
                </LoadPlugin>
                <Plugin network>
                  <Server "127.0.0.1" "\(networkPort)">\(security)
                  </Server>
                </Plugin>

                """
        }
        if let graphitePort {
            text += """
                <LoadPlugin write_graphite>
                  FlushInterval 1
                </LoadPlugin>
                <Plugin write_graphite>
                  <Node "estuary">
                    Host "127.0.0.1"
                    Port "\(graphitePort)"
                    Protocol "tcp"
                    ReconnectInterval 1
                  </Node>
                </Plugin>

                """
        }
        text += extraConfiguration
        let configuration = directory.appendingPathComponent("collectd.conf")
        try text.write(to: configuration, atomically: true, encoding: .utf8)
        process = try ChildProcess(path: Self.binary, arguments: ["-f", "-C", configuration.path],
                                   outputPath: directory.appendingPathComponent("collectd.stdout").path)
    }

    /// collectd's own log (for a failing test's message).
    public var log: String {
        (try? String(contentsOf: directory.appendingPathComponent("collectd.log"), encoding: .utf8)) ?? ""
    }

    public func stop() {
        process?.stop()
        process = nil
        try? FileManager.default.removeItem(at: directory)
    }

    deinit {
        stop()
    }
}
