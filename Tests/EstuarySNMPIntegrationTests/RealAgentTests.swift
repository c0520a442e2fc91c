import EstuaryModel
import EstuarySNMP
import EstuarySNMPPoller
import EstuaryTestSupport
import EstuaryWire
import Foundation
import Logging
import Testing

let quietLogger: Logger = {
    var logger = Logger(label: "estuary.tests")
    logger.logLevel = .critical
    return logger
}()

/// Polls an agent on loopback once, as the daemon's first poll of a device does.
func pollOnce(port: UInt16, credentials: SNMPCredentials, timeout: Double = 3, retries: Int = 1,
              scalars: [SNMPScalarSpec] = [], tables: [SNMPTableSpec] = []) throws -> SNMPPollSample {
    let device = SNMPDeviceSettings(target: SNMPTarget(host: "127.0.0.1", port: port), credentials: credentials,
                                    timeout: timeout, retries: retries, tables: tables, scalars: scalars)
    return try #require(SNMPSinglePoll.poll(device, timeLimit: 30, logger: quietLogger))
}

/// The points a poll becomes.
func points(_ sample: SNMPPollSample, writer: SNMPPointWriter = SNMPPointWriter(), state: SNMPDeviceState = SNMPDeviceState()) -> [Point] {
    var bytes: [UInt8] = []
    _ = writer.write(sample, state: state, into: &bytes)
    return LineProtocolParser().parse(String(decoding: bytes, as: UTF8.self)).points
}

func value(_ points: [Point], _ measurement: String, instance: String, type: String) -> Double? {
    points.first { $0.measurement == measurement && $0.tag("instance") == instance && $0.tag("type") == type }?
        .field("value")?.doubleValue
}

func v2c(_ community: String) -> SNMPCredentials { SNMPCredentials(version: .v2c, community: community) }

@Suite("SNMP against net-snmp's snmpd", .ownThreads, .serialized)
struct SNMPDaemonTests {
    static let sha = SNMPDaemon.User(name: "estuary-sha", authProtocol: "SHA", authPassword: "authpass123",
                                     privProtocol: "AES", privPassword: "privpass123")
    static let md5 = SNMPDaemon.User(name: "estuary-md5", authProtocol: "MD5", authPassword: "authpass456",
                                     privProtocol: "DES", privPassword: "privpass456")
    static let authOnly = SNMPDaemon.User(name: "estuary-auth", authProtocol: "SHA", authPassword: "authpass789")

    @Test("v1, v2c and v3 (SHA/AES, MD5/DES, auth only) all read the host's loopback interface, named after sysName")
    func versions() throws {
        let agent = try SNMPDaemon(communities: ["public"], users: [Self.sha, Self.md5, Self.authOnly])
        let variants: [(String, SNMPCredentials)] = [
            ("v1", SNMPCredentials(version: .v1, community: "public")),
            ("v2c", v2c("public")),
            ("v3 SHA/AES", SNMPCredentials(version: .v3, username: "estuary-sha", securityLevel: .authPriv, authProtocol: .sha,
                                           authPassword: "authpass123", privProtocol: .aes, privPassword: "privpass123")),
            ("v3 MD5/DES", SNMPCredentials(version: .v3, username: "estuary-md5", securityLevel: .authPriv, authProtocol: .md5,
                                           authPassword: "authpass456", privProtocol: .des, privPassword: "privpass456")),
            ("v3 auth only", SNMPCredentials(version: .v3, username: "estuary-auth", securityLevel: .authNoPriv, authProtocol: .sha,
                                             authPassword: "authpass789")),
        ]
        for (label, credentials) in variants {
            let sample = try pollOnce(port: agent.port, credentials: credentials)
            #expect(sample.poll.outcome == .complete, "\(label): \(String(describing: sample.poll.outcome))")
            let found = points(sample)
            #expect(value(found, "interface_rx", instance: "lo", type: "if_octets") != nil, "\(label)")
            #expect(found.first { $0.measurement == "interface_tx" }?.tag("host") == "snmpd-under-test", "\(label)")
            let status = found.first { $0.measurement == "snmp_device" }
            #expect(status?.field("up") == .integer(1), "\(label)")
            if credentials.version == .v1 {
                // SNMPv1 cannot carry Counter64: not asked for.
                #expect(!sample.poll.main.columns.contains(IFMIB.Column.ifHCInOctets.oid))
            }
        }
    }

