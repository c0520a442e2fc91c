import EstuaryIO
import EstuaryModel
import EstuaryPipeline
import EstuaryRuntime
import EstuaryTestSupport
import EstuaryWire
import Foundation
import Testing

func collectdInput(port: UInt16 = 0, host: String = "127.0.0.1", readers: Int = 1,
                   schema: CollectdSchema = .split) -> CollectdInputSettings {
    CollectdInputSettings(
        name: "collectd", receiver: UDPReceiverOptions(listen: try! SocketAddress(host: host, port: port), readers: readers,
                                                       tickInterval: 0.05),
        decoder: try! CollectdPacketDecoder(), mapper: CollectdPointMapper(typesDB: Fixtures.typesDB, schema: schema))
}

func graphiteInput(tcp: TCPListenerOptions? = TCPListenerOptions(listen: try! SocketAddress(host: "127.0.0.1", port: 0),
                                                                   tickInterval: 0.05),
                   udp: Bool = true) -> GraphiteInputSettings {
    GraphiteInputSettings(
        name: "graphite", tcp: tcp,
        udp: udp ? UDPReceiverOptions(listen: try! SocketAddress(host: "127.0.0.1", port: 0), tickInterval: 0.05) : nil,
        // The decoder gets the listener's max_line_length, as the daemon's assembly does: a long
        // line that arrives in one read is the decoder's to reject.
        decoder: GraphiteDecoder(configuration: GraphiteDecoderConfiguration(collectdPaths: true, templates: try! GraphiteTemplateSet([]),
                                                                             maxLineLength: tcp?.maxLineLength ?? 16384),
                                 typesDB: Fixtures.typesDB))
}

func startDaemon(collectd: [CollectdInputSettings] = [collectdInput()], graphite: [GraphiteInputSettings] = [graphiteInput()],
                 batchLines: Int = 1000, metricsInterval: Double = 60) throws -> (Daemon, CaptureOutput, SelfMetrics) {
    let output = CaptureOutput()
    let metrics = SelfMetrics()
    let daemon = Daemon(settings: DaemonSettings(hostname: "estuary-test", batchLines: batchLines, batchInterval: 0.05,
                                                 metricsInterval: metricsInterval, shutdownTimeout: 5,
                                                 collectdInputs: collectd, graphiteInputs: graphite),
                        outputs: [output], metrics: metrics, logger: testLogger)
    try daemon.start()
    return (daemon, output, metrics)
}

@Suite("pipeline end to end, with a capturing output", .ownThreads, .serialized)
struct PipelineTests {
    @Test("the collectd capture replayed over UDP becomes exactly the expected points")
    func collectdOverUDP() throws {
        let (daemon, output, metrics) = try startDaemon(graphite: [])
        let port = try #require(daemon.addresses["collectd/udp"]?.port)
        let client = TestClient.udp()
        defer { client.close() }
        for file in Fixtures.files(in: Fixtures.collectd + "/capture/plain", suffix: ".bin") {
            client.send(Fixtures.bytes(file), to: port)
        }
        output.wait { $0.lineCount() >= 3506 }
        _ = daemon.stop()
        let expected = Fixtures.points(lineProtocol: Fixtures.collectd + "/expected/plain.split.lp")
        let comparison = PointMultisetComparison(actual: output.points(), expected: expected)
        #expect(comparison.matches, "\(comparison)")
        #expect(metrics.counter("estuary_input", "datagrams", [("instance", "collectd")]).count == 127)
        #expect(metrics.counter("estuary_input", "rejected", [("instance", "collectd"), ("reason", "non_finite")]).count == 224)
    }

    @Test("write_graphite's capture over TCP, cut at arbitrary places, becomes exactly the expected points")
    func graphiteOverTCP() throws {
        let (daemon, output, _) = try startDaemon(collectd: [])
        let port = try #require(daemon.addresses["graphite/tcp"]?.port)
        let client = try #require(TestClient.tcp(to: port))
        let text = Fixtures.text(Fixtures.collectd + "/write_graphite-client-tcp.txt")
        var rest = Substring(text)
        var size = 1
        while !rest.isEmpty {  // pieces of growing, odd sizes: lines split across reads
            let piece = rest.prefix(size)
            client.write(String(piece))
            rest = rest.dropFirst(piece.count)
            size = size * 3 % 997 + 1
        }
        client.close()
        output.wait { $0.lineCount() >= 3333 }
        _ = daemon.stop()
        let expected = Fixtures.points(lineProtocol: Fixtures.collectd + "/expected/graphite-client-tcp.split.lp")
        let comparison = PointMultisetComparison(actual: output.points(), expected: expected)
        #expect(comparison.matches, "\(comparison)")
    }

