import Dispatch
import EstuaryIO
import EstuaryRuntime
import EstuaryWire
import Logging

/// A collectd UDP input, ready to start.
public struct CollectdInputSettings: Sendable {
    public var name: String
    public var receiver: UDPReceiverOptions
    public var decoder: CollectdPacketDecoder
    public var mapper: CollectdPointMapper

    public init(name: String, receiver: UDPReceiverOptions, decoder: CollectdPacketDecoder, mapper: CollectdPointMapper) {
        self.name = name
        self.receiver = receiver
        self.decoder = decoder
        self.mapper = mapper
    }
}

/// A graphite plaintext input over TCP and/or UDP, ready to start.
public struct GraphiteInputSettings: Sendable {
    public var name: String
    public var tcp: TCPListenerOptions?
    public var udp: UDPReceiverOptions?
    public var decoder: GraphiteDecoder

    public init(name: String, tcp: TCPListenerOptions?, udp: UDPReceiverOptions?, decoder: GraphiteDecoder) {
        self.name = name
        self.tcp = tcp
        self.udp = udp
        self.decoder = decoder
    }
}

/// What the daemon runs: inputs, how receivers batch, self-metrics and shutdown timing.
public struct DaemonSettings: Sendable {
    public var hostname: String
    public var batchLines: Int
    public var batchInterval: Double
    public var metricsInterval: Double
    public var shutdownTimeout: Double
    public var collectdInputs: [CollectdInputSettings]
    public var graphiteInputs: [GraphiteInputSettings]
    /// The HTTP health endpoint (`/health`, `/metrics`); nil: none.
    public var health: HTTPServerOptions?

    public init(hostname: String, batchLines: Int = 1000, batchInterval: Double = 0.2, metricsInterval: Double = 10,
                shutdownTimeout: Double = 10, collectdInputs: [CollectdInputSettings] = [],
                graphiteInputs: [GraphiteInputSettings] = [], health: HTTPServerOptions? = nil) {
        self.hostname = hostname
        self.batchLines = batchLines
        self.batchInterval = batchInterval
        self.metricsInterval = metricsInterval
        self.shutdownTimeout = shutdownTimeout
        self.collectdInputs = collectdInputs
        self.graphiteInputs = graphiteInputs
        self.health = health
    }
}

/// A listener or source that could not start: which one, and why.
public struct DaemonStartError: Error, Sendable, CustomStringConvertible {
    public var listener: String
    public var address: String
    public var reason: String
    /// The socket error when a listener could not bind.
    public var underlying: SocketError?

    public init(listener: String, address: String, underlying: SocketError) {
        self.listener = listener
        self.address = address
        self.underlying = underlying
        reason = "\(underlying)"
    }

    /// A source that is not a listener (the SNMP poller).
    public init(listener: String, address: String = "", reason: String) {
        self.listener = listener
        self.address = address
        self.reason = reason
    }

    public var description: String {
        address.isEmpty || address == "-" ? "\(listener): cannot start: \(reason)" : "\(listener): cannot listen on \(address): \(reason)"
    }
}

/// Something besides the listeners that feeds the pipeline (the SNMP poller): started
/// after the receivers, stopped with them, before the outputs flush.
public protocol PipelineSource: AnyObject, Sendable {
    var name: String { get }
    /// Starts producing; batches go to `router`.
    func start(router: Router) throws(DaemonStartError)
    /// Stops producing and hands over what it holds.
    func stop()
}

/// What was left unsent when the daemon stopped: lost (`unsent…`), or spilled to the
/// outputs' spools for the next start.
public struct DaemonStopReport: Sendable {
    public var unsentBatches: Int
    public var unsentLines: Int
    public var spilledBatches = 0
    public var spilledLines = 0
    /// Lines in the outputs' spools for the next start (spilled at shutdown or before).
    public var spoolLines = 0
    public var outputs: [(name: String, report: PipelineOutputReport)]
}