    @Test("an agent on IPv6 loopback ([::1]:port)")
    func ipv6() throws {
        let agent = try SNMPDaemon(ipv6: true)
        let device = SNMPDeviceSettings(target: try SNMPTargetList.address("[::1]:\(agent.port)"), credentials: v2c("public"),
                                        timeout: 3, retries: 1)
        let sample = try #require(SNMPSinglePoll.poll(device, timeLimit: 30, logger: quietLogger))
        #expect(sample.poll.outcome == .complete)
        #expect(sample.device.agent == "[::1]:\(agent.port)")
        #expect(value(points(sample), "interface_rx", instance: "lo", type: "if_octets") != nil)
    }

    @Test("a v1-only device: SNMPv1 polls it (32-bit counters), v2c gets no answer and says so")
    func v1Only() throws {
        let agent = try SNMPDaemon(communities: [], v1OnlyCommunities: ["oldie"])
        let v1 = try pollOnce(port: agent.port, credentials: SNMPCredentials(version: .v1, community: "oldie"))
        #expect(v1.poll.outcome == .complete)
        let found = points(v1)
        #expect(value(found, "interface_rx", instance: "lo", type: "if_octets") != nil)
        #expect(!v1.poll.main.columns.contains(IFMIB.Column.ifHCInOctets.oid))
        let v2 = try pollOnce(port: agent.port, credentials: v2c("oldie"), timeout: 0.3, retries: 0)
        #expect(v2.poll.outcome == .timeout)
        #expect(points(v2).first { $0.measurement == "snmp_device" }?.field("up") == .integer(0))
    }

    @Test("v3 refusals say why: a wrong password, an unknown user; nothing is written for the device but its status")
    func refusals() throws {
        let agent = try SNMPDaemon(users: [Self.sha])
        let wrongPassword = try pollOnce(port: agent.port, credentials: SNMPCredentials(
            version: .v3, username: "estuary-sha", securityLevel: .authPriv, authProtocol: .sha, authPassword: "wrongpass1",
            privProtocol: .aes, privPassword: "privpass123"))
        guard case .failed(let why)? = wrongPassword.poll.outcome else {
            Issue.record("expected a failure, got \(String(describing: wrongPassword.poll.outcome))")
            return
        }
        #expect(why.contains("usmStatsWrongDigests"))
        let unknown = try pollOnce(port: agent.port, credentials: SNMPCredentials(
            version: .v3, username: "nobody", securityLevel: .authNoPriv, authProtocol: .sha, authPassword: "authpass123"))
        guard case .failed(let reason)? = unknown.poll.outcome else {
            Issue.record("expected a failure, got \(String(describing: unknown.poll.outcome))")
            return
        }
        #expect(reason.contains("usmStatsUnknownUserNames"))
        let found = points(unknown)
        #expect(found.map(\.measurement) == ["snmp_device"])
        #expect(found.first?.field("up") == .integer(1))  // it answered, with a refusal
        #expect(found.first?.field("errors") == .integer(1))
    }
}

@Suite("SNMP against a recorded 48-port switch (snmpsim)", .ownThreads)
struct RecordedSwitchTests {
    let recording = Fixtures.switch48

