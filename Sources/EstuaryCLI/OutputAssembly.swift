import EstuaryConfig
import EstuaryOutputs
import EstuaryPipeline
import EstuaryRuntime
import Logging

/// Builds the InfluxDB outputs a configuration names.
enum OutputAssembly {
    static func output(_ settings: InfluxDBOutputSettings, metrics: SelfMetrics, logger: Logger) -> InfluxDBOutput {
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
        return InfluxDBOutput(configuration: configuration, metrics: metrics, logger: outputLogger)
    }
}

/// The pipeline hands batches to InfluxDB outputs through this conformance.
extension InfluxDBOutput: PipelineOutput {
    public var name: String { configuration.name }

    public func drain(until deadline: UInt64) -> PipelineOutputReport {
        let report = shutdown(deadline: deadline)
        return PipelineOutputReport(unsentBatches: report.unsentBatches, unsentLines: report.unsentLines)
    }
}
