import EstuaryRuntime
import EstuarySNMP
@testable import EstuarySNMPPoller
import Testing

/// The engine's schedule decided by a manual clock, without its thread: the test moves the
/// clock and fires the due timers. The window is 0, so a due device waits for room instead
/// of opening a session: what is tested is which device is due when.
@Suite("SNMP schedule by the clock")
struct SchedulerClockTests {
    @Test("devices fall due at their phase of the interval by the clock, and again one interval on")
    func dueTimesFollowClock() throws {
        let clock = ManualClock()
        let engine = SNMPEngine(logger: quietLogger, clock: clock)
        let metrics = SNMPPollerMetrics(registry: SelfMetrics(), instance: "clock")
        let group = engine.addGroup(SNMPEngine.GroupSettings(name: "clock", window: 0, metrics: metrics, deliver: { _ in }))
        let interval: UInt64 = 10_000_000_000
        let devices = [device(1161, community: "a", interval: 10), device(1162, community: "b", interval: 10)]
        let start = clock.monotonicNow()
        engine.replaceDevices(group: group, devices: devices, immediate: false)

        // Each device's first due time is its phase past the clock's now.
        let due = devices.map { (agent: $0.target.agent, at: start + SNMPEngine.phase(of: "\(group)/\($0.target.agent)", interval: interval)) }
            .sorted { $0.at < $1.at }
        try #require(due[0].at < due[1].at)
        #expect(engine.timers.next == due[0].at)
        func waiting() -> [String] {
            engine.groups[group].waiting.compactMap { engine.slots[$0]?.settings.target.agent }
        }

        clock.set(monotonic: due[0].at - 1)
        engine.fireDueTimers()
        #expect(waiting().isEmpty)
        clock.set(monotonic: due[0].at)
        engine.fireDueTimers()
        #expect(waiting() == [due[0].agent])
        #expect(engine.timers.next == due[1].at)
        clock.set(monotonic: due[1].at)
        engine.fireDueTimers()
        #expect(waiting() == [due[0].agent, due[1].agent])
        // Next due one interval on; the first device's cycle is still waiting then: skipped.
        #expect(engine.timers.next == due[0].at + interval)
        clock.set(monotonic: due[0].at + interval - 1)
        engine.fireDueTimers()
        #expect(metrics.skipped.count == 0)
        clock.set(monotonic: due[0].at + interval)
        engine.fireDueTimers()
        #expect(metrics.skipped.count == 1)
        #expect(metrics.polls.count == 0)
    }
}