    @Test("v2c: every interface in the collectd schema, 64-bit counters, values exactly as recorded")
    func v2cSwitch() throws {
        let simulator = try SNMPSimulator(devices: ["switch48": recording.text])
        let sample = try pollOnce(port: simulator.port, credentials: v2c("switch48"))
        #expect(sample.poll.outcome == .complete)
        let found = points(sample)
        let host = try #require(recording.value("1.3.6.1.2.1.1.5.0"))
        #expect(Set(found.filter { $0.measurement == "interface_rx" }.map { $0.tag("host") }) == [host])
        let instances = Set(found.filter { $0.measurement == "snmp_interface" }.compactMap { $0.tag("instance") })
        #expect(instances.count == 52)
        #expect(instances.filter { $0.hasPrefix("Gi1/0/") }.count == 48)
        for port in [3, 17, 48, 101] {
            let name = try #require(recording.value("1.3.6.1.2.1.31.1.1.1.1.\(port)"))
            func recorded(_ column: Int) -> Double { Double(recording.value("1.3.6.1.2.1.31.1.1.1.\(column).\(port)") ?? "") ?? -1 }
            #expect(value(found, "interface_rx", instance: name, type: "if_octets") == recorded(6))
            #expect(value(found, "interface_tx", instance: name, type: "if_octets") == recorded(10))
            #expect(value(found, "interface_rx", instance: name, type: "if_packets") == recorded(7) + recorded(8) + recorded(9))
            #expect(value(found, "interface_tx", instance: name, type: "if_packets") == recorded(11) + recorded(12) + recorded(13))
            let errors = Double(recording.value("1.3.6.1.2.1.2.2.1.14.\(port)") ?? "")
            #expect(value(found, "interface_rx", instance: name, type: "if_errors") == errors)
            let status = found.first { $0.measurement == "snmp_interface" && $0.tag("instance") == name }
            #expect(status?.field("alias") == recording.value("1.3.6.1.2.1.31.1.1.1.18.\(port)").flatMap { $0.isEmpty ? nil : .string($0) })
            #expect(status?.field("ifindex") == .integer(Int64(port)))
        }
    }

    @Test("v1: GETNEXT walks, 32-bit counters (no Counter64 in v1), the same interface names")
    func v1Switch() throws {
        let simulator = try SNMPSimulator(devices: ["switch48": recording.text])
        let sample = try pollOnce(port: simulator.port, credentials: SNMPCredentials(version: .v1, community: "switch48"))
        #expect(sample.poll.outcome == .complete)
        let found = points(sample)
        let name = try #require(recording.value("1.3.6.1.2.1.31.1.1.1.1.3"))
        #expect(value(found, "interface_rx", instance: name, type: "if_octets") == Double(recording.value("1.3.6.1.2.1.2.2.1.10.3") ?? ""))
        #expect(found.filter { $0.measurement == "snmp_interface" }.count == 52)
    }