    @Test("graphite over UDP: several lines per datagram; IPv6 loopback for collectd")
    func graphiteUDPAndIPv6() throws {
        let (daemon, output, _) = try startDaemon(collectd: [collectdInput(host: "::1")])
        let graphitePort = try #require(daemon.addresses["graphite/udp"]?.port)
        let collectdPort = try #require(daemon.addresses["collectd/udp"]?.port)
        let client = TestClient.udp()
        client.send(Array("h.load.load.shortterm 1 1700000000\nh.load.load.midterm 2 1700000000\n".utf8), to: graphitePort)
        let client6 = TestClient.udp(AF_INET6)
        client6.send(Fixtures.bytes(Fixtures.collectd + "/bad/control_good_plain.bin"), to: collectdPort, host: "::1")
        output.wait { $0.lineCount() >= 39 }
        _ = daemon.stop()
        client.close()
        client6.close()
        #expect(output.lineCount() == 39)
        #expect(output.points().contains { $0.measurement == "load_midterm" && $0.tag("host") == "h" })
    }

    @Test("stop hands over what the receivers still hold, and a last self-metrics batch")
    func stopFlushes() throws {
        let (daemon, output, metrics) = try startDaemon(collectd: [], batchLines: 1_000_000)
        let port = try #require(daemon.addresses["graphite/tcp"]?.port)
        let client = try #require(TestClient.tcp(to: port))
        let opened = metrics.counter("estuary_input", "connections_opened", [("instance", "graphite")])
        #expect(output.wait { _ in opened.count == 1 }, "waited 10 s for the listener to accept the connection")
        client.write("a.b 1 1700000000\nc.d 2 1700000000\n")
        let report = daemon.stop()  // reads what the connection sent, then flushes
        client.close()
        #expect(report.unsentLines == 0)
        #expect(output.lineCount() == 2)
        let selfMetrics = output.all.filter { $0.source == "self-metrics" }
        #expect(selfMetrics.count == 1)
        let points = LineProtocolParser().parse(String(decoding: selfMetrics[0].bytes, as: UTF8.self)).points
        #expect(points.contains { $0.measurement == "estuary_input" && $0.tag("instance") == "graphite"
            && $0.tag("host") == "estuary-test" && $0.field("points") == .integer(2) })
    }

    @Test("a port in use is a start error naming the listener and the address")
    func portInUse() throws {
        let (first, _, _) = try startDaemon(graphite: [])
        defer { _ = first.stop() }
        let port = try #require(first.addresses["collectd/udp"]?.port)
        let output = CaptureOutput()
        let second = Daemon(settings: DaemonSettings(hostname: "h", collectdInputs: [collectdInput(port: port)]),
                            outputs: [output], metrics: SelfMetrics(), logger: testLogger)
        #expect {
            try second.start()
        } throws: { error in
            "\(error)".contains("collectd: cannot listen on 127.0.0.1:\(port)") && "\(error)".contains("Address already in use")
        }
    }

    @Test("when a later listener cannot bind, the ones already bound are closed again")
    func partialStartUnwinds() throws {
        let (first, _, _) = try startDaemon(collectd: [])
        defer { _ = first.stop() }
        let busyPort = try #require(first.addresses["graphite/udp"]?.port)
        let blocked = GraphiteInputSettings(
            name: "graphite-2", tcp: TCPListenerOptions(listen: try SocketAddress(host: "127.0.0.1", port: 0)),
            udp: UDPReceiverOptions(listen: try SocketAddress(host: "127.0.0.1", port: busyPort)),
            decoder: graphiteInput().decoder)
        let second = Daemon(settings: DaemonSettings(hostname: "h", graphiteInputs: [blocked]),
                            outputs: [CaptureOutput()], metrics: SelfMetrics(), logger: testLogger)
        #expect(throws: DaemonStartError.self) { try second.start() }
        // Its TCP port was bound before the UDP one failed; it is free again.
        let retry = Daemon(settings: DaemonSettings(hostname: "h", graphiteInputs: [graphiteInput()]),
                           outputs: [CaptureOutput()], metrics: SelfMetrics(), logger: testLogger)
        try retry.start()
        _ = retry.stop()
    }

    @Test("several SO_REUSEPORT readers share one port and lose nothing")
    func reusePortReaders() throws {
        let (daemon, output, _) = try startDaemon(collectd: [collectdInput(readers: 3)], graphite: [])
        let port = try #require(daemon.addresses["collectd/udp"]?.port)
        var clients: [TestClient] = []
        for _ in 0..<6 { clients.append(TestClient.udp()) }  // different source ports spread over the readers
        let datagram = Fixtures.bytes(Fixtures.collectd + "/bad/control_good_plain.bin")
        for client in clients { for _ in 0..<10 { client.send(datagram, to: port) } }
        output.wait { $0.lineCount() >= 60 * 37 }
        _ = daemon.stop()
        for client in clients { client.close() }
        #expect(output.lineCount() == 60 * 37)
    }
}

