import Dispatch
import EstuaryIO
import EstuaryModel
import EstuaryPipeline
import EstuaryRuntime
import EstuaryTestSupport
import EstuaryWire
import Foundation
import Logging
import Synchronization

/// An output that keeps every batch it is given (the pipeline's tests look at these).
final class CaptureOutput: PipelineOutput {
    let name = "capture"
    private let batches = Mutex<[LineProtocolBatch]>([])

    func enqueue(_ batch: LineProtocolBatch) {
        batches.withLock { $0.append(batch) }
    }

    func drain(until deadline: UInt64) -> PipelineOutputReport {
        PipelineOutputReport(unsentBatches: 0, unsentLines: 0)
    }

    var all: [LineProtocolBatch] { batches.withLock { $0 } }

    /// The points of every batch except self-metrics.
    func points(excludingSelfMetrics: Bool = true) -> [Point] {
        let text = all.filter { !excludingSelfMetrics || $0.source != "self-metrics" }
            .map { String(decoding: $0.bytes, as: UTF8.self) }.joined()
        return LineProtocolParser().parse(text).points
    }

    func lineCount(excludingSelfMetrics: Bool = true) -> Int {
        all.filter { !excludingSelfMetrics || $0.source != "self-metrics" }.reduce(0) { $0 + $1.lines }
    }

    /// Waits (bounded) until `condition` holds.
    @discardableResult
    func wait(timeout: Double = 10, until condition: (CaptureOutput) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition(self) { return true }
            usleep(10_000)
        }
        return condition(self)
    }
}

let testLogger: Logger = {
    var logger = Logger(label: "estuary.tests")
    logger.logLevel = .critical
    return logger
}()

/// A client socket for sending test traffic on loopback.
struct TestClient {
    let fd: Int32

    static func udp(_ family: Int32 = AF_INET) -> TestClient {
        TestClient(fd: socket(family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0))
    }

    static func tcp(to port: UInt16) -> TestClient? {
        LoopbackSockets.tryConnectTCP(port: port).map { TestClient(fd: $0) }
    }

    func send(_ bytes: [UInt8], to port: UInt16, host: String = "127.0.0.1") {
        if host.contains(":") {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = port.bigEndian
            inet_pton(AF_INET6, host, &address.sin6_addr)
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
            return
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr(host)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }

    func write(_ text: String) {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            // MSG_NOSIGNAL: a peer that closed the connection is an answer, not SIGPIPE.
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
    }

    /// Whether the peer closed the connection (reads until EOF, bounded by `timeout`).
    func closedByPeer(timeout: Double) -> Bool {
        var pollfd = Glibc.pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pollfd, 1, Int32(timeout * 1000)) > 0 else { return false }
        var byte: UInt8 = 0
        return Glibc.read(fd, &byte, 1) <= 0
    }

    func close() {
        Glibc.close(fd)
    }
}
