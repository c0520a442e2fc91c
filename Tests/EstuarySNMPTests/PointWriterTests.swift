import EstuaryModel
import EstuarySNMP
import EstuaryWire
import Foundation
import Testing

/// One interface of a simulated agent: the IF-MIB values it has (nil: the agent lacks it).
struct SimulatedInterface {
    var index: UInt
    var name: String?
    var descr: String = "GigabitEthernet0/1"
    var alias: String = ""
    var highSpeed: UInt32? = 1000
    var speed: UInt32 = 1_000_000_000
    var admin: Int64 = 1
    var oper: Int64 = 1
    var hc: [IFMIB.Column: UInt64] = [:]
    var legacy: [IFMIB.Column: UInt32] = [:]
    var discontinuity: UInt32? = nil
}

/// The MIB view of an agent with these interfaces.
func agent(_ interfaces: [SimulatedInterface], upTime: UInt32, sysName: String = "edge-sw1") -> MIBView {
    var objects: [(SNMPObjectIdentifier, SNMPValue)] = [
        (IFMIB.sysUpTime, .timeTicks(upTime)), (IFMIB.sysName, .octets(Array(sysName.utf8))),
        (IFMIB.ifNumber, .integer(Int64(interfaces.count))),
    ]
    for i in interfaces {
        func add(_ column: IFMIB.Column, _ value: SNMPValue) { objects.append((column.oid.appending([i.index]), value)) }
        add(.ifDescr, .octets(Array(i.descr.utf8)))
        add(.ifSpeed, .gauge32(i.speed))
        add(.ifAdminStatus, .integer(i.admin))
        add(.ifOperStatus, .integer(i.oper))
        for (column, value) in i.legacy { add(column, .counter32(value)) }
        if let name = i.name {
            add(.ifName, .octets(Array(name.utf8)))
            add(.ifAlias, .octets(Array(i.alias.utf8)))
            if let high = i.highSpeed { add(.ifHighSpeed, .gauge32(high)) }
            for (column, value) in i.hc { add(column, .counter64(value)) }
            if let d = i.discontinuity { add(.ifCounterDiscontinuityTime, .timeTicks(d)) }
        }
    }
    return MIBView(objects)
}

/// Polls `mib` the way the poller's full poll does and returns the sample.
func sample(_ mib: MIBView, version: SNMPVersion = .v2c, rates: Bool = false, monotonic: UInt64 = 1_000_000_000_000,
            timestamp: Int64 = 1_700_000_000_000_000_000, name: String? = nil) -> SNMPPollSample {
    var poll = DevicePoll(plan: DevicePollPlan(version: version, scalars: IFMIB.scalars,
                                               columns: InterfaceColumns.full(version: version, rates: rates).map(\.oid)))
    run(&poll, mib: mib, v1: version == .v1)
    return SNMPPollSample(device: SNMPDeviceIdentity(agent: "192.0.2.7", name: name), poll: poll, timestamp: timestamp,
                          monotonic: monotonic, duration: 0.01)
}

func lines(_ sample: SNMPPollSample, writer: SNMPPointWriter = SNMPPointWriter(), state: SNMPDeviceState = SNMPDeviceState()) -> [String] {
    var bytes: [UInt8] = []
    _ = writer.write(sample, state: state, into: &bytes)
    return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
}

@Suite("SNMP points: the collectd schema")
struct CollectdSchemaTests {
    let port = SimulatedInterface(index: 3, name: "Gi1/0/3", descr: "GigabitEthernet1/0/3", alias: "uplink to core",
                                  hc: [.ifHCInOctets: 5_000_000_000_000, .ifHCOutOctets: 7_000,
                                       .ifHCInUcastPkts: 100, .ifHCInMulticastPkts: 20, .ifHCInBroadcastPkts: 3,
                                       .ifHCOutUcastPkts: 50, .ifHCOutMulticastPkts: 5, .ifHCOutBroadcastPkts: 1],
                                  legacy: [.ifInOctets: 1, .ifOutOctets: 2, .ifInUcastPkts: 3, .ifInNUcastPkts: 4,
                                           .ifOutUcastPkts: 5, .ifOutNUcastPkts: 6, .ifInErrors: 7, .ifOutErrors: 8,
                                           .ifInDiscards: 9, .ifOutDiscards: 10])

