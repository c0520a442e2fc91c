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

/// `estuary run --config FILE`: the daemon.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the relay: collectd, graphite and SNMP in, InfluxDB out.",
        discussion: """
            Stops on SIGTERM or SIGINT: receivers first, then every output gets until shutdown_timeout \
            to send what it holds and spills the rest to its spool, sent after the next start. A second \
            signal stops at once. SIGHUP re-reads the SNMP inputs and their targets files (devices whose \
            settings did not change keep polling undisturbed). Exit codes: 0 stopped with nothing lost \
            (sent, or kept in the spool); 1 configuration or start error; 3 stopped with data lost (the \
            log says how much).
            """)

    @Option(name: .customLong("config"), help: "The configuration file (see estuary sample-config).")
    var configurationFile: String

    @Option(name: .customLong("log-level"), help: "Overrides the configuration's log_level.")
    var logLevel: String?

    /// Exit code when data was lost at shutdown (neither sent nor spilled to a spool).
    static let unsentExitCode: Int32 = 3

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

        // Wait for SIGTERM or SIGINT; a second one ends the process at once.
        let stopping = DispatchSemaphore(value: 0)
        let signals = DispatchQueue(label: "estuary.signals")
        var sources: [any DispatchSourceSignal] = []
        let received = SignalCount()
        for number in [SIGTERM, SIGINT] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: signals)
            source.setEventHandler { @Sendable in
                if received.next() == 1 {
                    stopping.signal()
                } else {
                    FileHandle.standardError.write(Data("estuary: second signal, stopping without flushing\n".utf8))
                    Glibc.exit(RunCommand.unsentExitCode)
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

/// Counts signals (from the signal queue only).
final class SignalCount: @unchecked Sendable {  // touched only on the signal queue
    private var count = 0

    func next() -> Int {
        count += 1
        return count
    }
}
