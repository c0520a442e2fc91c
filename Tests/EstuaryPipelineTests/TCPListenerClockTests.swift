@testable import EstuaryIO
import EstuaryRuntime
import EstuaryTestSupport
import Synchronization
import Testing

/// A stream handler that records what the listener tells it.
final class RecordingStreamHandler: StreamHandler, @unchecked Sendable {  // state under `state`'s lock
    private let state = Mutex<(events: [ConnectionEvent], lines: Int, thrownAway: [Int])>(([], 0, []))

    var events: [ConnectionEvent] { state.withLock { $0.events } }
    var lines: Int { state.withLock { $0.lines } }
    /// The lengths of unfinished lines thrown away when Estuary closed a connection.
    var thrownAway: [Int] { state.withLock { $0.thrownAway } }

    func handle(lines: UnsafeRawBufferPointer, from connection: ConnectionInfo) {
        let count = lines.count(where: { $0 == UInt8(ascii: "\n") })
        state.withLock { $0.lines += count }
    }

    func lineTooLong(length: Int, from connection: ConnectionInfo) {}
    func unfinishedLineThrownAway(length: Int, because event: ConnectionEvent, from connection: ConnectionInfo) {
        state.withLock { $0.thrownAway.append(length) }
    }

    func connectionEvent(_ event: ConnectionEvent, _ connection: ConnectionInfo) {
        state.withLock { $0.events.append(event) }
    }

    func tick() {}
    func finish() {}
}

/// The listener's idle and read timeouts decided by a manual clock: the test moves the clock
/// and sweeps; the tick timer is set far off so it never sweeps on its own.
@Suite("TCP listener timeouts by the clock", .ownThreads)
struct TCPListenerClockTests {
    /// A started one-worker listener on loopback, a connected client, and the handler once it
    /// has seen the connection open.
    func connect(idleTimeout: Double, readTimeout: Double, clock: ManualClock)
        throws -> (TCPListener, TestClient, RecordingStreamHandler) {
        let handler = RecordingStreamHandler()
        let options = TCPListenerOptions(listen: try SocketAddress(host: "127.0.0.1", port: 0), idleTimeout: idleTimeout,
                                         readTimeout: readTimeout, workers: 1, tickInterval: 3600)
        let listener = try TCPListener(name: "clock", options: options, clock: clock) { handler }
        listener.start()
        let port = try #require(listener.boundAddress?.port)
        let client = try #require(TestClient.tcp(to: port))
        try #require(waitUntil(timeout: 5) { handler.events == [.opened] })
        return (listener, client, handler)
    }

    /// One sweep closes the connection as `event`: the peer sees the close, the handler the event.
    func expectSweepCloses(_ listener: TCPListener, _ client: TestClient, _ handler: RecordingStreamHandler,
                           as event: ConnectionEvent, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(listener.sweep() == 1, sourceLocation: sourceLocation)
        #expect(client.closedByPeer(timeout: 5), "waited 5 s for the peer to see the close", sourceLocation: sourceLocation)
        #expect(waitUntil(timeout: 5) { handler.events == [.opened, event] }, "waited 5 s for the events [opened, \(event)]: \(handler.events)",
                sourceLocation: sourceLocation)
    }

    @Test("a connection is closed as idle only once the clock is past idle_timeout since its last bytes")
    func idleTimeout() throws {
        let clock = ManualClock()
        let (listener, client, handler) = try connect(idleTimeout: 30, readTimeout: 10, clock: clock)
        defer {
            client.close()
            listener.stop()
        }
        clock.advance(by: 20)
        client.write("a.metric 1 1700000000\n")  // bytes at +20 s: idle from there
        try #require(waitUntil(timeout: 5) { handler.lines == 1 })
        clock.advance(by: 30)  // +50 s: 30 s silent, not more
        #expect(listener.sweep() == 0)
        #expect(listener.openConnections == 1)
        clock.advance(byNanoseconds: 1)
        expectSweepCloses(listener, client, handler, as: .idleClosed)
        #expect(handler.lines == 1)
    }

    @Test("closed for idleness in the middle of a line (no read_timeout): the unfinished line is thrown away, not decoded")
    func idleCloseThrowsAwayUnfinishedLine() throws {
        let clock = ManualClock()
        let (listener, client, handler) = try connect(idleTimeout: 30, readTimeout: 0, clock: clock)
        defer {
            client.close()
            listener.stop()
        }
        client.write("whole.metric 1 1700000000\ncpu.load 123")  // cut from `cpu.load 12345 1700000000`
        try #require(waitUntil(timeout: 5) { handler.lines == 1 })
        clock.advance(by: 31)
        expectSweepCloses(listener, client, handler, as: .idleClosed)
        #expect(handler.lines == 1, "the unfinished line was handed over as a line")
        #expect(handler.thrownAway == ["cpu.load 123".utf8.count])
    }

    @Test("an unfinished line older than read_timeout closes the connection (.readTimeout) only once the clock passes it")
    func readTimeout() throws {
        let clock = ManualClock()
        let (listener, client, handler) = try connect(idleTimeout: 300, readTimeout: 10, clock: clock)
        defer {
            client.close()
            listener.stop()
        }
        // One write: a whole line, then a line begun at the clock's current time.
        client.write("whole.metric 1 1700000000\nstalled.metric 1 17")
        try #require(waitUntil(timeout: 5) { handler.lines == 1 })
        clock.advance(by: 10)
        #expect(listener.sweep() == 0)
        #expect(listener.openConnections == 1)
        clock.advance(byNanoseconds: 1)
        expectSweepCloses(listener, client, handler, as: .readTimeout)
        #expect(handler.lines == 1, "the unfinished line is thrown away")
    }
}
