import Dispatch
import EstuaryPipeline
import EstuaryRuntime
import EstuarySNMP
import EstuaryWire
import Logging

/// One `[[inputs.snmp]]`, ready to poll.
public struct SNMPInputSettings: Sendable {
    public var name: String
    public var devices: [SNMPDeviceSettings]
    public var schema: SNMPSchema
    /// Polls in flight at most (each holds a socket).
    public var window: Int

    public init(name: String, devices: [SNMPDeviceSettings], schema: SNMPSchema = .collectd, window: Int = 500) {
        self.name = name
        self.devices = devices
        self.schema = schema
        self.window = window
    }
}

/// Estuary's SNMP poller: every configured device polled on its own interval by one
/// libnetsnmp thread (`SNMPEngine`), and each input's finished polls turned into line
/// protocol on that input's own queue (rates, schema) and handed to the pipeline in
/// batches, like the receivers' data.
public final class SNMPPoller: PipelineSource, @unchecked Sendable {  // start/stop from one thread
    public let name = "snmp"
    private let inputs: [SNMPInputSettings]
    private let metrics: SelfMetrics
    private let logger: Logger
    private let batchLines: Int
    private let batchInterval: Double
    private var engine: SNMPEngine?
    private var writers: [InputWriter] = []
    private var groupByName: [String: Int] = [:]
    private let clock: any Clock

    /// `clock` schedules the devices and times the batches.
    public init(inputs: [SNMPInputSettings], batchLines: Int, batchInterval: Double, metrics: SelfMetrics, logger: Logger,
                clock: any Clock = SystemClock()) {
        self.clock = clock
        self.inputs = inputs
        self.batchLines = batchLines
        self.batchInterval = batchInterval
        self.metrics = metrics
        self.logger = logger
    }

    /// Starts polling; points go to `router`.
    public func start(router: Router) throws(DaemonStartError) {
        let engine = SNMPEngine(logger: logger, clock: clock)
        for input in inputs {
            let inputMetrics = SNMPPollerMetrics(registry: metrics, instance: input.name)
            let writer = InputWriter(name: input.name, writer: SNMPPointWriter(schema: input.schema, rates: input.devices.first?.rates ?? false),
                                     router: router, batchLines: batchLines, batchInterval: batchInterval,
                                     clock: clock, metrics: inputMetrics, logger: logger)
            let group = engine.addGroup(SNMPEngine.GroupSettings(name: input.name, window: input.window, metrics: inputMetrics,
                                                                 deliver: { [writer] delivery in writer.take(delivery) }))
            writers.append(writer)
            groupByName[input.name] = group
        }
        do {
            try engine.start()
        } catch {
            throw DaemonStartError(listener: "inputs.snmp", address: "-", reason: error.description)
        }
        for (index, input) in inputs.enumerated() {
            writers[index].start()
            engine.setDevices(group: index, input.devices)
            logger.info("SNMP polling started", metadata: ["input.name": "\(input.name)", "snmp.devices": "\(input.devices.count)",
                                                          "snmp.window": "\(input.window)"])
        }
        self.engine = engine
    }

    /// Replaces an input's devices (SIGHUP re-read its targets file): unchanged devices keep
    /// their schedule and counters.
    public func reload(input: String, devices: [SNMPDeviceSettings]) {
        guard let engine, let group = groupByName[input] else { return }
        engine.setDevices(group: group, devices)
    }

    /// Stops polling (polls in flight are dropped) and hands over the last points.
    public func stop() {
        engine?.stop()
        engine = nil
        for writer in writers { writer.stop() }
    }
}

/// One input's writer: takes the engine's deliveries on its own queue, keeps each device's
/// state (labels, previous counters), writes line protocol and hands batches to the router.
final class InputWriter: @unchecked Sendable {  // state confined to `queue`
    let name: String
    private let writer: SNMPPointWriter
    private let queue: DispatchQueue
    private let assembler: BatchAssembler
    private let metrics: SNMPPollerMetrics
    private let logger: Logger
    private let batchInterval: Double
    private var states: [String: SNMPDeviceState] = [:]
    private var timer: (any DispatchSourceTimer)?
    private var failureLog: [String: UInt64] = [:]

    init(name: String, writer: SNMPPointWriter, router: Router, batchLines: Int, batchInterval: Double,
         clock: any Clock, metrics: SNMPPollerMetrics, logger: Logger) {
        self.name = name
        self.writer = writer
        queue = DispatchQueue(label: "estuary.snmp.\(name)")
        assembler = BatchAssembler(router: router, source: name, batchLines: batchLines, batchInterval: batchInterval,
                                   clock: clock)
        self.metrics = metrics
        self.batchInterval = batchInterval
        var logger = logger
        logger[metadataKey: "input.name"] = .string(name)
        self.logger = logger
    }

    func start() {
        let timer = DispatchSource.makeTimerSource(queue: queue)
        let nanos = max(1_000_000, Int(batchInterval * 1e9))
        timer.schedule(deadline: .now() + .nanoseconds(nanos), repeating: .nanoseconds(nanos), leeway: .milliseconds(20))
        timer.setEventHandler { @Sendable [self] in assembler.tick() }
        self.timer = timer
        timer.resume()
    }

    func take(_ delivery: SNMPEngineDelivery) {
        queue.async { [self] in
            for agent in delivery.removed { states[agent] = nil }
            for sample in delivery.samples { write(sample) }
        }
    }

    private func write(_ sample: SNMPPollSample) {
        let agent = sample.device.agent
        let state: SNMPDeviceState
        if let existing = states[agent] {
            state = existing
        } else {
            state = SNMPDeviceState()
            states[agent] = state
        }
        var sink = assembler.buffer
        let report = writer.write(sample, state: state, into: &sink)
        metrics.lines.add(report.lines)
        metrics.droppedPoints.add(report.droppedPoints)
        for (reason, count) in report.rateGaps { metrics.rateGaps[reason]?.add(count) }
        assembler.wrote(lines: report.lines)
        logOutcome(sample)
    }

    /// Logs a device's first failure and its recovery, not every failed poll.
    private func logOutcome(_ sample: SNMPPollSample) {
        let agent = sample.device.agent
        switch sample.poll.outcome {
        case .complete?:
            if failureLog.removeValue(forKey: agent) != nil {
                logger.notice("SNMP device answers again", metadata: ["snmp.agent": "\(agent)"])
            }
        case .timeout?:
            if failureLog[agent] == nil {
                failureLog[agent] = 1
                logger.warning("SNMP device does not answer (logged once until it answers again)",
                               metadata: ["snmp.agent": "\(agent)", "snmp.version": "\(sample.poll.plan.version.rawValue)",
                                          "snmp.waited_seconds": "\((sample.duration * 10).rounded() / 10)"])
            }
        case .failed(let why)?:
            if failureLog[agent] == nil {
                failureLog[agent] = 1
                logger.warning("SNMP poll failed (logged once until the device answers again): \(why)",
                               metadata: ["snmp.agent": "\(agent)"])
            }
        case nil:
            break
        }
    }

    func stop() {
        queue.sync {
            timer?.cancel()
            timer = nil
            assembler.seal()
        }
    }
}
