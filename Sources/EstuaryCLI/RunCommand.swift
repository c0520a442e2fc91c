import ArgumentParser
import Dispatch
import EstuaryConfig
import EstuaryIO
import EstuaryOutputs
import EstuaryPipeline
import EstuaryRuntime
import EstuarySNMPPoller
import Foundation
import Logging
import Synchronization

/// `estuary run --config FILE`: the daemon.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the relay: collectd, graphite and SNMP in, InfluxDB out.",
        discussion: """
            Stops on SIGTERM or SIGINT: receivers first, then every output gets until shutdown_timeout \
            to send what it holds and spills the rest to its spool, sent after the next start. Signals \
            within \(String(format: "%g", repeatedSignalGraceSeconds)) s of the first are the same request \
            (a terminal's Ctrl-C reaches the whole job); a later one stops at once, with exit code 3 and \
            the number of lines lost in the log. SIGHUP re-reads the SNMP inputs and their targets files \
            (devices whose settings did not change keep polling undisturbed). Exit codes: 0 stopped with \
            nothing lost (sent, or kept in the spool); 1 configuration or start error; 3 stopped with data \
            lost (the log says how much).
            """)

    @Option(name: .customLong("config"), help: "The configuration file (see estuary sample-config).")
    var configurationFile: String

    @Option(name: .customLong("log-level"), help: "Overrides the configuration's log_level.")
    var logLevel: String?

    /// Exit code when data was lost at shutdown (neither sent nor spilled to a spool).
    static let unsentExitCode: Int32 = 3

    /// SIGTERM or SIGINT within this many seconds of the first one is the same request to
    /// stop: a terminal's Ctrl-C sends SIGINT to every process of the job, and a wrapper (a
    /// script, a supervisor) may pass the stop on as SIGTERM as well. A signal later than that
    /// stops at once (`stopNow`).
    static let repeatedSignalGraceSeconds = 2.0

    /// How long "stop now" waits for the outputs to say what they hold before it exits anyway.
    static let stopNowCountTimeoutSeconds = 0.5

    func run() throws {
        let configuration: EstuaryConfiguration
        do {
            configuration = try EstuaryConfiguration.load(path: configurationFile)
        } catch {
            var stderr = OutputStream.standardError()
            for mistake in error.errors { stderr.line(mistake.description) }
            stderr.flush()
            throw ExitCode(1)
        }
        var level = DaemonAssembly.logLevel(configuration.global.logLevel)
        if let logLevel {
            guard let parsed = Logger.Level(rawValue: logLevel) else {
                throw ValidationError("--log-level: unknown level '\(logLevel)' (trace, debug, info, notice, warning, error, critical)")
            }
            level = parsed
        }
        LoggingSystem.bootstrap { [level] label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "estuary")
        signal(SIGPIPE, SIG_IGN)

        let settings = try DaemonAssembly.settings(configuration)
        Self.raiseDescriptorLimit(settings, logger: logger)
        let metrics = SelfMetrics()
        let outputs = configuration.influxDBOutputs.map {
            OutputAssembly.output($0, dataDirectory: configuration.global.dataDirectory, metrics: metrics, logger: logger)
        }
        for output in outputs { output.start() }
        let daemon = Daemon(settings: settings, outputs: outputs, metrics: metrics, logger: logger)
        var poller: SNMPPoller?
        if !configuration.snmpInputs.isEmpty {
            let snmp = SNMPPoller(inputs: SNMPAssembly.inputs(configuration, logger: logger),
                                  batchLines: configuration.global.batchLines,
                                  batchInterval: configuration.global.batchInterval, metrics: metrics, logger: logger)
            daemon.add(source: snmp)
            poller = snmp
        }
        do {
            try daemon.start()
        } catch {
            logger.critical("cannot start: \(error)")
            for output in outputs { _ = output.shutdown(deadline: MonotonicClock.now()) }
            throw ExitCode(1)
        }
        logger.info("estuary started", metadata: [
            "config.file": "\(configurationFile)",
            "inputs": "\(settings.collectdInputs.count + settings.graphiteInputs.count + configuration.snmpInputs.count)",
            "outputs": "\(outputs.count)",
        ])

        // Wait for SIGTERM or SIGINT. Signals within the grace time of the first are the same
        // request; a later one stops at once (what the outputs hold in memory is lost, and counted).
        let stopping = DispatchSemaphore(value: 0)
        let signals = DispatchQueue(label: "estuary.signals")
        var sources: [any DispatchSourceSignal] = []
        let requests = StopRequests(graceSeconds: Self.repeatedSignalGraceSeconds)
        for (number, name) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: signals)
            source.setEventHandler { @Sendable in
                switch requests.receive(at: MonotonicClock.now()) {
                case .stop:
                    logger.notice("""
                        \(name): stopping; signals within \(String(format: "%g", Self.repeatedSignalGraceSeconds)) s count as this one, \
                        a later one stops at once and loses what is held in memory
                        """, metadata: ["signal": "\(name)"])
                    stopping.signal()
                case .sameRequest(let seconds):
                    logger.info("\(name) \(Self.seconds(seconds)) s after the first signal: the same request to stop",
                                metadata: ["signal": "\(name)"])
                case .stopNow(let seconds):
                    Self.stopNow(signal: name, secondsAfterFirst: seconds, outputs: outputs, metrics: metrics, logger: logger)
                case .stopFinished:
                    break
                }
            }
            source.resume()
            sources.append(source)
        }
        if let poller {
            signal(SIGHUP, SIG_IGN)
            let hangup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: signals)
            let file = configurationFile
            hangup.setEventHandler { @Sendable in
                // Only the targets files are re-read; the rest of the configuration needs a restart.
                switch Result(catching: { () throws(ConfigurationErrors) in try EstuaryConfiguration.load(path: file) }) {
                case .success(let fresh):
                    SNMPAssembly.reload(fresh, poller: poller, logger: logger)
                case .failure(let errors):
                    for error in errors.errors {
                        logger.error("SIGHUP: configuration has mistakes, nothing reloaded: \(error.description)")
                    }
                }
            }
            hangup.resume()
            sources.append(hangup)
        }
        stopping.wait()
        let report = daemon.stop()
        if !requests.finishGracefulStop() {
            // A signal past the grace time is ending the process (stopNow) on the signal queue.
            while true { pause() }
        }
        for (name, output) in report.outputs where output.spilledLines > 0 || output.spoolLines > 0 {
            logger.notice("""
                stopped: spilled \(output.spilledLines) lines to the spool; \(output.spoolLines) lines wait there for the next start
                """, metadata: [
                "output.name": "\(name)", "spilled.lines": "\(output.spilledLines)",
                "spilled.batches": "\(output.spilledBatches)", "spool.lines": "\(output.spoolLines)",
            ])
        }
        if report.unsentLines == 0 {
            if report.spilledLines == 0, report.spoolLines == 0 {
                logger.info("stopped: everything received was handed to the outputs and sent")
            } else {
                logger.info("""
                    stopped: nothing lost; \(report.spilledLines) lines spilled to the spool at shutdown, \
                    \(report.spoolLines) lines in the spool, sent after the next start
                    """)
            }
            return
        }
        for (name, output) in report.outputs where output.unsentLines > 0 {
            logger.error("stopped with data left unsent: \(output.unsentLines) lines lost (neither sent nor spilled)", metadata: [
                "output.name": "\(name)", "unsent.lines": "\(output.unsentLines)", "unsent.batches": "\(output.unsentBatches)",
            ])
        }
        throw ExitCode(Self.unsentExitCode)
    }
}

