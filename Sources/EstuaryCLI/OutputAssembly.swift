import EstuaryConfig
import EstuaryOutputs
import EstuaryPipeline
import EstuaryRuntime
import EstuarySpool
import Logging

/// Builds the InfluxDB outputs a configuration names, each with its spool when it has one.
enum OutputAssembly {
    static func output(_ settings: InfluxDBOutputSettings, dataDirectory: String, metrics: SelfMetrics,
                       logger: Logger) -> InfluxDBOutput {
        let configuration = InfluxDBOutputConfiguration(
            name: settings.name, url: settings.url, api: settings.api == .v2 ? .v2 : .v1, database: settings.database,
            retentionPolicy: settings.retentionPolicy, username: settings.username, password: settings.password,
            org: settings.org, bucket: settings.bucket, token: settings.token, gzip: settings.gzip,
            batchSize: settings.batchSize, batchBytes: settings.batchBytes, flushInterval: settings.flushInterval,
            timeout: settings.timeout, retryInitial: settings.retryInitial, retryMax: settings.retryMax,
            queueLimitBytes: settings.queueSize, createDatabase: settings.createDatabase,
            insecureSkipVerify: settings.insecureSkipVerify)
        var outputLogger = logger
        outputLogger[metadataKey: "output.name"] = "\(settings.name)"
        var queue: any BatchQueue = MemoryBatchQueue(limitBytes: settings.queueSize)
        if settings.spool {
            let directory = spoolDirectory(dataDirectory: dataDirectory, output: settings.name)
            let options = SpoolOptions(directory: directory, maxBytes: settings.spoolSize, maxAge: settings.spoolMaxAge,
                                       segmentBytes: settings.spoolSegmentSize,
                                       fsync: settings.spoolFsync == .batch ? .batch : .interval(settings.spoolFsyncInterval))
            let spoolMetrics = SpoolMetrics(registry: metrics, measurement: OutputMetrics.measurement, instance: settings.name)
            do {
                let spool = try Spool(options: options, metrics: spoolMetrics, logger: outputLogger)
                queue = SpoolingBatchQueue(spool: spool, memoryLimitBytes: settings.queueSize,
                                           spillThresholdBytes: settings.spoolMemory)
            } catch {
                // Never refuse to start over the spool: run as without one, and say so.
                spoolMetrics.errors.add()
                outputLogger.error("""
                    the spool cannot be opened: this output keeps what it cannot send in memory only \
                    (bounded by queue_size), and what is left at shutdown is lost
                    """,
                                   metadata: ["spool.directory": "\(directory)", "error": "\(error)"])
            }
        }
        return InfluxDBOutput(configuration: configuration, metrics: metrics, logger: outputLogger, queue: queue)
    }

    /// `<data_dir>/spool/<output name>`.
    static func spoolDirectory(dataDirectory: String, output: String) -> String {
        var base = dataDirectory
        while base.count > 1, base.hasSuffix("/") { base.removeLast() }
        return base + "/spool/" + output
    }
}

/// The pipeline hands batches to InfluxDB outputs through this conformance.
extension InfluxDBOutput: PipelineOutput {
    public var name: String { configuration.name }

    public func beginDrain(until deadline: UInt64) {
        beginShutdown(deadline: deadline)
    }

    /// Healthy while idle (nothing sent yet) or writing; anything else (retrying, down,
    /// refused credentials, a missing database, stopping) is not.
    public var health: OutputHealth {
        let status = self.status
        return OutputHealth(name: name, state: status.state.rawValue, healthy: status.state == .ok || status.state == .idle,
                            queuedBatches: status.queuedBatches, queuedLines: status.queuedLines,
                            queuedBytes: status.queuedBytes, lastSuccess: status.lastSuccess, lastError: status.lastError,
                            consecutiveFailures: status.consecutiveFailures)
    }

    public func drain(until deadline: UInt64) -> PipelineOutputReport {
        let report = shutdown(deadline: deadline)
        return PipelineOutputReport(unsentBatches: report.unsentBatches, unsentLines: report.unsentLines,
                                    spilledBatches: report.spilledBatches, spilledLines: report.spilledLines,
                                    spoolLines: report.spoolLines)
    }
}
