#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The keys at the top of the file, before any table.
public struct GlobalConfiguration: Sendable, Hashable {
    /// `data_dir`: where Estuary keeps its state (the outputs' spools). Relative paths are
    /// relative to the working directory.
    public var dataDirectory: String
    /// `hostname`: the `host` tag of Estuary's own metrics.
    public var hostname: String
    /// `log_level`.
    public var logLevel: LogLevel
    /// `metrics_interval`, seconds: how often Estuary writes its own metrics.
    public var metricsInterval: Double
    /// `shutdown_timeout`, seconds: how long the final flush may take on SIGTERM or SIGINT.
    public var shutdownTimeout: Double
    /// `batch_lines`: receivers hand over batches of at most this many lines.
    public var batchLines: Int
    /// `batch_interval`, seconds: receivers hand over what they have at least this often.
    public var batchInterval: Double
    /// `health_listen`: the TCP address of the HTTP health endpoint (`/health`, `/metrics`);
    /// nil (the default): no endpoint.
    public var healthListen: ListenAddress?

    public static let defaultDataDirectory = "/var/lib/estuary"

    public init(dataDirectory: String = GlobalConfiguration.defaultDataDirectory,
                hostname: String = GlobalConfiguration.machineHostname(), logLevel: LogLevel = .info,
                metricsInterval: Double = 10, shutdownTimeout: Double = 10, batchLines: Int = 1000,
                batchInterval: Double = 0.2, healthListen: ListenAddress? = nil) {
        self.dataDirectory = dataDirectory
        self.hostname = hostname
        self.logLevel = logLevel
        self.metricsInterval = metricsInterval
        self.shutdownTimeout = shutdownTimeout
        self.batchLines = batchLines
        self.batchInterval = batchInterval
        self.healthListen = healthListen
    }

    /// The machine's host name (`gethostname`), or "localhost" if it has none.
    public static func machineHostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "localhost" : name
    }
}

/// `log_level`: the levels of swift-log, least severe first.
public enum LogLevel: String, Sendable, Hashable, CaseIterable {
    case trace
    case debug
    case info
    case notice
    case warning
    case error
    case critical
}
