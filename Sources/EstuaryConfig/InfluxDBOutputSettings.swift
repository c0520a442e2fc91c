import Foundation

/// One `[[outputs.influxdb]]`: an InfluxDB server written to over HTTP(S).
public struct InfluxDBOutputSettings: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// `name`: this output in logs, self-metrics and its spool directory; unique among outputs.
    public var name: String
    /// `url`: `http://` or `https://` server address, without a trailing slash; a path is kept
    /// (for a server behind a proxy at `https://proxy/influxdb`).
    public var url: String
    /// `api`: v1 (`/write`) or v2 (`/api/v2/write`).
    public var api: InfluxDBAPI
    /// `database` (v1).
    public var database: String
    /// `retention_policy` (v1); nil writes to the database's default policy.
    public var retentionPolicy: String?
    /// `username` (v1, with `password`).
    public var username: String?
    /// `password` (v1).
    public var password: String?
    /// `org` (v2).
    public var org: String?
    /// `bucket` (v2).
    public var bucket: String?
    /// `token` (v2).
    public var token: String?
    /// `gzip`: compress request bodies (`Content-Encoding: gzip`).
    public var gzip: Bool
    /// `batch_size`: lines per request at most.
    public var batchSize: Int
    /// `batch_bytes`: bytes of line protocol per request at most (before compression).
    public var batchBytes: Int
    /// `flush_interval`, seconds: a batch that is not full is sent after this long.
    public var flushInterval: Double
    /// `timeout`, seconds: one HTTP request, from connecting to the end of the response.
    public var timeout: Double
    /// `retry_initial`, seconds: the first retry delay, doubled (with jitter) up to `retryMax`.
    public var retryInitial: Double
    /// `retry_max`, seconds.
    public var retryMax: Double
    /// `queue_size`, bytes: the most line protocol this output holds in memory; past it the
    /// oldest batches are dropped and counted. With a spool, the writer moves batches to disk
    /// long before that; the bound is reached only when it cannot (a request hanging, the
    /// spool failing).
    public var queueSize: Int
    /// `spool`: keep what the server cannot take in an on-disk spool under
    /// `<data_dir>/spool/<name>` (also what is left at shutdown), replayed in order.
    public var spool: Bool
    /// `spool_size`, bytes: the most the spool's files take on disk; past it the oldest
    /// records are dropped and counted.
    public var spoolSize: Int
    /// `spool_max_age`, seconds: spooled lines received longer ago are dropped and counted;
    /// 0 keeps them however old.
    public var spoolMaxAge: Double
    /// `spool_fsync`: when spool writes are synced to disk.
    public var spoolFsync: SpoolFsyncPolicy
    /// `spool_fsync_interval`, seconds: with `spool_fsync = "interval"`, the longest a spool
    /// write waits to be synced.
    public var spoolFsyncInterval: Double
    /// `spool_segment_size`, bytes: the spool's segment files are this large.
    public var spoolSegmentSize: Int
    /// `spool_memory`, bytes: a healthy output keeps up to this much in memory before it
    /// writes to the spool (while the server fails, batches go to disk within flush_interval).
    public var spoolMemory: Int
    /// `create_database` (v1): on "database not found", create it and retry.
    public var createDatabase: Bool
    /// `insecure_skip_verify`: accept any TLS certificate (https only; for tests).
    public var insecureSkipVerify: Bool

    public static let defaultURL = "http://127.0.0.1:8086"
    public static let batchSizeRange = 1...1_000_000
    public static let batchBytesRange = (1 << 10)...(256 << 20)
    public static let flushIntervalRange = 0.001...3600.0
    public static let timeoutRange = 0.1...600.0
    public static let retryRange = 0.001...86400.0
    public static let queueSizeRange = (1 << 20)...(1 << 40)
    public static let spoolSizeRange = (1 << 20)...(1 << 50)
    /// 0, or from a minute to ten years.
    public static let spoolMaxAgeRange = 0.0...(3650.0 * 86400)
    public static let spoolFsyncIntervalRange = 0.001...3600.0
    public static let spoolSegmentSizeRange = (64 << 10)...(1 << 30)
    public static let spoolMemoryRange = (64 << 10)...(1 << 40)
    public static let defaultSpoolMemory = 16 << 20

    public init(name: String = "influxdb", url: String = InfluxDBOutputSettings.defaultURL, api: InfluxDBAPI = .v1,
                database: String = "collectd", retentionPolicy: String? = nil, username: String? = nil,
                password: String? = nil, org: String? = nil, bucket: String? = nil, token: String? = nil,
                gzip: Bool = true, batchSize: Int = 5000, batchBytes: Int = 4 << 20, flushInterval: Double = 1,
                timeout: Double = 10, retryInitial: Double = 0.5, retryMax: Double = 60, queueSize: Int = 256 << 20,
                createDatabase: Bool = true, insecureSkipVerify: Bool = false, spool: Bool = true,
                spoolSize: Int = 1 << 30, spoolMaxAge: Double = 72 * 3600, spoolFsync: SpoolFsyncPolicy = .interval,
                spoolFsyncInterval: Double = 1, spoolSegmentSize: Int = 16 << 20,
                spoolMemory: Int = InfluxDBOutputSettings.defaultSpoolMemory) {
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
        self.queueSize = queueSize
        self.createDatabase = createDatabase
        self.insecureSkipVerify = insecureSkipVerify
        self.spool = spool
        self.spoolSize = spoolSize
        self.spoolMaxAge = spoolMaxAge
        self.spoolFsync = spoolFsync
        self.spoolFsyncInterval = spoolFsyncInterval
        self.spoolSegmentSize = spoolSegmentSize
        self.spoolMemory = spoolMemory
    }

    /// Name, API, URL and target, without secrets (safe to log).
    public var description: String {
        switch api {
        case .v1:
            return "\(name) (v1 \(url) database \(database)" + (retentionPolicy.map { " rp \($0)" } ?? "") + ")"
        case .v2:
            return "\(name) (v2 \(url) org \(org ?? "") bucket \(bucket ?? ""))"
        }
    }

    /// Like `description`: the password and the token are never printed.
    public var debugDescription: String {
        description + (password != nil || token != nil ? " [credentials redacted]" : "")
    }
}

