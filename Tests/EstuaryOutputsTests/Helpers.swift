@testable import EstuaryOutputs
import EstuaryRuntime
import EstuaryTestSupport
import Foundation
import Logging
import Synchronization

/// `count` lines of line protocol (`<measurement>,batch=<tag> value=<i> <ts>`), unique per
/// (tag, i), as one batch.
func makeBatch(_ count: Int, tag: String, measurement: String = "m", firstIndex: Int = 0) -> LineProtocolBatch {
    var text = ""
    for i in firstIndex..<(firstIndex + count) {
        text += "\(measurement),batch=\(tag) value=\(i) \(1_700_000_000_000_000_000 + i)\n"
    }
    return LineProtocolBatch(bytes: Array(text.utf8), lines: count, source: "test")
}

/// The lines of a batch, without newlines.
func lines(of batch: LineProtocolBatch) -> [String] {
    String(decoding: batch.bytes, as: UTF8.self).split(separator: "\n").map(String.init)
}

/// A configuration with test-sized timings: fast flushes and short backoffs.
///
/// The request timeout is a generous 10 s: tests that count requests exactly must not see an
/// extra, timed-out request when the shared cores stall a response (CI once saw a 2 s timeout
/// hit in the 5xx test). Tests about timeouts set their own.
func testConfiguration(url: String, name: String = "test", gzip: Bool = true) -> InfluxDBOutputConfiguration {
    InfluxDBOutputConfiguration(name: name, url: url, database: "estuary_test", gzip: gzip, batchSize: 1000,
                                flushInterval: 0.05, timeout: 10, retryInitial: 0.02, retryMax: 0.2)
}

/// One captured log line.
struct CapturedLog: Sendable {
    var level: Logger.Level
    var message: String
    var metadata: [String: String]
}

/// A swift-log handler that keeps every line in memory, for assertions on what was logged.
struct CapturingLogHandler: LogHandler {
    final class Store: Sendable {
        let entries = Mutex<[CapturedLog]>([])
        var all: [CapturedLog] { entries.withLock { $0 } }
        func count(level: Logger.Level? = nil, containing text: String) -> Int {
            all.filter { (level == nil || $0.level == level) && $0.message.contains(text) }.count
        }
    }

    let store: Store
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    var metadataProvider: Logger.MetadataProvider? = nil

    func log(event: LogEvent) {
        var flat: [String: String] = [:]
        for (key, value) in metadata { flat[key] = "\(value)" }
        for (key, value) in event.metadata ?? [:] { flat[key] = "\(value)" }
        let entry = CapturedLog(level: event.level, message: "\(event.message)", metadata: flat)
        store.entries.withLock { $0.append(entry) }
        if ProcessInfo.processInfo.environment["ESTUARY_TEST_LOGS"] != nil {
            print("[\(event.level)] \(event.message) \(flat)")
        }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
}

/// A logger that captures into a new store.
func capturingLogger() -> (Logger, CapturingLogHandler.Store) {
    let store = CapturingLogHandler.Store()
    let logger = Logger(label: "estuary.test") { _ in CapturingLogHandler(store: store) }
    return (logger, store)
}

/// A monotonic deadline `seconds` from now.
func deadline(in seconds: Double) -> UInt64 {
    MonotonicClock.now() + UInt64(seconds * 1e9)
}

/// A loopback port nobody listens on (connections are refused).
func refusedPort() throws -> UInt16 {
    try LoopbackSockets.freePort()
}

/// An output on a manual clock, started, with `batch` enqueued and its flush interval passed on
/// the clock (the writer woken): the first request goes out now. Shut it down at the end.
func startedOutputByTheClock(_ configuration: InfluxDBOutputConfiguration, clock: ManualClock,
                             sending batch: LineProtocolBatch) -> (InfluxDBOutput, CapturingLogHandler.Store) {
    let (logger, logs) = capturingLogger()
    let output = InfluxDBOutput(configuration: configuration, metrics: SelfMetrics(), logger: logger, clock: clock)
    output.start()
    output.enqueue(batch)
    clock.advance(by: configuration.flushInterval)
    output.wakeWriter()
    return (output, logs)
}
