/// Which InfluxDB write API an output speaks.
///
/// - `v1`: `POST /write?db=&rp=&precision=ns`, Basic auth when a username is set (InfluxDB 1.x,
///   and the 1.x compatibility API of 2.x).
/// - `v2`: `POST /api/v2/write?org=&bucket=&precision=ns` with `Authorization: Token …`
///   (InfluxDB 2.x, and 1.8+; InfluxDB 1.6/1.7 answer 404 there).
public enum InfluxAPI: String, Sendable, CaseIterable {
    case v1, v2
}

/// Everything one InfluxDB output needs: where to write, how to authenticate, how to batch,
/// compress and retry, and how much to hold in memory while the server cannot take it.
///
/// The defaults are those of the `[[outputs.influxdb]]` section (Docs/outputs.md).
public struct InfluxDBOutputConfiguration: Sendable {
    /// Instance name, for logs and the `instance` tag of the output's self-metrics.
    public var name: String
    /// Base URL of the server, e.g. `http://127.0.0.1:8086` (https allowed; a path prefix is kept).
    public var url: String
    /// v1 `/write` or v2 `/api/v2/write`.
    public var api: InfluxAPI
    /// v1: the database (`db`). Also the bucket for v2 when `bucket` is not set.
    public var database: String
    /// v1: the retention policy (`rp`); nil or empty means the database's default.
    public var retentionPolicy: String?
    /// v1: Basic-auth user; nil means no authentication.
    public var username: String?
    /// v1: Basic-auth password.
    public var password: String?
    /// v2: organization (`org`); InfluxDB 1.8 ignores it.
    public var org: String?
    /// v2: bucket; nil means `database` (or `database/retentionPolicy` when one is set, as 1.8 expects).
    public var bucket: String?
    /// v2: API token, sent as `Authorization: Token <token>`.
    public var token: String?
    /// Compress request bodies with gzip (zlib level 1) and send `Content-Encoding: gzip`.
    public var gzip: Bool
    /// Most lines in one request.
    public var batchSize: Int
    /// Most bytes of line protocol (before compression) in one request.
    public var batchBytes: Int
    /// Seconds: lines waiting in a partial batch are sent at least this often.
    public var flushInterval: Double
    /// Seconds: the whole time one request may take (connect, send, answer).
    public var timeout: Double
    /// Seconds: the first backoff after a failure.
    public var retryInitial: Double
    /// Seconds: the longest backoff, and the delay of the slow retries (401/403/404).
    public var retryMax: Double
    /// The most bytes of line protocol waiting in memory; overflow drops the oldest batches.
    public var queueLimitBytes: Int
    /// v1: on 404 `database not found`, send `CREATE DATABASE` once, then retry.
    public var createDatabase: Bool
    /// HTTPS: do not verify the server's certificate and host name.
    public var insecureSkipVerify: Bool

    public init(name: String,
                url: String,
                api: InfluxAPI = .v1,
                database: String = "collectd",
                retentionPolicy: String? = nil,
                username: String? = nil,
                password: String? = nil,
                org: String? = nil,
                bucket: String? = nil,
                token: String? = nil,
                gzip: Bool = true,
                batchSize: Int = 5000,
                batchBytes: Int = 4 * 1024 * 1024,
                flushInterval: Double = 1,
                timeout: Double = 10,
                retryInitial: Double = 0.5,
                retryMax: Double = 60,
                queueLimitBytes: Int = 256 * 1024 * 1024,
                createDatabase: Bool = true,
                insecureSkipVerify: Bool = false) {
        self.name = name
        self.url = url
        self.api = api
        self.database = database
        self.retentionPolicy = retentionPolicy
        self.username = username
        self.password = password
        self.org = org
        self.bucket = bucket
        self.token = token
        self.gzip = gzip
        self.batchSize = batchSize
        self.batchBytes = batchBytes
        self.flushInterval = flushInterval
        self.timeout = timeout
        self.retryInitial = retryInitial
        self.retryMax = retryMax
        self.queueLimitBytes = queueLimitBytes
        self.createDatabase = createDatabase
        self.insecureSkipVerify = insecureSkipVerify
    }

    /// Checks what the output cannot work without; the configuration loader reports these
    /// with the key's line. The output itself also runs with an invalid configuration (every
    /// request then fails and is retried slowly), so a bad value never loses data.
    public func validate() throws(InfluxDBOutputConfigurationError) {
        let lower = url.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://"), url.count > "http://".count else {
            throw .badURL(url)
        }
        switch api {
        case .v1:
            if database.isEmpty { throw .missing("database") }
        case .v2:
            if (bucket ?? database).isEmpty { throw .missing("bucket") }
        }
        if batchSize < 1 { throw .outOfRange("batch_size", "\(batchSize)", "at least 1") }
        if batchBytes < 1 { throw .outOfRange("batch_bytes", "\(batchBytes)", "at least 1") }
        if !(flushInterval > 0 && flushInterval.isFinite) { throw .outOfRange("flush_interval", "\(flushInterval)", "a positive number of seconds") }
        if !(timeout > 0 && timeout.isFinite) { throw .outOfRange("timeout", "\(timeout)", "a positive number of seconds") }
        if !(retryInitial > 0 && retryInitial.isFinite) { throw .outOfRange("retry_initial", "\(retryInitial)", "a positive number of seconds") }
        if !(retryMax >= retryInitial && retryMax.isFinite) { throw .outOfRange("retry_max", "\(retryMax)", "at least retry_initial") }
        if queueLimitBytes < 1 { throw .outOfRange("queue_limit_bytes", "\(queueLimitBytes)", "at least 1") }
    }
}

/// A configuration the output cannot work with, naming the key.
public enum InfluxDBOutputConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The URL is not `http://…` or `https://…`.
    case badURL(String)
    /// A required key is empty.
    case missing(String)
    /// A number outside its range: key, value, what is allowed.
    case outOfRange(String, String, String)

    public var description: String {
        switch self {
        case .badURL(let url): return "url \"\(url)\" must start with http:// or https://"
        case .missing(let key): return "\(key) must not be empty"
        case .outOfRange(let key, let value, let allowed): return "\(key) = \(value): must be \(allowed)"
        }
    }
}