    @Test("a device without ifXTable: instances are ifDescr, counters the 32-bit ones")
    func withoutExtensionTable() throws {
        var old = recording
        old.remove(under: "1.3.6.1.2.1.31")
        let simulator = try SNMPSimulator(devices: ["old": old.text])
        let sample = try pollOnce(port: simulator.port, credentials: v2c("old"))
        #expect(sample.poll.outcome == .complete)
        let found = points(sample)
        let descr = try #require(recording.value("1.3.6.1.2.1.2.2.1.2.5"))
        #expect(value(found, "interface_rx", instance: descr, type: "if_octets") == Double(recording.value("1.3.6.1.2.1.2.2.1.10.5") ?? ""))
        #expect(value(found, "interface_rx", instance: descr, type: "if_packets")
                == Double(recording.value("1.3.6.1.2.1.2.2.1.11.5") ?? "")! + Double(recording.value("1.3.6.1.2.1.2.2.1.12.5") ?? "")!)
    }

    @Test("the Telegraf schema: one interface point per row with MIB names as fields")
    func telegrafSwitch() throws {
        let simulator = try SNMPSimulator(devices: ["switch48": recording.text])
        let sample = try pollOnce(port: simulator.port, credentials: v2c("switch48"))
        let found = points(sample, writer: SNMPPointWriter(schema: .telegraf)).filter { $0.measurement == "interface" }
        #expect(found.count == 52)
        let port3 = found.first { $0.tag("ifIndex") == "3" }
        #expect(port3?.tag("ifName") == recording.value("1.3.6.1.2.1.31.1.1.1.1.3"))
        #expect(port3?.tag("agent_host") == "127.0.0.1:\(simulator.port)")
        #expect(port3?.field("ifHCInOctets") == Int64(recording.value("1.3.6.1.2.1.31.1.1.1.6.3") ?? "").map { .integer($0) })
    }

    @Test("noSuchObject and endOfMibView: a missing scalar is left out, a table past the end of the MIB gives nothing, the poll completes")
    func exceptions() throws {
        let simulator = try SNMPSimulator(devices: ["switch48": recording.text])
        let scalars = SNMPScalarSpec(measurement: "system", fields: [
            SNMPNamedObject(name: "services", oid: "1.3.6.1.2.1.1.7.0"),
            SNMPNamedObject(name: "missing", oid: "1.3.6.1.2.1.1.99.0"),
        ])
        let tables = [SNMPTableSpec(measurement: "beyond", fields: [SNMPNamedObject(name: "x", oid: "1.3.6.1.4.1.99999.1.1")])]
        let sample = try pollOnce(port: simulator.port, credentials: v2c("switch48"), scalars: [scalars], tables: tables)
        #expect(sample.poll.outcome == .complete)
        let found = points(sample)
        let system = found.first { $0.measurement == "system" }
        #expect(system?.field("services") == Int64(recording.value("1.3.6.1.2.1.1.7.0") ?? "").map { .integer($0) })
        #expect(system?.field("missing") == nil)
        #expect(!found.contains { $0.measurement == "beyond" })
    }
}

@Suite("SNMP timing against real agents", .ownThreads)
struct SNMPTimingTests {
    @Test("a dead device: the poll ends after timeout × (retries + 1), up=0, error timeout")
    func deadDevice() throws {
        let silent = try SilentUDPPeer()
        let started = Date()
        let sample = try pollOnce(port: silent.port, credentials: v2c("public"), timeout: 0.3, retries: 1)
        let elapsed = Date().timeIntervalSince(started)
        #expect(sample.poll.outcome == .timeout)
        #expect(sample.duration >= 0.55 && sample.duration < 1.5, "duration \(sample.duration)")
        #expect(elapsed < 3)
        let status = points(sample).first { $0.measurement == "snmp_device" }
        #expect(status?.field("up") == .integer(0))
        #expect(status?.field("error") == .string("timeout"))
    }

    @Test("a slow device (0.7 s per answer to its first request) completes within its timeout, and the poll says how long it took")
    func slowDevice() throws {
        var slow = Fixtures.switch48
        let upTime = slow.value("1.3.6.1.2.1.1.3.0") ?? "1"
        // 0.7 s for an answer that includes sysUpTime (the first request). (snmpsim serves
        // requests one at a time and sends its answers in bursts, so a retransmission would
        // only delay the answer: the timeout is longer than the delay.)
        slow.set("1.3.6.1.2.1.1.3.0", tag: "67:delay", value: "value=\(upTime),wait=700")
        let simulator = try SNMPSimulator(devices: ["slow": slow.text])
        let sample = try pollOnce(port: simulator.port, credentials: v2c("slow"), timeout: 1.5, retries: 0)
        #expect(sample.poll.outcome == .complete)
        #expect(sample.duration > 0.65)
        #expect(points(sample).contains { $0.measurement == "interface_rx" })
    }
}

@Suite("SNMP discontinuities with a real agent that changes between polls", .ownThreads)
struct AgentChangeTests {
    let writer = SNMPPointWriter(rates: true)