extension RunCommand {
    /// Raises the soft limit on open files to the hard limit (every TCP connection is a
    /// descriptor), and warns when the listeners' `max_connections` could still run out of
    /// them: then connections beyond the limit are accepted and closed at once (counted as
    /// refused) instead of served.
    static func raiseDescriptorLimit(_ settings: DaemonSettings, logger: Logger) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        let connections = settings.graphiteInputs.reduce(0) { $0 + ($1.tcp?.maxConnections ?? 0) }
        // Sockets, spool files, libcurl and the runtime: a few dozen; keep a margin of 256.
        let needed = connections + 256
        if limit.rlim_cur != rlim_t.max, limit.rlim_cur < rlim_t(needed) {  // rlim_t.max: RLIM_INFINITY
            logger.warning("""
                the open-file limit (\(limit.rlim_cur)) is below what max_connections allows (\(connections) connections \
                plus about 256): raise it (LimitNOFILE= in the systemd unit, ulimit -n) or lower max_connections
                """, metadata: ["limit.nofile": "\(limit.rlim_cur)", "max_connections": "\(connections)"])
        }
    }
}

extension RunCommand {
    /// A signal past the grace time: ends the process at once with `unsentExitCode`, after
    /// logging what the outputs still held (in memory or in their writers' hands: lost). The
    /// count is a snapshot of each output's status, taken on another thread and waited for at
    /// most `stopNowCountTimeoutSeconds` (an output's lock can be held by a final spill).
    static func stopNow(signal name: String, secondsAfterFirst: Double, outputs: [InfluxDBOutput], metrics: SelfMetrics,
                        logger: Logger) -> Never {
        let held = HeldLines.snapshot(of: outputs, metrics: metrics, timeout: stopNowCountTimeoutSeconds)
        let lead = "\(name) \(seconds(secondsAfterFirst)) s after the first signal"
        guard let held else {
            logger.critical("""
                stopped at once (\(lead)): the outputs did not say within \(stopNowCountTimeoutSeconds) s what they held; \
                what they held in memory is lost
                """, metadata: ["signal": "\(name)"])
            _exit(unsentExitCode)
        }
        for output in held {
            if output.spoolRecords == 0 {
                logger.error("stopped at once: \(output.lines) lines lost (held in memory, neither sent nor spilled)", metadata: [
                    "output.name": "\(output.name)", "lost.lines": "\(output.lines)", "signal": "\(name)",
                ])
            } else {
                // The status counts the spool's unsent lines with the memory's: only a bound.
                logger.error("""
                    stopped at once: up to \(output.lines) lines lost (held in memory, or in the spool's \
                    \(output.spoolRecords) records, which are kept and sent after the next start)
                    """, metadata: [
                    "output.name": "\(output.name)", "lost.lines.at_most": "\(output.lines)",
                    "spool.records": "\(output.spoolRecords)", "signal": "\(name)",
                ])
            }
        }
        let total = held.reduce(0) { $0 + $1.lines }
        let bound = held.contains { $0.spoolRecords > 0 } ? "up to " : ""
        logger.critical("stopped at once (\(lead)): \(bound)\(total) lines lost, neither sent nor spilled",
                        metadata: ["lost.lines": "\(total)", "signal": "\(name)"])
        _exit(unsentExitCode)
    }