    @Test("an interface is what collectd's interface plugin sends for a Linux host, 64-bit counters preferred, packets of every cast summed")
    func interfaceLines() {
        let output = lines(sample(agent([port], upTime: 100)))
        let t = 1_700_000_000_000_000_000
        #expect(Array(output.prefix(8)) == [
            "interface_rx,host=edge-sw1,instance=Gi1/0/3,type=if_octets value=5000000000000 \(t)",
            "interface_tx,host=edge-sw1,instance=Gi1/0/3,type=if_octets value=7000 \(t)",
            "interface_rx,host=edge-sw1,instance=Gi1/0/3,type=if_packets value=123 \(t)",
            "interface_tx,host=edge-sw1,instance=Gi1/0/3,type=if_packets value=56 \(t)",
            "interface_rx,host=edge-sw1,instance=Gi1/0/3,type=if_errors value=7 \(t)",
            "interface_tx,host=edge-sw1,instance=Gi1/0/3,type=if_errors value=8 \(t)",
            "interface_rx,host=edge-sw1,instance=Gi1/0/3,type=if_dropped value=9 \(t)",
            "interface_tx,host=edge-sw1,instance=Gi1/0/3,type=if_dropped value=10 \(t)",
        ])
        #expect(output[8] == "snmp_interface,host=edge-sw1,instance=Gi1/0/3 ifindex=3i,admin_status=1i,oper_status=1i,speed=1000000000i,"
                + "descr=\"GigabitEthernet1/0/3\",alias=\"uplink to core\" \(t)")
        #expect(output[9].hasPrefix("snmp_device,agent_host=192.0.2.7,host=edge-sw1 up=1i,"))
        #expect(output.count == 10)
    }

    @Test("the configured name wins over sysName for the host tag")
    func configuredName() {
        let output = lines(sample(agent([port], upTime: 100), name: "core sw,1"))
        #expect(output[0].hasPrefix("interface_rx,host=core\\ sw\\,1,instance=Gi1/0/3,"))
    }

    @Test("no ifXTable: 32-bit counters, the instance is ifDescr; unicast and non-unicast packets summed")
    func noExtensionTable() {
        var old = port
        old.name = nil
        let output = lines(sample(agent([old], upTime: 100)))
        #expect(output[0].hasPrefix("interface_rx,host=edge-sw1,instance=GigabitEthernet1/0/3,type=if_octets value=1 "))
        #expect(output[2].hasPrefix("interface_rx,host=edge-sw1,instance=GigabitEthernet1/0/3,type=if_packets value=7 "))
        #expect(output[3].hasPrefix("interface_tx,host=edge-sw1,instance=GigabitEthernet1/0/3,type=if_packets value=11 "))
    }

    @Test("names used twice get their ifIndex; an interface without any name is ifIndex<N>")
    func duplicateAndMissingNames() {
        var a = port
        a.index = 1
        a.name = "mgmt"
        var b = port
        b.index = 2
        b.name = "mgmt"
        var c = port
        c.index = 9
        c.name = ""
        c.descr = ""
        let output = lines(sample(agent([a, b, c], upTime: 100)))
        let instances = Set(output.compactMap { line -> String? in
            guard line.hasPrefix("interface_rx"), let range = line.range(of: "instance=") else { return nil }
            return String(line[range.upperBound...].prefix { $0 != "," })
        })
        #expect(instances == ["mgmt-1", "mgmt-2", "ifIndex9"])
    }

    @Test("a device that did not answer gives only its status point: up=0 and why")
    func deadDevice() {
        var poll = DevicePoll(plan: DevicePollPlan(version: .v2c, scalars: IFMIB.scalars, columns: [IFMIB.Column.ifHCInOctets.oid]))
        _ = poll.start()
        _ = poll.timedOut()
        _ = poll.timedOut()
        let output = lines(SNMPPollSample(device: SNMPDeviceIdentity(agent: "192.0.2.9:1161"), poll: poll, timestamp: 5,
                                          monotonic: 1, duration: 4))
        #expect(output == ["snmp_device,agent_host=192.0.2.9:1161,host=192.0.2.9:1161 up=0i,duration=4,start_delay=0,late=0i,"
                           + "requests=2i,varbinds=0i,interfaces=0i,max_repetitions=2i,error=\"timeout\",timeouts=1i,errors=0i 5"])
    }
}