    /// Polls the simulator, restarts it with `after`, polls again; returns the second poll's
    /// points, its report and both samples.
    func twoPolls(_ before: SNMPRecording, _ after: SNMPRecording, version: SNMPVersion = .v2c)
        throws -> (points: [Point], report: SNMPWriteReport, first: SNMPPollSample, second: SNMPPollSample) {
        let simulator = try SNMPSimulator(devices: ["dev": before.text])
        let credentials = SNMPCredentials(version: version, community: "dev")
        let state = SNMPDeviceState()
        let first = try pollOnce(port: simulator.port, credentials: credentials)
        #expect(first.poll.outcome == .complete)
        var bytes: [UInt8] = []
        _ = writer.write(first, state: state, into: &bytes)
        try simulator.start(devices: ["dev": after.text])
        let second = try pollOnce(port: simulator.port, credentials: credentials)
        #expect(second.poll.outcome == .complete)
        bytes.removeAll()
        let report = writer.write(second, state: state, into: &bytes)
        return (LineProtocolParser().parse(String(decoding: bytes, as: UTF8.self)).points, report, first, second)
    }

    @Test("32-bit counter wrap on a 100 Mb/s port (v1): the rate across the wrap, no spike")
    func wrap() throws {
        var before = Fixtures.switch48
        before.set("1.3.6.1.2.1.2.2.1.10.3", tag: "65", value: "\(UInt32.max - 999)")
        before.set("1.3.6.1.2.1.31.1.1.1.15.3", tag: "66", value: "100")
        var after = before
        after.set("1.3.6.1.2.1.2.2.1.10.3", tag: "65", value: "5000")
        after.set("1.3.6.1.2.1.1.3.0", tag: "67", value: "\((UInt64(before.value("1.3.6.1.2.1.1.3.0") ?? "0") ?? 0) + 500)")
        let (found, _, first, second) = try twoPolls(before, after, version: .v1)
        let name = try #require(before.value("1.3.6.1.2.1.31.1.1.1.1.3"))
        let seconds = Double(second.monotonic - first.monotonic) / 1e9
        let rate = try #require(value(found, "interface_rx", instance: name, type: "if_octets"))
        #expect(abs(rate - 6000 / seconds) < 1e-6 * rate)
    }

    @Test("the agent rebooted (sysUpTime went back, counters restarted): no rates at all for that poll")
    func reboot() throws {
        let before = Fixtures.switch48
        var after = before
        after.set("1.3.6.1.2.1.1.3.0", tag: "67", value: "1200")
        for port in 1...48 { after.set("1.3.6.1.2.1.31.1.1.1.6.\(port)", tag: "70", value: "\(port)") }
        let (found, report, _, _) = try twoPolls(before, after)
        #expect(!found.contains { $0.measurement.hasPrefix("interface_") })
        #expect(report.rateGaps[.agentRestart, default: 0] > 0)
    }

    @Test("ifIndex renumbered without a reboot: the names follow their new ifIndex, no rate across the change")
    func renumbered() throws {
        let before = Fixtures.switch48
        var after = before
        let name3 = try #require(before.value("1.3.6.1.2.1.31.1.1.1.1.3"))
        let name4 = try #require(before.value("1.3.6.1.2.1.31.1.1.1.1.4"))
        after.set("1.3.6.1.2.1.31.1.1.1.1.3", tag: "4", value: name4)
        after.set("1.3.6.1.2.1.31.1.1.1.1.4", tag: "4", value: name3)
        after.set("1.3.6.1.2.1.1.3.0", tag: "67", value: "\((UInt64(before.value("1.3.6.1.2.1.1.3.0") ?? "0") ?? 0) + 500)")
        let (found, report, _, _) = try twoPolls(before, after)
        #expect(report.rateGaps[.sourceChanged, default: 0] >= 2)
        // Interfaces that kept their ifIndex get rates (zero: the recording does not move).
        let name5 = try #require(before.value("1.3.6.1.2.1.31.1.1.1.1.5"))
        #expect(value(found, "interface_rx", instance: name5, type: "if_octets") == 0)
        #expect(value(found, "interface_rx", instance: name3, type: "if_octets") == nil)
        let status3 = found.first { $0.measurement == "snmp_interface" && $0.tag("instance") == name3 }
        #expect(status3?.field("ifindex") == .integer(4))
    }
}