@Suite("graphite TCP listener limits", .ownThreads, .serialized)
struct TCPListenerLimitTests {
    @Test("a line longer than max_line_length is thrown away and counted; the connection goes on")
    func maxLineLength() throws {
        var options = TCPListenerOptions(listen: try SocketAddress(host: "127.0.0.1", port: 0), maxLineLength: 100,
                                         tickInterval: 0.05)
        options.workers = 1
        let (daemon, output, metrics) = try startDaemon(collectd: [], graphite: [graphiteInput(tcp: options, udp: false)])
        let port = try #require(daemon.addresses["graphite/tcp"]?.port)
        let client = try #require(TestClient.tcp(to: port))
        client.write("ok.one 1 1700000000\n" + String(repeating: "x", count: 500))
        // The start of the long line was read with ok.one (in the same write): the rest comes in a later read.
        #expect(output.wait { $0.lineCount() >= 1 }, "waited 10 s for ok.one")
        client.write(String(repeating: "y", count: 500) + " 1 1700000000\nok.two 2 1700000000\n")
        output.wait { $0.lineCount() >= 2 }
        client.close()
        _ = daemon.stop()
        #expect(output.points().map(\.measurement) == ["ok.one", "ok.two"])
        #expect(metrics.counter("estuary_input", "rejected", [("instance", "graphite"), ("reason", "line_too_long")]).count == 1)
    }

    @Test("idle connections are closed after idle_timeout; connections beyond max_connections are refused")
    func idleAndMaxConnections() throws {
        let options = TCPListenerOptions(listen: try SocketAddress(host: "127.0.0.1", port: 0), maxConnections: 2,
                                         idleTimeout: 0.3, tickInterval: 0.05)
        let (daemon, _, metrics) = try startDaemon(collectd: [], graphite: [graphiteInput(tcp: options, udp: false)])
        defer { _ = daemon.stop() }
        let port = try #require(daemon.addresses["graphite/tcp"]?.port)
        let a = try #require(TestClient.tcp(to: port))
        let b = try #require(TestClient.tcp(to: port))
        let opened = metrics.counter("estuary_input", "connections_opened", [("instance", "graphite")])
        #expect(CaptureOutput().wait { _ in opened.count == 2 }, "waited 10 s for the listener to accept two connections")
        let c = try #require(TestClient.tcp(to: port))
        #expect(c.closedByPeer(timeout: 2))  // refused: closed at once
        #expect(a.closedByPeer(timeout: 3))  // idle
        #expect(b.closedByPeer(timeout: 3))
        for client in [a, b, c] { client.close() }
        let idle = metrics.counter("estuary_input", "connections_idle_closed", [("instance", "graphite")])
        let refused = metrics.counter("estuary_input", "connections_refused", [("instance", "graphite")])
        // The count follows the close the client saw; give the listener's queue a moment.
        CaptureOutput().wait(timeout: 2) { _ in idle.count == 2 && refused.count == 1 }
        #expect(refused.count == 1)
        #expect(idle.count == 2)
    }

    @Test("a sender that stalls mid-line does not hold up the others")
    func slowSender() throws {
        let (daemon, output, _) = try startDaemon(collectd: [])
        let port = try #require(daemon.addresses["graphite/tcp"]?.port)
        let slow = try #require(TestClient.tcp(to: port))
        slow.write("slow.metric 1 17000")  // no newline: stalls here
        let fast = try #require(TestClient.tcp(to: port))
        for i in 0..<1000 { fast.write("fast.metric \(i) 1700000000\n") }
        #expect(output.wait(timeout: 5) { $0.lineCount() >= 1000 })
        slow.write("00000\n")
        #expect(output.wait(timeout: 5) { $0.lineCount() >= 1001 })
        fast.close()
        slow.close()
        _ = daemon.stop()
    }
}

@Suite("kernel UDP drop counters", .ownThreads)
struct KernelUDPStatisticsTests {
    @Test("the drops column of /proc/net/udp is read for the receiver's own sockets")
    func readsOwnSockets() throws {
        let receiver = try UDPReceiver(name: "drops", options: UDPReceiverOptions(listen: try SocketAddress(host: "127.0.0.1", port: 0))) {
            NullDatagramHandler()
        }
        #expect(receiver.inodes.allSatisfy { $0 > 0 })
        #expect(KernelUDPStatistics.drops(inodes: receiver.inodes) == 0)
        #expect(KernelUDPStatistics.drops(inodes: [UInt64.max]) == nil)
        receiver.stop()
    }
}

final class NullDatagramHandler: DatagramHandler {
    func handle(_ datagram: UnsafeRawBufferPointer, from peer: PeerAddress) {}
    func denied(from peer: PeerAddress) {}
    func tick() {}
    func finish() {}
}
