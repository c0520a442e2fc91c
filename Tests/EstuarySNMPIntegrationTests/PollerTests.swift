import EstuaryModel
import EstuaryPipeline
import EstuaryRuntime
import EstuarySNMP
import EstuarySNMPPoller
import EstuaryTestSupport
import EstuaryWire
import Foundation
import Synchronization
import Testing

/// An output that keeps every batch (what the poller hands the pipeline).
final class CaptureOutput: PipelineOutput {
    let name = "capture"
    private let texts = Mutex<[String]>([])

    func enqueue(_ batch: LineProtocolBatch) {
        texts.withLock { $0.append(String(decoding: batch.bytes, as: UTF8.self)) }
    }

    func drain(until deadline: UInt64) -> PipelineOutputReport {
        PipelineOutputReport(unsentBatches: 0, unsentLines: 0)
    }

    var points: [Point] { LineProtocolParser().parse(texts.withLock { $0.joined() }).points }

    /// The status points of `agent`, oldest first.
    func statuses(_ agent: String) -> [Point] {
        points.filter { $0.measurement == "snmp_device" && $0.tag("agent_host") == agent }.sorted { $0.timestamp < $1.timestamp }
    }

    @discardableResult
    func wait(timeout: Double, until condition: (CaptureOutput) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition(self) { return true }
            usleep(50_000)
        }
        return condition(self)
    }
}

/// A poller with one input over `devices`, writing to a capture.
func startPoller(_ devices: [SNMPDeviceSettings], window: Int = 100, metrics: SelfMetrics = SelfMetrics())
    throws -> (SNMPPoller, CaptureOutput) {
    let capture = CaptureOutput()
    let router = Router(outputs: [capture], metrics: metrics)
    let poller = SNMPPoller(inputs: [SNMPInputSettings(name: "snmp", devices: devices, window: window)], batchLines: 100,
                            batchInterval: 0.05, metrics: metrics, logger: quietLogger)
    try poller.start(router: router)
    return (poller, capture)
}

func device(_ port: UInt16, community: String, interval: Double, timeout: Double = 0.3, retries: Int = 1, rates: Bool = false) -> SNMPDeviceSettings {
    SNMPDeviceSettings(target: SNMPTarget(host: "127.0.0.1", port: port), credentials: v2c(community), interval: interval,
                       timeout: timeout, retries: retries, rates: rates)
}

func number(_ point: Point, _ field: String) -> Double { point.field(field)?.doubleValue ?? -1 }

@Suite("the SNMP poller's schedule", .ownThreads)
struct PollerScheduleTests {
    @Test("a dead and a slow device cost only themselves: the healthy device is polled on time, every interval")
    func isolation() throws {
        let recording = Fixtures.switch48
        var slow = recording
        slow.set("1.3.6.1.2.1.1.3.0", tag: "67:delay", value: "value=100,wait=500")
        let healthy = try SNMPSimulator(devices: ["fast": recording.text])
        let slowAgent = try SNMPSimulator(devices: ["slow": slow.text])
        let dead = try SilentUDPPeer()
        let (poller, capture) = try startPoller([
            device(healthy.port, community: "fast", interval: 1),
            // Answers its first request after 0.5 s.
            device(slowAgent.port, community: "slow", interval: 2, timeout: 0.9, retries: 0),
            // Its first poll tries twice (0.6 s each): the interval leaves room for that.
            device(dead.port, community: "public", interval: 2, timeout: 0.3, retries: 1),
        ])
        defer { poller.stop() }
        let fast = "127.0.0.1:\(healthy.port)"
        capture.wait(timeout: 10) { $0.statuses(fast).count >= 4 && $0.statuses("127.0.0.1:\(dead.port)").count >= 2 }
        let polls = capture.statuses(fast)
        #expect(polls.count >= 4)
        for poll in polls {
            #expect(poll.field("up") == .integer(1))
            // Within its interval. (How long snmpsim, a Python program, takes to answer depends
            // on the machine's load; what shows isolation is the start delay and the spacing.)
            #expect(number(poll, "duration") < 0.9, "healthy poll took \(number(poll, "duration")) s")
            #expect(number(poll, "start_delay") < 0.2)
            #expect(poll.field("late") == .integer(0))
        }
        // One interval apart (the clock of the first answer), not stretched by the others.
        for (a, b) in zip(polls, polls.dropFirst()) {
            let gap = Double(b.timestamp - a.timestamp) / 1e9
            #expect(gap > 0.7 && gap < 1.3, "gap \(gap)")
        }
        let deadPolls = capture.statuses("127.0.0.1:\(dead.port)")
        #expect(deadPolls.allSatisfy { $0.field("up") == .integer(0) && $0.field("error") == .string("timeout") })
        let slowPolls = capture.statuses("127.0.0.1:\(slowAgent.port)")
        #expect(slowPolls.contains { $0.field("up") == .integer(1) })
    }