@Suite("SNMP points: the Telegraf schema")
struct TelegrafSchemaTests {
    @Test("measurement interface, MIB names as fields, tags agent_host, hostname, ifIndex, ifName")
    func telegraf() {
        let port = SimulatedInterface(index: 3, name: "Gi1/0/3", descr: "GigabitEthernet1/0/3",
                                      hc: [.ifHCInOctets: UInt64.max, .ifHCOutOctets: 7])
        let output = lines(sample(agent([port], upTime: 100)), writer: SNMPPointWriter(schema: .telegraf))
        let points = LineProtocolParser().parse(output.joined(separator: "\n") + "\n").points
        let interface = points.first { $0.measurement == "interface" }
        #expect(interface?.tags.map(\.key) == ["agent_host", "hostname", "ifIndex", "ifName"])
        #expect(interface?.tag("hostname") == "edge-sw1")
        #expect(interface?.tag("ifIndex") == "3")
        #expect(interface?.field("ifHCOutOctets") == .integer(7))
        // Counter64 above 2^63-1 is clamped, so the field stays an integer.
        #expect(interface?.field("ifHCInOctets") == .integer(Int64.max))
        #expect(interface?.field("ifDescr") == .string("GigabitEthernet1/0/3"))
        #expect(interface?.field("ifOperStatus") == .integer(1))
        #expect(points.contains { $0.measurement == "snmp_device" && $0.tag("agent_host") == "192.0.2.7" })
    }
}

@Suite("SNMP rates")
struct RateTests {
    let writer = SNMPPointWriter(rates: true)
    let minute: UInt64 = 60_000_000_000

    func rateLines(_ first: MIBView, _ second: MIBView, seconds: UInt64 = 60, version: SNMPVersion = .v2c) -> (lines: [String], report: SNMPWriteReport) {
        let state = SNMPDeviceState()
        var bytes: [UInt8] = []
        let one = writer.write(sample(first, version: version, rates: true, monotonic: 1_000_000_000_000), state: state, into: &bytes)
        #expect(one.rateGaps[.firstSample, default: 0] > 0)
        bytes.removeAll()
        let report = writer.write(sample(second, version: version, rates: true, monotonic: 1_000_000_000_000 + seconds * 1_000_000_000),
                                  state: state, into: &bytes)
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
        return (lines.filter { $0.hasPrefix("interface_") }, report)
    }

    func octetsIn(_ lines: [String]) -> Double? {
        lines.first { $0.hasPrefix("interface_rx") && $0.contains("type=if_octets") }
            .flatMap { Double($0.split(separator: " ")[1].dropFirst("value=".count)) }
    }

    @Test("64-bit counters: bytes per second over the interval")
    func hcRate() {
        let a = SimulatedInterface(index: 1, name: "Te1", highSpeed: 10_000, hc: [.ifHCInOctets: 1_000_000, .ifHCOutOctets: 0])
        var b = a
        b.hc[.ifHCInOctets] = 1_000_000 + 60 * 125_000_000  // 1 Gb/s for a minute
        let (lines, report) = rateLines(agent([a], upTime: 1000), agent([b], upTime: 7000))
        #expect(octetsIn(lines) == 125_000_000)
        #expect(report.rateGaps.isEmpty)
    }

