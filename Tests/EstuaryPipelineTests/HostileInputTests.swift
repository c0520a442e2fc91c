import EstuaryCrypto
import EstuaryIO
import EstuaryModel
import EstuaryPipeline
import EstuaryRuntime
import EstuaryTestSupport
import EstuaryWire
import Foundation
import Logging
import Synchronization
import Testing

/// A log handler that keeps every message (the tests count what a flood logs).
final class CapturedLog: @unchecked Sendable {  // `lines` behind its mutex
    let lines = Mutex<[String]>([])

    var logger: Logger {
        Logger(label: "estuary.tests.captured") { _ in CapturingHandler(log: self) }
    }

    func count(containing text: String) -> Int {
        lines.withLock { $0.filter { $0.contains(text) }.count }
    }

    struct CapturingHandler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let pairs = (event.metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            let text = "\(event.level) \(event.message) \(pairs)"
            log.lines.withLock { $0.append(text) }
        }
    }
}

/// A UDP socket bound to `host` (another loopback address, to be a different peer).
func udpClient(boundTo host: String) -> TestClient {
    let client = TestClient.udp()
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr(host)
    _ = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(client.fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    return client
}

/// A TCP connection from `source` (a loopback address) to 127.0.0.1:`port`.
func tcpClient(from source: String, to port: UInt16) -> TestClient? {
    LoopbackSockets.tryConnectTCP(port: port, from: source).map { TestClient(fd: $0) }
}

func allow(_ blocks: String...) -> AllowList {
    AllowList(blocks.map { try! CIDRBlock(parsing: $0) })
}

/// A datagram of one gauge value list: host `host`, plugin `p`, value `value`, its own second.
func gaugeDatagram(host: String, value: Double, second: UInt64) -> [UInt8] {
    var writer = CollectdPacketWriter()
    writer.host(host)
    writer.time(seconds: second)
    writer.plugin("p")
    writer.type("gauge")
    writer.values([.gauge(value)])
    return writer.bytes
}

@Suite("allow lists", .ownThreads)
struct AllowListTests {
    @Test("CIDR blocks: IPv4 and IPv6, prefixes, hosts, mapped IPv4; bad ones say why")
    func cidr() throws {
        let list = allow("127.0.0.0/8", "::1/128", "2001:db8::/32", "192.0.2.7")
        #expect(list.allows(try SocketAddress(host: "127.1.2.3", port: 1)))
        #expect(list.allows(try SocketAddress(host: "::1", port: 1)))
        #expect(list.allows(try SocketAddress(host: "2001:db8:ffff::1", port: 1)))
        #expect(list.allows(try SocketAddress(host: "192.0.2.7", port: 1)))
        #expect(list.allows(try SocketAddress(host: "::ffff:127.0.0.1", port: 1)))  // mapped IPv4
        #expect(!list.allows(try SocketAddress(host: "192.0.2.8", port: 1)))
        #expect(!list.allows(try SocketAddress(host: "128.0.0.1", port: 1)))
        #expect(!list.allows(try SocketAddress(host: "::2", port: 1)))
        #expect(!list.allows(try SocketAddress(host: "2001:db9::1", port: 1)))
        #expect(allow("10.0.0.0/12").allows(try SocketAddress(host: "10.15.255.255", port: 1)))
        #expect(!allow("10.0.0.0/12").allows(try SocketAddress(host: "10.16.0.0", port: 1)))
        #expect(allow("0.0.0.0/0").allows(try SocketAddress(host: "203.0.113.9", port: 1)))
        #expect(!allow("0.0.0.0/0").allows(try SocketAddress(host: "::1", port: 1)))
        #expect(AllowList.everyone.allows(try SocketAddress(host: "::1", port: 1)))
        #expect(list.description == "127.0.0.0/8, ::1/128, 2001:db8::/32, 192.0.2.7/32")

        #expect(throws: CIDRError.self) { try CIDRBlock(parsing: "10.0.0.1/8") }
        #expect(throws: CIDRError.self) { try CIDRBlock(parsing: "10.0.0.0/33") }
        #expect(throws: CIDRError.self) { try CIDRBlock(parsing: "localhost/8") }
        #expect(throws: CIDRError.self) { try CIDRBlock(parsing: "::1/") }
        do {
            _ = try CIDRBlock(parsing: "10.0.0.1/8")
        } catch {
            #expect(error.description.contains("10.0.0.0/8"), "\(error)")
        }
    }

    @Test("collectd: datagrams from a peer not allowed are dropped, counted and logged once; allowed peers get through")
    func collectdDenied() throws {
        let log = CapturedLog()
        var input = collectdInput()
        input.receiver.allow = allow("127.0.0.1/32", "::1/128")
        let output = CaptureOutput()
        let metrics = SelfMetrics()
        let daemon = Daemon(settings: DaemonSettings(hostname: "t", batchInterval: 0.05, metricsInterval: 60, shutdownTimeout: 5,
                                                     collectdInputs: [input]),
                            outputs: [output], metrics: metrics, logger: log.logger)
        try daemon.start()
        let port = try #require(daemon.addresses["collectd/udp"]?.port)
        let stranger = udpClient(boundTo: "127.0.0.2")
        let friend = udpClient(boundTo: "127.0.0.1")
        defer { stranger.close(); friend.close() }
        for i in 0..<500 { stranger.send(gaugeDatagram(host: "stranger", value: Double(i), second: 1_700_000_000), to: port) }
        for i in 0..<50 { friend.send(gaugeDatagram(host: "friend", value: Double(i), second: 1_700_000_000 + UInt64(i)), to: port) }
        let denied = metrics.counter("estuary_input", "rejected", [("instance", "collectd"), ("reason", "not_allowed")])
        output.wait { $0.lineCount() >= 50 && denied.count >= 500 }
        _ = daemon.stop()
        #expect(denied.count == 500)
        #expect(output.points().allSatisfy { $0.tags.contains(Tag("host", "friend")) })
        #expect(output.lineCount() == 50)
        // Nothing of theirs was decoded: only the friend's datagrams count as received.
        #expect(metrics.counter("estuary_input", "datagrams", [("instance", "collectd")]).count == 50)
        #expect(log.count(containing: "not on the allow list") == 1)
    }

    @Test("graphite TCP and UDP: connections and datagrams from a peer not allowed are refused before a byte is read")
    func graphiteDenied() throws {
        var input = graphiteInput()
        input.tcp?.allow = allow("127.0.0.1/32")
        input.udp?.allow = allow("127.0.0.1/32")
        let (daemon, output, metrics) = try startDaemon(collectd: [], graphite: [input])
        let tcpPort = try #require(daemon.addresses["graphite/tcp"]?.port)
        let udpPort = try #require(daemon.addresses["graphite/udp"]?.port)
        let stranger = try #require(tcpClient(from: "127.0.0.3", to: tcpPort))
        stranger.write("stranger.metric 1 1700000000\n")
        #expect(stranger.closedByPeer(timeout: 3))
        stranger.close()
        let strangerUDP = udpClient(boundTo: "127.0.0.3")
        strangerUDP.send(Array("stranger.udp 1 1700000000\n".utf8), to: udpPort)
        strangerUDP.close()
        let friend = try #require(tcpClient(from: "127.0.0.1", to: tcpPort))
        friend.write("friend.metric 1 1700000000\n")
        let friendUDP = udpClient(boundTo: "127.0.0.1")
        friendUDP.send(Array("friend.udp 1 1700000000\n".utf8), to: udpPort)
        friendUDP.close()
        let denied = metrics.counter("estuary_input", "rejected", [("instance", "graphite"), ("reason", "not_allowed")])
        output.wait { $0.lineCount() >= 2 && denied.count >= 2 }
        friend.close()
        _ = daemon.stop()
        #expect(Set(output.points().map(\.measurement)) == ["friend.metric", "friend.udp"])
        #expect(denied.count == 2)
        #expect(metrics.counter("estuary_input", "connections_denied", [("instance", "graphite")]).count == 1)
        #expect(metrics.counter("estuary_input", "connections_opened", [("instance", "graphite")]).count == 1)
    }
}

@Suite("slow senders (slowloris)", .ownThreads, .serialized)
struct ReadTimeoutTests {
    @Test("a line begun and not finished within read_timeout closes the connection and is thrown away; whole lines flow")
    func partialLineTimesOut() throws {
        let options = TCPListenerOptions(listen: try SocketAddress(host: "127.0.0.1", port: 0), idleTimeout: 60, readTimeout: 0.5,
                                         tickInterval: 0.05)
        let (daemon, output, metrics) = try startDaemon(collectd: [], graphite: [graphiteInput(tcp: options, udp: false)])
        let port = try #require(daemon.addresses["graphite/tcp"]?.port)
        // Stops mid-line.
        let stalled = try #require(TestClient.tcp(to: port))
        stalled.write("stalled.metric 1 17")
        // Trickles a byte every 100 ms: never idle, never done in time.
        let trickler = try #require(TestClient.tcp(to: port))
        let trickled = DispatchSemaphore(value: 0)
        let trickle = Thread {
            defer { trickled.signal() }
            for byte in "trickle.metric 1 1700000000\n".utf8.map({ String(UnicodeScalar($0)) }) {
                trickler.write(byte)
                usleep(100_000)
            }
        }
        trickle.start()
        // Sends whole lines, slowly: stays open.
        let steady = try #require(TestClient.tcp(to: port))
        for i in 0..<8 {
            steady.write("steady.metric \(i) \(1_700_000_000 + i)\n")
            usleep(150_000)
        }
        #expect(stalled.closedByPeer(timeout: 3))
        #expect(trickler.closedByPeer(timeout: 3))
        #expect(!steady.closedByPeer(timeout: 0.2))
        let timedOut = metrics.counter("estuary_input", "connections_read_timeout", [("instance", "graphite")])
        output.wait(timeout: 3) { $0.lineCount() >= 8 && timedOut.count >= 2 }
        steady.close()
        stalled.close()
        _ = daemon.stop()
        // Only once the thread has written its last byte: a closed descriptor's number goes to
        // the next socket any test opens, and a byte written there lands in that test's stream.
        trickled.wait()
        trickler.close()
        #expect(timedOut.count == 2)
        #expect(metrics.counter("estuary_input", "rejected", [("instance", "graphite"), ("reason", "read_timeout")]).count == 2)
        // The unfinished lines never became points.
        #expect(Set(output.points().map(\.measurement)) == ["steady.metric"])
        #expect(output.lineCount() == 8)
    }
}

@Suite("floods and forgeries", .serialized, .runsAlone)
struct FloodTests {
    @Test("100,000 malformed datagrams in a burst: counted, logged once, and a valid sender's points all arrive")
    func malformedFlood() async throws {
        let log = CapturedLog()
        var input = collectdInput()
        input.receiver.receiveBuffer = 64 << 20
        let output = CaptureOutput()
        let metrics = SelfMetrics()
        let daemon = Daemon(settings: DaemonSettings(hostname: "t", batchInterval: 0.05, metricsInterval: 60, shutdownTimeout: 5,
                                                     collectdInputs: [input]),
                            outputs: [output], metrics: metrics, logger: log.logger)
        try daemon.start()
        let port = try #require(daemon.addresses["collectd/udp"]?.port)
        let flood = 100_000, valid = 2_000
        // Malformed: a part whose length runs past the datagram, then random bytes.
        var random = SplitMix64(seed: 20261204)
        let malformed: [[UInt8]] = (0..<64).map { _ in
            [0x00, 0x02, 0xFF, 0xF0] + (0..<60).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        }
        let rejected = metrics.counter("estuary_input", "rejected", [("instance", "collectd"), ("reason", "part_length_exceeds_datagram")])
        // Bursts of a quarter of what the receive buffer the kernel granted holds (a small
        // datagram takes about 1 KiB of it); a sender goes on once the receiver has read all
        // but a burst of what both have sent: however slow the machine, the kernel never has
        // to drop a datagram, and the test is about Estuary, not about the kernel's buffer.
        let granted = metrics.gauge("estuary_input", "receive_buffer_bytes", [("instance", "collectd")]).current
        let burst = max(100, granted / 4096)
        let read = metrics.counter("estuary_input", "datagrams", [("instance", "collectd")])
        let sent = SentDatagrams()
        @Sendable func sendBurst(_ client: TestClient, _ datagrams: [[UInt8]]) -> Bool {
            for datagram in datagrams { client.send(datagram, to: port) }
            let total = sent.count.add(datagrams.count, ordering: .relaxed).newValue
            return waitUntil(timeout: 30) { read.count >= total - burst }
        }
        // Blocking senders, on threads of their own (not Swift's cooperative ones).
        let flooder = Task(executorPreference: OwnThreadsExecutor.shared) {
            let client = TestClient.udp()
            defer { client.close() }
            for start in stride(from: 0, to: flood, by: burst) {
                guard sendBurst(client, (start..<min(flood, start + burst)).map { malformed[$0 % malformed.count] }) else { return }
            }
        }
        let sender = Task(executorPreference: OwnThreadsExecutor.shared) {
            let client = TestClient.udp()
            defer { client.close() }
            for start in stride(from: 0, to: valid, by: 100) {
                let datagrams = (start..<start + 100).map { i in
                    gaugeDatagram(host: "valid", value: Double(i), second: 1_700_000_000 + UInt64(i))
                }
                guard sendBurst(client, datagrams) else { return }
            }
        }
        await flooder.value
        await sender.value
        output.wait(timeout: 20) { $0.lineCount() >= valid && rejected.count >= flood }
        _ = daemon.stop()
        #expect(output.lineCount() == valid, "valid points arrived: \(output.lineCount()) of \(valid)")
        #expect(Set(output.points().map { $0.fields.first?.value }).count == valid)
        #expect(rejected.count == flood, "malformed datagrams counted: \(rejected.count) of \(flood)")
        #expect(log.count(containing: "rejected input:") == 1, "\(log.lines.withLock { $0.prefix(5) })")
    }

    @Test("sign and encrypt levels: forged, wrongly keyed and unauthenticated data never reaches the output; valid data all does",
          arguments: [CollectdSecurityLevel.sign, .encrypt])
    func forgeries(level: CollectdSecurityLevel) throws {
        let crypto = LibcryptoCollectdCryptography()
        let auth = CollectdAuthFile(passwords: ["relay": "s3cret"])
        var input = collectdInput()
        input.decoder = try CollectdPacketDecoder(securityLevel: level, authFile: auth, cryptography: crypto)
        let (daemon, output, metrics) = try startDaemon(collectd: [input], graphite: [])
        let port = try #require(daemon.addresses["collectd/udp"]?.port)
        let client = TestClient.udp()
        defer { client.close() }
        let iv: [UInt8] = (0..<16).map { UInt8($0 * 7 + 1) }
        func forged(_ i: Int) -> [[UInt8]] {
            let payload = gaugeDatagram(host: "forged", value: Double(i), second: 1_700_000_000 + UInt64(i))
            var signedTampered = CollectdPacketEncoder.signed(payload, user: "relay", password: "s3cret", cryptography: crypto)
            signedTampered[signedTampered.count - 1] ^= 0x01  // the value, after the signature
            var encryptedFlipped = CollectdPacketEncoder.encrypted(payload, user: "relay", password: "s3cret", iv: iv,
                                                                  cryptography: crypto)
            encryptedFlipped[encryptedFlipped.count - 3] ^= 0x40
            return [
                payload,  // plain
                CollectdPacketEncoder.signed(payload, user: "relay", password: "wrong", cryptography: crypto),
                CollectdPacketEncoder.signed(payload, user: "mallory", password: "s3cret", cryptography: crypto),
                signedTampered,
                CollectdPacketEncoder.encrypted(payload, user: "relay", password: "wrong", iv: iv, cryptography: crypto),
                CollectdPacketEncoder.encrypted(payload, user: "mallory", password: "s3cret", iv: iv, cryptography: crypto),
                encryptedFlipped,
                // A good signature over a prefix, then unsigned parts appended after it.
                CollectdPacketEncoder.signed(gaugeDatagram(host: "valid-prefix", value: 0, second: 1_600_000_000), user: "relay",
                                             password: "s3cret", cryptography: crypto) + payload,
            ]
        }
        let valid = 300
        for i in 0..<valid {
            for datagram in forged(i) { client.send(datagram, to: port) }
            let payload = gaugeDatagram(host: "valid", value: Double(i), second: 1_700_000_000 + UInt64(i))
            let good = level == .sign
                ? CollectdPacketEncoder.signed(payload, user: "relay", password: "s3cret", cryptography: crypto)
                : CollectdPacketEncoder.encrypted(payload, user: "relay", password: "s3cret", iv: iv, cryptography: crypto)
            client.send(good, to: port)
        }
        // One client socket: its datagrams are read and decoded in the order sent, so once every
        // valid point has arrived, every forged datagram sent before the last one was decoded too.
        func validHosts(_ output: CaptureOutput) -> Int {
            output.points().filter { point in point.tags.contains(Tag("host", "valid")) }.count
        }
        #expect(output.wait(timeout: 10) { validHosts($0) >= valid }, "waited 10 s for \(valid) valid points; got \(validHosts(output))")
        _ = daemon.stop()
        let points = output.points()
        let hosts = Set(points.compactMap { point in point.tags.first { $0.key == "host" }?.value })
        #expect(!hosts.contains("forged"), "forged points were written: \(points.filter { $0.tags.contains(Tag("host", "forged")) }.count)")
        // At sign, the signed prefix itself is authentic; at encrypt, it is below the level.
        #expect(hosts.isSubset(of: level == .sign ? ["valid", "valid-prefix"] : ["valid"]), "\(hosts)")
        #expect(points.filter { $0.tags.contains(Tag("host", "valid")) }.count == valid)
        let rejected = metrics.snapshot().filter { $0.measurement == "estuary_input" && $0.tags.contains { $0.0 == "reason" } }
        #expect(!rejected.isEmpty)
    }
}

/// Datagrams sent so far by a test's senders together.
final class SentDatagrams: Sendable {
    let count = Atomic<Int>(0)
}
