#if canImport(Glibc)
import Glibc
#endif
import EstuaryRuntime
import Foundation

/// A bounded wait gave up: what it waited for, and how long.
public struct WaitTimedOut: Error, CustomStringConvertible {
    public var what: String
    public var seconds: Double

    public init(_ what: String, seconds: Double) {
        self.what = what
        self.seconds = seconds
    }

    public var description: String { "gave up after \(seconds) s waiting for \(what)" }
}

/// A deadline on CLOCK_MONOTONIC (not the wall clock, which can jump), for bounded waits.
public struct MonotonicDeadline: Sendable {
    private let end: UInt64

    public init(seconds: Double) {
        end = Self.now() &+ UInt64(max(0, seconds) * 1e9)
    }

    static func now() -> UInt64 { MonotonicClock.now() }

    public var passed: Bool { Self.now() >= end }

    /// Milliseconds left, rounded up (0 once passed), capped for poll(2).
    public var remainingMilliseconds: Int32 {
        let now = Self.now()
        guard now < end else { return 0 }
        return Int32(min((end - now + 999_999) / 1_000_000, UInt64(Int32.max)))
    }
}

/// Runs a blocking wait on a thread of its own and awaits its result, so that an async test
/// waiting for a child, a socket or a file never holds one of Swift's cooperative threads
/// (there are as many as cores: two blocked waits would stall every other test).
public func blockingWait<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: body()) }
        thread.start()
    }
}

/// Polls `condition` every 10 ms until it holds or `timeout` seconds pass; returns whether it held.
@discardableResult
public func waitUntil(timeout: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = MonotonicDeadline(seconds: timeout)
    while true {
        if try condition() { return true }
        if deadline.passed { return false }
        usleep(10_000)
    }
}