    @Test("a cycle that cannot finish in its interval is ended and counted late, never stretched into the next")
    func late() throws {
        let metrics = SelfMetrics()
        let dead = try SilentUDPPeer()
        // 0.5 s × 3 transmissions > the 1 s interval: every poll runs out of time.
        let (poller, capture) = try startPoller([device(dead.port, community: "public", interval: 1, timeout: 0.5, retries: 2)],
                                                metrics: metrics)
        defer { poller.stop() }
        capture.wait(timeout: 8) { $0.statuses("127.0.0.1:\(dead.port)").count >= 3 }
        let polls = capture.statuses("127.0.0.1:\(dead.port)")
        #expect(polls.count >= 3)
        for poll in polls {
            #expect(poll.field("late") == .integer(1))
            #expect(number(poll, "duration") <= 1.1, "a poll ran \(number(poll, "duration")) s in a 1 s interval")
        }
        let late = metrics.counter("estuary_snmp", "late", [("instance", "snmp")]).count
        #expect(late >= 3)
    }

    @Test("the window bounds polls in flight: the rest wait their turn and say how long they waited")
    func window() throws {
        let recording = Fixtures.switch48
        var slow = recording
        slow.set("1.3.6.1.2.1.1.3.0", tag: "67:delay", value: "value=100,wait=400")
        let slowAgent = try SNMPSimulator(devices: ["slow": slow.text])
        let healthy = try SNMPSimulator(devices: ["fast": recording.text])
        let devices = [device(slowAgent.port, community: "slow", interval: 2, timeout: 1, retries: 0),
                       device(healthy.port, community: "fast", interval: 2)]
        let (poller, capture) = try startPoller(devices, window: 1)
        defer { poller.stop() }
        capture.wait(timeout: 10) {
            $0.statuses("127.0.0.1:\(healthy.port)").count >= 2 && $0.statuses("127.0.0.1:\(slowAgent.port)").count >= 2
        }
        let fastPolls = capture.statuses("127.0.0.1:\(healthy.port)")
        #expect(fastPolls.count >= 2)
        let slowPolls = capture.statuses("127.0.0.1:\(slowAgent.port)")
        #expect(slowPolls.count >= 2, "\(slowPolls.map { "\($0.fields)" })")
    }
}

@Suite("reloading the SNMP device list", .ownThreads)
struct PollerReloadTests {
    @Test("unchanged devices keep their state (rates go on), added ones start, removed ones stop")
    func reload() throws {
        let recording = Fixtures.switch48
        var other = recording
        other.set("1.3.6.1.2.1.1.5.0", tag: "4", value: "other-sw")
        var third = recording
        third.set("1.3.6.1.2.1.1.5.0", tag: "4", value: "third-sw")
        let a = try SNMPSimulator(devices: ["a": recording.text])
        let b = try SNMPSimulator(devices: ["b": other.text])
        let c = try SNMPSimulator(devices: ["c": third.text])
        let kept = device(a.port, community: "a", interval: 1, rates: true)
        let (poller, capture) = try startPoller([kept, device(b.port, community: "b", interval: 1, rates: true)])
        defer { poller.stop() }
        let agentA = "127.0.0.1:\(a.port)", agentB = "127.0.0.1:\(b.port)", agentC = "127.0.0.1:\(c.port)"
        #expect(capture.wait(timeout: 8) { $0.statuses(agentA).count >= 2 && $0.statuses(agentB).count >= 1 })

        let reloadedAt = Int64(Date().timeIntervalSince1970 * 1e9)
        poller.reload(input: "snmp", devices: [kept, device(c.port, community: "c", interval: 1, rates: true)])
        #expect(capture.wait(timeout: 8) { capture in
            capture.statuses(agentA).filter { $0.timestamp > reloadedAt }.count >= 1 && capture.statuses(agentC).count >= 1
        })
        // One more interval, as the kept device's next poll shows: all devices have the same
        // 1 s interval, so a removed one that still ran would have been polled in between.
        #expect(capture.wait(timeout: 8) { $0.statuses(agentA).filter { $0.timestamp > reloadedAt }.count >= 2 },
                "waited 8 s for a second poll of the kept device after the reload")
        let points = capture.points
        // A's first poll after the reload has rates: its previous counters were kept.
        let firstAfter = try #require(capture.statuses(agentA).first { $0.timestamp > reloadedAt })
        let rates = points.filter { $0.measurement == "interface_rx" && $0.tag("host") == recording.value("1.3.6.1.2.1.1.5.0")
            && $0.timestamp == firstAfter.timestamp }
        #expect(rates.count > 0)
        #expect(rates.allSatisfy { $0.field("value") == .float(0) })
        // B stopped (a poll in flight at the reload may still land, none after that).
        #expect(capture.statuses(agentB).filter { $0.timestamp > reloadedAt + 500_000_000 }.isEmpty)
        #expect(capture.statuses(agentC).count >= 1)
        // C's first poll is a first sample: no rates yet, the status says it answered.
        #expect(capture.statuses(agentC).first?.field("up") == .integer(1))
    }
}