    @Test("a 32-bit counter that wrapped once on a 100 Mb/s port: the rate across the wrap")
    func wrap32() {
        let a = SimulatedInterface(index: 1, name: nil, highSpeed: nil, speed: 100_000_000,
                                   legacy: [.ifInOctets: UInt32.max - 999, .ifOutOctets: 0])
        var b = a
        b.legacy[.ifInOctets] = 5000  // 1,000 bytes to the wrap, then 5,000
        let (lines, report) = rateLines(agent([a], upTime: 1000), agent([b], upTime: 7000), version: .v1)
        #expect(octetsIn(lines) == 6000.0 / 60)
        #expect(report.rateGaps[.counterReset] == nil)
    }

    @Test("a 32-bit counter that went back on a 10 Gb/s port cannot be told from a reset: no rate, no spike")
    func ambiguous32() {
        let a = SimulatedInterface(index: 1, name: nil, highSpeed: nil, speed: UInt32.max, legacy: [.ifInOctets: 4_000_000_000])
        var b = a
        b.legacy[.ifInOctets] = 100
        let (lines, report) = rateLines(agent([a], upTime: 1000), agent([b], upTime: 7000), version: .v1)
        #expect(octetsIn(lines) == nil)
        #expect(report.rateGaps[.counterReset] == 1)
    }

    @Test("a 64-bit counter that went back is a reset: no rate")
    func reset64() {
        let a = SimulatedInterface(index: 1, name: "Te1", hc: [.ifHCInOctets: 9_000_000])
        var b = a
        b.hc[.ifHCInOctets] = 10
        let (lines, report) = rateLines(agent([a], upTime: 1000), agent([b], upTime: 7000))
        #expect(octetsIn(lines) == nil)
        #expect(report.rateGaps[.counterReset] == 1)
    }

    @Test("sysUpTime went back (reboot): no rate for any counter of the device")
    func reboot() {
        let a = SimulatedInterface(index: 1, name: "Te1", hc: [.ifHCInOctets: 9_000_000, .ifHCOutOctets: 5])
        var b = a
        b.hc[.ifHCInOctets] = 9_100_000  // would look like a plain increase
        let (lines, report) = rateLines(agent([a], upTime: 900_000), agent([b], upTime: 500))
        #expect(lines.isEmpty)
        #expect(report.rateGaps[.agentRestart, default: 0] >= 2)
    }

    @Test("sysUpTime wrapping after 497 days is not a reboot")
    func upTimeWrap() {
        #expect(!InterfaceRates.agentRestarted(previous: UInt32.max - 3000, current: 2999, seconds: 60))
        #expect(InterfaceRates.agentRestarted(previous: UInt32.max - 3000, current: 900_000, seconds: 60))
        #expect(InterfaceRates.agentRestarted(previous: 900_000, current: 500, seconds: 60))
        #expect(!InterfaceRates.agentRestarted(previous: 500, current: 6500, seconds: 60))
    }

    @Test("ifIndex renumbered (another name at the same ifIndex): no rate across the change")
    func renumbered() {
        let a = SimulatedInterface(index: 1, name: "Gi1", hc: [.ifHCInOctets: 1000])
        let c = SimulatedInterface(index: 2, name: "Gi2", hc: [.ifHCInOctets: 5000])
        var b = a
        b.name = "Gi2"
        b.hc[.ifHCInOctets] = 5100
        var d = c
        d.name = "Gi1"
        d.hc[.ifHCInOctets] = 1100
        let (lines, report) = rateLines(agent([a, c], upTime: 1000), agent([b, d], upTime: 7000))
        #expect(octetsIn(lines) == nil)
        #expect(report.rateGaps[.sourceChanged, default: 0] >= 2)
    }

    @Test("counters cleared (ifCounterDiscontinuityTime changed): no rate for that interface")
    func cleared() {
        let a = SimulatedInterface(index: 1, name: "Gi1", hc: [.ifHCInOctets: 1000], discontinuity: 0)
        var b = a
        b.hc[.ifHCInOctets] = 2000
        b.discontinuity = 6000
        let (lines, report) = rateLines(agent([a], upTime: 1000), agent([b], upTime: 7000))
        #expect(octetsIn(lines) == nil)
        #expect(report.rateGaps[.countersCleared, default: 0] >= 1)
    }