/// The running relay: receivers -> decoders -> batches -> router -> outputs, and the
/// self-metrics reporter. Start order: outputs (given, already started) -> reporter ->
/// receivers; `stop()` runs it backwards: receivers stop and hand over their last
/// batches, the reporter reports once more, then every output gets until the deadline to
/// send what it holds (all at once) and spills the rest to its spool.
public final class Daemon: @unchecked Sendable {  // mutated only by start() and stop(), from one thread
    public let settings: DaemonSettings
    private let outputs: [any PipelineOutput]
    private let metrics: SelfMetrics
    private let logger: Logger
    private let router: Router
    private let reporter: SelfMetricsReporter
    private var udpReceivers: [UDPReceiver] = []
    private var tcpListeners: [TCPListener] = []
    private var sources: [any PipelineSource] = []
    private var healthServer: HTTPServer?
    /// Bound addresses by listener (`<name>/udp`, `<name>/tcp`): the real ports when the configuration said 0.
    public private(set) var addresses: [String: SocketAddress] = [:]

    public init(settings: DaemonSettings, outputs: [any PipelineOutput], metrics: SelfMetrics, logger: Logger) {
        self.settings = settings
        self.outputs = outputs
        self.metrics = metrics
        self.logger = logger
        router = Router(outputs: outputs, metrics: metrics)
        reporter = SelfMetricsReporter(metrics: metrics, router: router, hostname: settings.hostname,
                                       interval: settings.metricsInterval, logger: logger)
    }

    /// The router every input hands its batches to.
    public var pipelineRouter: Router { router }

    /// Adds a source (before `start`): it is started after the receivers and stopped with them.
    public func add(source: any PipelineSource) {
        sources.append(source)
    }

    /// Binds every listener and starts receiving. If one cannot bind, the ones already
    /// bound are closed and the error names the listener.
    public func start() throws(DaemonStartError) {
        do {
            try bindAll()
        } catch {
            for receiver in udpReceivers { receiver.stop() }
            for listener in tcpListeners { listener.stop() }
            healthServer?.stop()
            udpReceivers.removeAll()
            tcpListeners.removeAll()
            healthServer = nil
            throw error
        }
        reporter.start()
        healthServer?.start()
        for receiver in udpReceivers { receiver.start() }
        for listener in tcpListeners { listener.start() }
        for (index, source) in sources.enumerated() {
            do {
                try source.start(router: router)
            } catch {
                for started in sources[..<index] { started.stop() }
                for receiver in udpReceivers { receiver.stop() }
                for listener in tcpListeners { listener.stop() }
                healthServer?.stop()
                reporter.stop()
                throw error
            }
        }
        for (name, address) in addresses.sorted(by: { $0.key < $1.key }) {
            logger.info("listening", metadata: ["listener.name": "\(name)", "listener.address": "\(address)"])
        }
    }

