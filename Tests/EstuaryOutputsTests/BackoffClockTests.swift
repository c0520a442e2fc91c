@testable import EstuaryOutputs
import EstuaryRuntime
import EstuaryTestSupport
import Foundation
import Logging
import Testing

/// The output's flush interval and back-off decided by a manual clock: the test moves the
/// clock and wakes the writer; the writer's own real-time sleeps never decide anything.
@Suite("InfluxDB output back-off by the clock", .ownThreads)
struct BackoffClockTests {
    @Test("after a 503 with Retry-After 5, the retry is due only once the clock has moved 5 s")
    func retryFollowsClock() throws {
        let server = try ScriptedHTTPServer(script: [.respond(status: 503, headers: ["Retry-After": "5"], body: "overloaded")])
        defer { server.stop() }
        let clock = ManualClock()
        // Jitter is at most retryMax (0.2 s): the Retry-After of 5 s is the delay, exactly.
        let configuration = testConfiguration(url: server.url)
        // A partial request waits for flush_interval (0.05 s) by the clock.
        let (output, _) = startedOutputByTheClock(configuration, clock: clock, sending: makeBatch(10, tag: "clock"))
        defer { _ = output.shutdown(deadline: clock.monotonicNow()) }
        try #require(waitUntil(timeout: 5) { output.metrics.retried.count == 1 })
        let failedAt = clock.monotonicNow()

        #expect(!output.retryIsDue)
        clock.set(monotonic: failedAt + 4_999_999_999)
        #expect(!output.retryIsDue)
        output.wakeWriter()
        #expect(!waitUntil(timeout: 0.3) { server.requests.count > 1 }, "woken before the back-off is over, the writer waits")

        clock.set(monotonic: failedAt + 5_000_000_000)
        #expect(output.retryIsDue)
        output.wakeWriter()
        // Well before the 5 s the writer sleeps in real time: the clock, not a timer, sent it.
        #expect(waitUntil(timeout: 3) { output.metrics.writtenLines.count == 10 && output.status.state == .ok })
        let requests = server.requests
        #expect(requests.count == 2)
        #expect(requests.last?.body == requests.first?.body)
        #expect(output.retryIsDue, "nothing held: nothing to wait for")
    }
}