    @Test("a rate above what the port's speed allows is not written")
    func implausible() {
        let a = SimulatedInterface(index: 1, name: "Gi1", highSpeed: 100, hc: [.ifHCInOctets: 1000])
        var b = a
        b.hc[.ifHCInOctets] = 1000 + 60 * 1_000_000_000  // 8 Gb/s on a 100 Mb/s port
        let (lines, report) = rateLines(agent([a], upTime: 1000), agent([b], upTime: 7000))
        #expect(octetsIn(lines) == nil)
        #expect(report.rateGaps[.implausible] == 1)
    }

    @Test("increase and rate rules")
    func rules() throws {
        #expect(try InterfaceRates.increase(from: 10, to: 15, width: 64, bound: nil).get() == 5)
        #expect(try InterfaceRates.increase(from: UInt64(UInt32.max), to: 1, width: 32, bound: 1e6).get() == 2)
        #expect(throws: RateDiscontinuity.counterReset) { try InterfaceRates.increase(from: 10, to: 5, width: 32, bound: nil).get() }
        #expect(throws: RateDiscontinuity.implausible) { try InterfaceRates.increase(from: 0, to: 100, width: 64, bound: 50).get() }
        #expect(throws: RateDiscontinuity.noInterval) {
            try InterfaceRates.rate(from: CounterQuantity(components: [1], width: 64), to: CounterQuantity(components: [2], width: 64),
                                    seconds: 0, bound: nil).get()
        }
    }
}

@Suite("SNMP points: configured tables and scalars")
struct ConfiguredObjectsTests {
    @Test("each table row is a point with its index and tag columns; scalars are one point; missing objects are left out")
    func tablesAndScalars() {
        let descr = oid("1.3.6.1.2.1.25.2.3.1.3")
        let used = oid("1.3.6.1.2.1.25.2.3.1.6")
        let load = oid("1.3.6.1.4.1.2021.10.1.3.1")
        let missing = oid("1.3.6.1.4.1.2021.10.1.3.9")
        var mib = agent([SimulatedInterface(index: 1, name: "Gi1", hc: [.ifHCInOctets: 1])], upTime: 100)
        mib.objects += [(descr.appending([1]), .octets(Array("Physical memory".utf8))), (used.appending([1]), .integer(4096)),
                        (descr.appending([7]), .octets(Array("/".utf8))), (used.appending([7]), .integer(123)),
                        (load, .octets(Array("0.42".utf8)))]
        mib = MIBView(mib.objects)
        let table = SNMPTableSpec(measurement: "hr_storage", tags: [SNMPNamedObject(name: "descr", oid: descr)],
                                  fields: [SNMPNamedObject(name: "used", oid: used)])
        let scalars = SNMPScalarSpec(measurement: "ucd_load", fields: [SNMPNamedObject(name: "load1", oid: load),
                                                                       SNMPNamedObject(name: "load15", oid: missing)])
        var poll = DevicePoll(plan: DevicePollPlan(version: .v2c, scalars: IFMIB.scalars, columns: [IFMIB.Column.ifHCInOctets.oid],
                                                   gets: scalars.instances, extraColumns: table.columns))
        run(&poll, mib: mib)
        #expect(poll.outcome == .complete)
        let output = lines(SNMPPollSample(device: SNMPDeviceIdentity(agent: "192.0.2.7"), poll: poll, tables: [table],
                                          scalars: [scalars], timestamp: 9, monotonic: 1, duration: 0))
        #expect(output.contains("hr_storage,agent_host=192.0.2.7,descr=Physical\\ memory,host=edge-sw1,index=1 used=4096i 9"))
        #expect(output.contains("hr_storage,agent_host=192.0.2.7,descr=/,host=edge-sw1,index=7 used=123i 9"))
        #expect(output.contains("ucd_load,agent_host=192.0.2.7,host=edge-sw1 load1=\"0.42\" 9"))
    }
}
