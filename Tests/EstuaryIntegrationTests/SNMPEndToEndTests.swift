import EstuaryTestSupport
import Foundation
import Testing

/// `estuary run` polling SNMP agents (snmpsim with a recorded 48-port switch) into a real
/// InfluxDB 1.6.7.
@Suite("SNMP end to end: estuary run, snmpsim, InfluxDB", .runsAlone)
struct SNMPEndToEndTests {
    @Test("the switch's interfaces land in InfluxDB in collectd's interface series; SIGHUP adds a device from the targets file")
    func pollAndReload() throws {
        let recording = Fixtures.switch48
        var second = recording
        second.set("1.3.6.1.2.1.1.5.0", tag: "4", value: "second-sw")
        let first = try SNMPSimulator(devices: ["public": recording.text])
        let other = try SNMPSimulator(devices: ["public": second.text])
        let influx = try InfluxDBServer()
        defer { influx.stop() }
        let targets = FileManager.default.temporaryDirectory.appendingPathComponent("estuary-targets-\(UUID().uuidString).txt")
        try Data("# one switch to start with\n127.0.0.1:\(first.port)\n".utf8).write(to: targets)
        defer { try? FileManager.default.removeItem(at: targets) }
        let estuary = try EstuaryProcess(configuration: """
            data_dir = "\(FileManager.default.temporaryDirectory.path)/estuary-snmp-\(UUID().uuidString)"
            metrics_interval = "1s"
            [[inputs.snmp]]
            targets_file = "\(targets.path)"
            interval = "2s"
            timeout = "500ms"
            retries = 1
            [[outputs.influxdb]]
            url = "\(influx.url)"
            database = "snmp"
            flush_interval = "200ms"
            """)
        #expect(estuary.waitForLog("estuary started"), "\(estuary.log)")
        let host = try #require(recording.value("1.3.6.1.2.1.1.5.0"))
        func instances(_ host: String) throws -> Set<String> {
            Set(try influx.query("SHOW TAG VALUES FROM interface_rx WITH KEY = instance WHERE host = '\(host)'", db: "snmp")
                .compactMap { $0["value"] as? String })
        }
        #expect(eventually(timeout: 30) { try instances(host).count == 52 }, "\(estuary.log)")
        let series = Set(try influx.query("SHOW SERIES FROM interface_rx, interface_tx WHERE host = '\(host)'", db: "snmp")
            .compactMap { $0["key"] as? String })
        let name3 = try #require(recording.value("1.3.6.1.2.1.31.1.1.1.1.3"))
        for type in ["if_octets", "if_packets", "if_errors", "if_dropped"] {
            #expect(series.contains("interface_rx,host=\(host),instance=\(name3),type=\(type)"))
            #expect(series.contains("interface_tx,host=\(host),instance=\(name3),type=\(type)"))
        }
        let octets = try influx.query("SELECT last(value) FROM interface_rx WHERE host = '\(host)' AND instance = '\(name3)' "
                                      + "AND type = 'if_octets'", db: "snmp")
        #expect(InfluxDBServer.int(octets.first?["last"]).map(String.init) == recording.value("1.3.6.1.2.1.31.1.1.1.6.3"))

        // A second device in the file, then SIGHUP: it is polled, the first one goes on.
        try Data("127.0.0.1:\(first.port)\n127.0.0.1:\(other.port) renamed-sw\n".utf8).write(to: targets)
        estuary.child.signal(SIGHUP)
        #expect(estuary.waitForLog("SNMP targets re-read"), "\(estuary.log)")
        #expect(eventually(timeout: 20) { try instances("renamed-sw").count == 52 }, "\(estuary.log)")
        #expect(eventually(timeout: 10) {
            try influx.count("estuary_snmp", field: "polls_complete", db: "snmp") > 0
        })
        #expect(estuary.terminate() == 0, "\(estuary.log)")
    }
}