/// `spool_fsync`: when the spool's writes reach stable storage.
public enum SpoolFsyncPolicy: String, Sendable, Hashable, CaseIterable {
    /// `fdatasync` after every spill (each write to the spool).
    case batch
    /// `fdatasync` at most `spool_fsync_interval` after a write.
    case interval
}

/// `api`: which InfluxDB write API the output speaks.
public enum InfluxDBAPI: String, Sendable, Hashable, CaseIterable {
    /// InfluxDB 1.x `/write?db=&rp=`, Basic auth from username and password.
    case v1
    /// InfluxDB 2.x and 3.x `/api/v2/write?org=&bucket=`, `Authorization: Token`.
    case v2
}

extension InfluxDBOutputSettings {
    static let v1Keys = ["database", "retention_policy", "username", "password", "create_database"]
    static let v2Keys = ["org", "bucket", "token"]

    init?(reading reader: TableReader, defaultName: String) {
        var output = InfluxDBOutputSettings()
        output.name = readName(reader, default: defaultName)
        if let url = reader.string("url") {
            do {
                output.url = try Self.checkURL(url)
            } catch {
                reader.error("url", "bad URL '\(url)': \(error.description)")
            }
        }
        let api = reader.validChoice("api", default: output.api)
        output.api = api ?? output.api

        output.database = reader.string("database", default: output.database)
        output.retentionPolicy = reader.nonEmptyString("retention_policy")
        output.username = reader.nonEmptyString("username")
        output.password = reader.string("password")
        output.createDatabase = reader.bool("create_database", default: output.createDatabase)
        output.org = reader.nonEmptyString("org")
        output.bucket = reader.nonEmptyString("bucket")
        output.token = reader.nonEmptyString("token")

        // With a bad api value, which keys belong is unknown: only that error is reported.
        if api != nil {
            switch output.api {
            case .v1:
                if output.database.isEmpty { reader.error("database", "must not be empty for api = \"v1\"") }
                if output.username != nil, !reader.contains("password") {
                    reader.error("password", "required when username is set")
                }
                if reader.contains("password"), !reader.contains("username") {
                    reader.error("username", "required when password is set")
                }
                for key in Self.v2Keys where reader.contains(key) {
                    reader.error(key, "is a v2 setting, but api is \"v1\"; set api = \"v2\" to write with org, bucket and token")
                }
            case .v2:
                for key in Self.v2Keys where !reader.contains(key) {
                    reader.error(key, "required for api = \"v2\" (org, bucket and token)")
                }
                for key in Self.v1Keys where reader.contains(key) {
                    reader.error(key, "is a v1 setting, but api is \"v2\"; v2 writes to org and bucket with a token")
                }
            }
        }

        output.gzip = reader.bool("gzip", default: output.gzip)
        output.batchSize = reader.int("batch_size", default: output.batchSize, range: Self.batchSizeRange)
        output.batchBytes = reader.size("batch_bytes", default: output.batchBytes, range: Self.batchBytesRange)
        output.flushInterval = reader.duration("flush_interval", default: output.flushInterval, range: Self.flushIntervalRange)
        output.timeout = reader.duration("timeout", default: output.timeout, range: Self.timeoutRange)
        output.retryInitial = reader.duration("retry_initial", default: output.retryInitial, range: Self.retryRange)
        output.retryMax = reader.duration("retry_max", default: output.retryMax, range: Self.retryRange)
        if output.retryMax < output.retryInitial {
            reader.error("retry_max", "must not be less than retry_initial (\(DurationSyntax.format(output.retryInitial)))")
        }
        output.queueSize = reader.size("queue_size", default: output.queueSize, range: Self.queueSizeRange)
        if output.queueSize < output.batchBytes {
            reader.error("queue_size", "must be at least batch_bytes (\(SizeSyntax.format(output.batchBytes))): "
                         + "the queue holds whole batches")
        }
        output.insecureSkipVerify = reader.bool("insecure_skip_verify", default: output.insecureSkipVerify)

        output.spool = reader.bool("spool", default: output.spool)
        output.spoolSize = reader.size("spool_size", default: output.spoolSize, range: Self.spoolSizeRange)
        output.spoolMaxAge = reader.duration("spool_max_age", default: output.spoolMaxAge, range: Self.spoolMaxAgeRange)
        if output.spoolMaxAge > 0, output.spoolMaxAge < 60 {
            reader.error("spool_max_age", "must be at least 1m, or \"0s\" to keep spooled data however old")
        }
        output.spoolFsync = reader.choice("spool_fsync", default: output.spoolFsync)
        output.spoolFsyncInterval = reader.duration("spool_fsync_interval", default: output.spoolFsyncInterval,
                                                    range: Self.spoolFsyncIntervalRange)
        output.spoolSegmentSize = reader.size("spool_segment_size", default: output.spoolSegmentSize,
                                              range: Self.spoolSegmentSizeRange)
        if output.spoolSegmentSize * 2 > output.spoolSize {
            reader.error(reader.contains("spool_segment_size") ? "spool_segment_size" : "spool_size",
                         "spool_segment_size (\(SizeSyntax.format(output.spoolSegmentSize))) must be at most half of "
                         + "spool_size (\(SizeSyntax.format(output.spoolSize))): the spool frees space a segment at a time")
        }
        if reader.contains("spool_memory") {
            output.spoolMemory = reader.size("spool_memory", default: output.spoolMemory, range: Self.spoolMemoryRange)
            if output.spoolMemory > output.queueSize {
                reader.error("spool_memory", "must not be more than queue_size (\(SizeSyntax.format(output.queueSize))): "
                             + "it is the part of the memory queue kept before spilling")
            }
        } else {
            output.spoolMemory = min(Self.defaultSpoolMemory, output.queueSize / 2)
        }
        reader.finish()
        self = output
    }

    /// Checks an InfluxDB URL and returns it without a trailing slash.
    static func checkURL(_ text: String) throws(ConfigurationValueError) -> String {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw ConfigurationValueError("expected an address such as \"http://127.0.0.1:8086\"")
        }
        guard scheme == "http" || scheme == "https" else {
            throw ConfigurationValueError("the scheme must be http or https, not \(scheme)")
        }
        guard let host = components.host, !host.isEmpty else {
            throw ConfigurationValueError("no host; expected an address such as \"http://127.0.0.1:8086\"")
        }
        if components.user != nil || components.password != nil {
            throw ConfigurationValueError("credentials do not go in the URL; use username and password (v1) or token (v2)")
        }
        if components.query != nil || components.fragment != nil {
            throw ConfigurationValueError("no query or fragment allowed; database and bucket have their own keys")
        }
        if let port = components.port, !(1...65535).contains(port) {
            throw ConfigurationValueError("the port \(port) is out of range (1 to 65535)")
        }
        var url = text
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }
}
