import Dispatch
import EstuaryRuntime
import EstuarySNMP
import Logging
import Synchronization

/// Polls one device once, outside the daemon: `estuary snmp poll`, a user's first
/// debugging step, and tests. The poll is the same full poll the daemon starts a device
/// with (every interface column, labels, the configured tables and scalars).
public enum SNMPSinglePoll {
    /// The finished poll, or nil if the engine could not start or `timeLimit` passed.
    public static func poll(_ device: SNMPDeviceSettings, timeLimit: Double = 120,
                            logger: Logger = Logger(label: "estuary.snmp")) -> SNMPPollSample? {
        var device = device
        device.interval = max(1, timeLimit)
        let engine = SNMPEngine(logger: logger)
        let result = Mutex<SNMPPollSample?>(nil)
        let done = DispatchSemaphore(value: 0)
        _ = engine.addGroup(SNMPEngine.GroupSettings(
            name: "poll", window: 1, metrics: SNMPPollerMetrics(registry: SelfMetrics(), instance: "poll"),
            deliver: { delivery in
                guard let sample = delivery.samples.first else { return }
                let first = result.withLock { current -> Bool in
                    if current != nil { return false }
                    current = sample
                    return true
                }
                if first { done.signal() }
            }))
        do {
            try engine.start()
        } catch {
            logger.error("cannot start the SNMP engine: \(error)")
            return nil
        }
        engine.setDevices(group: 0, [device], immediate: true)
        _ = done.wait(timeout: .now() + .milliseconds(Int((timeLimit + 5) * 1000)))
        engine.stop()
        return result.withLock { $0 }
    }
}
