import EstuaryIO
import EstuaryModel
import EstuaryPipeline
import EstuaryRuntime
import EstuaryTestSupport
import Foundation
import Testing

/// What a graceful stop does with the graphite TCP connections still open (Docs/operations.md,
/// "Unfinished lines"): complete lines are delivered, an unfinished last line never is.
@Suite("graceful stop and unfinished lines", .ownThreads, .serialized)
struct StopTests {
    /// A daemon with one graphite TCP listener (one worker) and a client connected to it, once
    /// the listener has accepted the connection.
    func connectedClient() throws -> (Daemon, CaptureOutput, SelfMetrics, TestClient) {
        var options = TCPListenerOptions(listen: try SocketAddress(host: "127.0.0.1", port: 0), tickInterval: 0.05)
        options.workers = 1
        let (daemon, output, metrics) = try startDaemon(collectd: [], graphite: [graphiteInput(tcp: options, udp: false)])
        let port = try #require(daemon.addresses["graphite/tcp"]?.port)
        let client = try #require(TestClient.tcp(to: port))
        let opened = metrics.counter("estuary_input", "connections_opened", [("instance", "graphite")])
        try #require(CaptureOutput().wait(timeout: 10) { _ in opened.count == 1 }, "waited 10 s for the listener to accept the connection")
        return (daemon, output, metrics, client)
    }

    @Test("at a stop, an open connection's unfinished last line is thrown away and counted, never decoded")
    func unfinishedLineAtStopIsDiscarded() throws {
        let (daemon, output, metrics, client) = try connectedClient()
        defer { client.close() }
        // A whole line, then `cpu.load 12345 1700000000` cut after its twelfth byte:
        // `cpu.load 123` would parse as a valid point with the wrong value and the stop's time.
        client.write("whole.metric 1 1700000000\ncpu.load 123")
        #expect(output.wait(timeout: 10) { $0.lineCount() >= 1 }, "waited 10 s for the whole line to be delivered")
        _ = daemon.stop()
        let measurements = output.points().map(\.measurement)
        #expect(measurements == ["whole.metric"], "the unfinished line was decoded at stop")
        let unterminated = metrics.counter("estuary_input", "rejected", [("instance", "graphite"), ("reason", "unterminated_at_stop")])
        #expect(unterminated.count == 1)
        let closedAtStop = metrics.counter("estuary_input", "connections_closed_at_stop", [("instance", "graphite")])
        #expect(closedAtStop.count == 1)
    }

    @Test("a stop first reads what open connections sent: every whole line sent before it is delivered")
    func stopReadsWhatWasSent() throws {
        let (daemon, output, metrics, client) = try connectedClient()
        defer { client.close() }
        // On loopback a finished send() is in the listener's receive buffer.
        client.write((0..<1000).map { "whole.metric \($0) 1700000000\n" }.joined() + "cut.metr")
        _ = daemon.stop()
        #expect(output.lineCount() == 1000, "\(output.lineCount()) of the 1,000 whole lines sent before the stop delivered")
        #expect(!output.points().contains { $0.measurement.hasPrefix("cut") })
        let unterminated = metrics.counter("estuary_input", "rejected", [("instance", "graphite"), ("reason", "unterminated_at_stop")])
        #expect(unterminated.count == 1)
    }

    @Test("when the peer closes after an unterminated last line, that line is still a line (as before)")
    func peerClosesAfterUnterminatedLine() throws {
        let (daemon, output, metrics, client) = try connectedClient()
        client.write("first.metric 1 1700000000\nlast.metric 2 1700000000")
        client.close()
        #expect(output.wait(timeout: 10) { $0.lineCount() >= 2 }, "waited 10 s for both lines; got \(output.lineCount())")
        _ = daemon.stop()
        #expect(output.points().map(\.measurement).sorted() == ["first.metric", "last.metric"])
        let unterminated = metrics.counter("estuary_input", "rejected", [("instance", "graphite"), ("reason", "unterminated_at_stop")])
        #expect(unterminated.count == 0)
    }
}