    private func bindAll() throws(DaemonStartError) {
        if let options = settings.health {
            let endpoint = HealthEndpoint(hostname: settings.hostname, metrics: metrics, outputs: outputs)
            do {
                healthServer = try HTTPServer(options: options) { endpoint.respond($0) }
                addresses["health/tcp"] = healthServer?.boundAddress
            } catch {
                throw DaemonStartError(listener: "health_listen", address: "\(options.listen) (tcp)", underlying: error)
            }
        }
        for input in settings.collectdInputs {
            let receiver: UDPReceiver
            do {
                receiver = try UDPReceiver(name: input.name, options: input.receiver) {
                    CollectdInputHandler(name: input.name, decoder: input.decoder, mapper: input.mapper, router: router,
                                         batchLines: settings.batchLines, batchInterval: settings.batchInterval,
                                         metrics: metrics, logger: logger)
                }
            } catch {
                throw DaemonStartError(listener: input.name, address: "\(input.receiver.listen)", underlying: error)
            }
            checkReceiveBuffer(receiver, asked: input.receiver.receiveBuffer)
            addKernelDrops(receiver, name: input.name)
            udpReceivers.append(receiver)
            addresses[input.name + "/udp"] = receiver.boundAddress
        }
        for input in settings.graphiteInputs {
            let makeHandler = {
                GraphiteInputHandler(name: input.name, decoder: input.decoder, router: self.router,
                                     batchLines: self.settings.batchLines, batchInterval: self.settings.batchInterval,
                                     metrics: self.metrics, logger: self.logger)
            }
            if let tcp = input.tcp {
                do {
                    let listener = try TCPListener(name: input.name, options: tcp, makeHandler: makeHandler)
                    tcpListeners.append(listener)
                    addresses[input.name + "/tcp"] = listener.boundAddress
                    let open = metrics.gauge("estuary_input", "connections_open", [("instance", input.name)])
                    reporter.addCollector { [weak listener] in open.set(listener?.openConnections ?? 0) }
                } catch {
                    throw DaemonStartError(listener: input.name, address: "\(tcp.listen) (tcp)", underlying: error)
                }
            }
            if let udp = input.udp {
                do {
                    let receiver = try UDPReceiver(name: input.name, options: udp, makeHandler: makeHandler)
                    checkReceiveBuffer(receiver, asked: udp.receiveBuffer)
                    addKernelDrops(receiver, name: input.name)
                    udpReceivers.append(receiver)
                    addresses[input.name + "/udp"] = receiver.boundAddress
                } catch {
                    throw DaemonStartError(listener: input.name, address: "\(udp.listen) (udp)", underlying: error)
                }
            }
        }
    }

    private func checkReceiveBuffer(_ receiver: UDPReceiver, asked: Int) {
        // Linux reports twice the usable size; less than asked means net.core.rmem_max capped it.
        let granted = receiver.receiveBufferGranted / 2
        metrics.gauge("estuary_input", "receive_buffer_bytes", [("instance", receiver.name)]).set(granted)
        if granted < asked {
            logger.warning("""
                the kernel granted a \(granted)-byte receive buffer instead of \(asked): raise net.core.rmem_max \
                (sysctl -w net.core.rmem_max=\(asked)) or bursts will be lost in the kernel
                """, metadata: ["listener.name": "\(receiver.name)"])
        }
    }

    private func addKernelDrops(_ receiver: UDPReceiver, name: String) {
        let inodes = receiver.inodes
        let drops = metrics.gauge("estuary_input", "kernel_drops", [("instance", name)])
        reporter.addCollector {
            if let count = KernelUDPStatistics.drops(inodes: inodes) { drops.set(count) }
        }
    }

    /// Stops receiving, hands over the last batches and gives the outputs until the
    /// shutdown timeout to send everything; returns what was left.
    public func stop() -> DaemonStopReport {
        let deadline = MonotonicClock.now() + UInt64(settings.shutdownTimeout * 1e9)
        logger.info("stopping: receivers first, then flushing outputs",
                    metadata: ["shutdown.timeout": "\(settings.shutdownTimeout)s"])
        for receiver in udpReceivers { receiver.stop() }
        for listener in tcpListeners { listener.stop() }
        for source in sources { source.stop() }
        reporter.stop()
        // Every output flushes at the same time: a dead server costs only its own output.
        for output in outputs { output.beginDrain(until: deadline) }
        var report = DaemonStopReport(unsentBatches: 0, unsentLines: 0, outputs: [])
        for output in outputs {
            let outputReport = output.drain(until: deadline)
            report.outputs.append((output.name, outputReport))
            report.unsentBatches += outputReport.unsentBatches
            report.unsentLines += outputReport.unsentLines
            report.spilledBatches += outputReport.spilledBatches
            report.spilledLines += outputReport.spilledLines
            report.spoolLines += outputReport.spoolLines
        }
        // The endpoint answers through the flush (outputs "stopping": 503), then goes.
        healthServer?.stop()
        return report
    }
}
