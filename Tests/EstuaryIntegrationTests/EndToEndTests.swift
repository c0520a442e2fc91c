import EstuaryTestSupport
import Foundation
import Testing

/// `estuary run` between a real collectd and a real InfluxDB 1.6.7.
@Suite("end to end with real collectd and InfluxDB", .serialized, .runsAlone)
struct EndToEndTests {
    @Test("collectd's network plugin and write_graphite land in InfluxDB, in the same series, with the right values and times")
    func realCollectdBothPaths() throws {
        try #require(CollectdAgent.isInstalled, "collectd-core is not installed (make deps)")
        let influx = try InfluxDBServer()
        defer { influx.stop() }
        let collectdPort = freePort(udp: true), graphitePort = freePort()
        let estuary = try EstuaryProcess(configuration: estuaryConfiguration(
            collectdPort: collectdPort, graphitePort: graphitePort, influxURL: influx.url))
        #expect(estuary.waitForLog("estuary started"), "\(estuary.log)")
        let agent = try CollectdAgent(hostname: "agent-1.example.org", networkPort: collectdPort, graphitePort: graphitePort)
        defer { agent.stop() }

        // write_graphite escapes the dots of the host name; the binary protocol keeps them.
        let binaryHost = "agent-1.example.org", graphiteHost = "agent-1_example_org"
        let arrived = eventually(timeout: 30) {
            let hosts = try influx.query("SHOW TAG VALUES FROM load_shortterm WITH KEY = host", db: "collectd")
                .compactMap { $0["value"] as? String }
            return hosts.contains(binaryHost) && hosts.contains(graphiteHost)
        }
        #expect(arrived, "InfluxDB did not get load from both paths.\nestuary: \(estuary.log)\ncollectd: \(agent.log)")

        // Same series (measurement and tag keys/values) from both paths, host aside.
        func series(host: String) throws -> Set<String> {
            Set(try influx.query("SHOW SERIES WHERE host = '\(host)'", db: "collectd").compactMap { $0["key"] as? String }
                .map { $0.replacingOccurrences(of: "host=\(host)", with: "host=H") })
        }
        // collectd spreads one interval over several datagrams: wait for the series looked at below.
        let expectedSeries: Set = ["load_shortterm,host=H,type=load", "memory_value,host=H,type=memory,type_instance=used",
                                   "interface_rx,host=H,instance=lo,type=if_octets", "uptime_value,host=H,type=uptime"]
        _ = eventually(timeout: 30) {
            try expectedSeries.isSubset(of: series(host: binaryHost)) && series(host: graphiteHost).count >= 8
        }
        let viaBinary = try series(host: binaryHost), viaGraphite = try series(host: graphiteHost)
        #expect(viaBinary.contains("load_shortterm,host=H,type=load"))
        #expect(viaBinary.contains("memory_value,host=H,type=memory,type_instance=used"))
        #expect(viaBinary.contains("interface_rx,host=H,instance=lo,type=if_octets"))
        #expect(viaBinary.contains("uptime_value,host=H,type=uptime"))
        #expect(viaGraphite.isSubset(of: viaBinary), "only via graphite: \(viaGraphite.subtracting(viaBinary))")
        #expect(viaGraphite.count >= 8)

        // Values and timestamps: uptime agrees between the paths and with the clock.
        let now = Date().timeIntervalSince1970
        let uptime = try influx.query("SELECT last(value) FROM uptime_value WHERE host = '\(binaryHost)'", db: "collectd")
        let uptimeSeconds = try #require(InfluxDBServer.int(uptime.first?["last"]))
        #expect(uptimeSeconds > 0)
        let times = try influx.query("SELECT value FROM load_shortterm WHERE host = '\(graphiteHost)' ORDER BY time DESC LIMIT 1",
                                     db: "collectd")
        let time = try #require(times.first?["time"] as? String)
        let parsed = try #require(ISO8601DateFormatter().date(from: time))
        #expect(abs(parsed.timeIntervalSince1970 - now) < 60)
        #expect(parsed.timeIntervalSince1970 == parsed.timeIntervalSince1970.rounded())  // write_graphite: whole seconds

        // Estuary's own metrics are written too.
        #expect(eventually(timeout: 10) {
            try influx.count("estuary_input", field: "points", db: "collectd") > 0
        })
        agent.stop()
        #expect(estuary.terminate() == 0, "\(estuary.log)")
        #expect(estuary.log.contains("stopped: everything received was handed to the outputs and sent"))
    }

    @Test("the corpus replayed over UDP and TCP gives exactly the expected point counts in InfluxDB")
    func corpusReplay() throws {
        let influx = try InfluxDBServer()
        defer { influx.stop() }
        let collectdPort = freePort(udp: true), graphitePort = freePort()
        let estuary = try EstuaryProcess(configuration: estuaryConfiguration(
            collectdPort: collectdPort, graphitePort: graphitePort, influxURL: influx.url))
        #expect(estuary.waitForLog("estuary started"), "\(estuary.log)")
        let udp = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(udp) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = collectdPort.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        for file in Fixtures.files(in: Fixtures.collectd + "/capture/plain", suffix: ".bin") {
            let datagram = Fixtures.bytes(file)
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(udp, datagram, datagram.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            usleep(500)
        }
        try sendTCP(Fixtures.bytes(Fixtures.collectd + "/write_graphite-client-tcp.txt"), port: graphitePort)

        // The capture's hosts keep their dots over the binary protocol; write_graphite escapes
        // them. (Estuary's own points have no `value` field, so they are not counted.)
        func points(_ condition: String) throws -> Int {
            try influx.query("SELECT count(value) FROM /.*/ WHERE \(condition)", db: "collectd")
                .compactMap { InfluxDBServer.int($0["count"]) }.reduce(0, +)
        }
        let binary = "host =~ /\\./", graphite = "host !~ /\\./"
        let complete = eventually(timeout: 30) { try points(binary) >= 3506 && points(graphite) >= 3333 }
        #expect(complete, "\(estuary.log)")
        #expect(try points(binary) == 3506)  // the capture's points, NaN/Inf left out
        #expect(try points(graphite) == 3333)
        #expect(estuary.terminate() == 0)
    }

    @Test("SIGTERM with InfluxDB gone and no spool: the exit code and the log say what was lost")
    func unsentAtShutdown() throws {
        let influx = try InfluxDBServer()
        let url = influx.url
        influx.stop()  // nothing answers at this address now
        let collectdPort = freePort(udp: true), graphitePort = freePort()
        let estuary = try EstuaryProcess(configuration: estuaryConfiguration(
            collectdPort: collectdPort, graphitePort: graphitePort, influxURL: url, shutdownTimeout: "2s",
            extraOutput: "retry_initial = \"100ms\"\nretry_max = \"200ms\"\nspool = false"))
        #expect(estuary.waitForLog("estuary started"), "\(estuary.log)")
        try sendTCP(Array("a.b 1 1700000000\nc.d 2 1700000000\n".utf8), port: graphitePort)
        // The lines have reached the output once it has tried to send them.
        #expect(estuary.waitForLog("no answer from InfluxDB"), "waited 15 s for a failed write: \(estuary.log)")
        #expect(estuary.terminate() == 3, "\(estuary.log)")
        #expect(estuary.log.contains("stopped with data left unsent"))
        #expect(estuary.log.contains("lines lost"))
    }

    @Test("SIGTERM with InfluxDB gone and a spool: nothing lost, exit 0, the log says how much was spilled")
    func spilledAtShutdown() throws {
        let influx = try InfluxDBServer()
        let url = influx.url
        influx.stop()
        let collectdPort = freePort(udp: true), graphitePort = freePort()
        let estuary = try EstuaryProcess(configuration: estuaryConfiguration(
            collectdPort: collectdPort, graphitePort: graphitePort, influxURL: url, shutdownTimeout: "2s",
            extraOutput: "retry_initial = \"100ms\"\nretry_max = \"200ms\""))
        #expect(estuary.waitForLog("estuary started"), "\(estuary.log)")
        try sendTCP(Array("a.b 1 1700000000\nc.d 2 1700000000\n".utf8), port: graphitePort)
        // The lines have reached the output once it has tried to send them.
        #expect(estuary.waitForLog("no answer from InfluxDB"), "waited 15 s for a failed write: \(estuary.log)")
        let started = Date()
        #expect(estuary.terminate() == 0, "\(estuary.log)")
        #expect(Date().timeIntervalSince(started) < 2, "a dead server should not make the flush wait for the deadline")
        #expect(estuary.log.contains("stopped: nothing lost;"), "\(estuary.log)")
        #expect(!estuary.log.contains("lines lost"))
    }
}

/// Connects, sends everything, closes.
func sendTCP(_ bytes: [UInt8], port: UInt16) throws {
    let fd = try LoopbackSockets.connectTCP(port: port, timeout: 5)
    defer { close(fd) }
    var sent = 0
    while sent < bytes.count {
        let n = bytes[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n <= 0 { break }
        sent += n
    }
}