    /// Seconds for a log line: two decimals.
    static func seconds(_ value: Double) -> String {
        String(format: "%.2f", value)
    }
}

/// SIGTERM and SIGINT as requests to stop. The first asks for a graceful stop; any signal
/// within `graceSeconds` of it is the same request; a later one, while the graceful stop is
/// still running, is a request to stop at once; once the graceful stop is over, signals
/// change nothing. Thread-safe.
final class StopRequests: Sendable {
    /// What a signal means.
    enum Meaning: Equatable {
        /// The first signal: stop gracefully.
        case stop
        /// Within the grace time of the first (seconds after it): already stopping.
        case sameRequest(secondsAfterFirst: Double)
        /// Past the grace time while still stopping: stop at once. Given once; the graceful
        /// stop may not finish after it (`finishGracefulStop` says so).
        case stopNow(secondsAfterFirst: Double)
        /// The graceful stop is over, or a stop at once is under way.
        case stopFinished
    }

    private struct State {
        var firstAt: UInt64?
        var over = false
    }

    private let graceNanoseconds: UInt64
    private let state = Mutex(State())

    init(graceSeconds: Double) {
        graceNanoseconds = UInt64(max(0, graceSeconds) * 1e9)
    }

    /// A signal arrived at `now` (monotonic ns).
    func receive(at now: UInt64) -> Meaning {
        state.withLock { state in
            if state.over { return .stopFinished }
            guard let first = state.firstAt else {
                state.firstAt = now
                return .stop
            }
            let elapsed = now &- first
            let seconds = Double(elapsed) / 1e9
            if elapsed < graceNanoseconds { return .sameRequest(secondsAfterFirst: seconds) }
            state.over = true
            return .stopNow(secondsAfterFirst: seconds)
        }
    }

    /// The graceful stop is done: later signals change nothing. False if a stop at once has
    /// already begun (it ends the process; the caller must not exit on its own).
    func finishGracefulStop() -> Bool {
        state.withLock { state in
            if state.over { return false }
            state.over = true
            return true
        }
    }
}

/// What each output held at one moment, for the log of a stop at once.
struct HeldLines: Sendable {
    var name: String
    /// Lines the output held: its queue (memory front, and with a spool the spool's unsent
    /// records too) plus its writer's requests.
    var lines: Int
    /// Unsent records in the output's spool (0 without a spool): when not 0, `lines` counts
    /// some lines that are safe on disk.
    var spoolRecords: Int

    /// Every output's status, read on another thread; nil if that took longer than `timeout` seconds.
    static func snapshot(of outputs: [InfluxDBOutput], metrics: SelfMetrics, timeout: Double) -> [HeldLines]? {
        let result = Mutex<[HeldLines]?>(nil)
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            let held = outputs.map { output in
                let name = output.configuration.name
                let records = metrics.existingGauge(OutputMetrics.measurement, "spool_records", [("instance", name)])
                return HeldLines(name: name, lines: output.status.queuedLines, spoolRecords: records?.current ?? 0)
            }
            result.withLock { $0 = held }
            done.signal()
        }
        guard done.wait(timeout: .now() + timeout) == .success else { return nil }
        return result.withLock { $0 }
    }
}
