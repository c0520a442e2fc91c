import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Where a runtime part reads the time its decisions depend on (is a connection idle, a batch
/// due, a retry due, a device due), so that tests can drive time by hand. Threads still sleep
/// in real time; what they decide when they wake comes from the clock.
public protocol Clock: Sendable {
    /// Monotonic time in nanoseconds, for deadlines, ages and intervals; never goes back.
    func monotonicNow() -> UInt64
    /// Wall-clock time in nanoseconds since the Unix epoch, for timestamps.
    func wallNow() -> Int64
    /// The CLOCK_MONOTONIC time at which a sleeping thread should wake to find this clock at
    /// `deadline` (a monotonic time of this clock): as far off in real time as `deadline` is
    /// from this clock's now, and `deadline` itself for the system clock.
    func sleepDeadline(until deadline: UInt64) -> UInt64
}

extension Clock {
    public func sleepDeadline(until deadline: UInt64) -> UInt64 {
        let now = monotonicNow()
        let left = deadline > now ? deadline - now : 0
        let (wake, overflow) = SystemClock().monotonicNow().addingReportingOverflow(left)
        return overflow ? .max : wake
    }
}

/// The system's clocks, CLOCK_MONOTONIC and CLOCK_REALTIME: what the daemon runs on.
public struct SystemClock: Clock {
    public init() {}

    @inline(__always)
    public func monotonicNow() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }

    @inline(__always)
    public func wallNow() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }

    public func sleepDeadline(until deadline: UInt64) -> UInt64 { deadline }
}

/// A clock whose time moves only when told to (`advance(by:)`, `set`), for tests and
/// simulations: decisions made from it are driven without sleeping. Safe from any thread.
public final class ManualClock: Clock {
    private let state: Mutex<(monotonic: UInt64, wall: Int64)>

    /// Starts at the given times: by default 1,000 s of monotonic time (far from zero, so
    /// that "now minus a timeout" never wraps) and 2023-11-14T22:13:20Z.
    public init(monotonic: UInt64 = 1_000_000_000_000, wall: Int64 = 1_700_000_000_000_000_000) {
        state = Mutex((monotonic, wall))
    }

    public func monotonicNow() -> UInt64 { state.withLock { $0.monotonic } }

    public func wallNow() -> Int64 { state.withLock { $0.wall } }

    /// Moves both clocks on by `nanoseconds`.
    public func advance(byNanoseconds nanoseconds: UInt64) {
        state.withLock {
            $0.monotonic += nanoseconds
            $0.wall += Int64(nanoseconds)
        }
    }

    /// Moves both clocks on by `seconds` (not negative).
    public func advance(by seconds: Double) {
        precondition(seconds >= 0 && seconds.isFinite, "a manual clock only moves forward")
        advance(byNanoseconds: UInt64((seconds * 1e9).rounded()))
    }

    /// Sets the monotonic time (not earlier than now); the wall clock moves by as much.
    public func set(monotonic: UInt64) {
        state.withLock {
            precondition(monotonic >= $0.monotonic, "monotonic time never goes back")
            $0.wall += Int64(monotonic - $0.monotonic)
            $0.monotonic = monotonic
        }
    }

    /// Steps the wall clock alone (as NTP or an operator may), either way.
    public func set(wall: Int64) {
        state.withLock { $0.wall = wall }
    }
}

/// Monotonic time in nanoseconds from the system clock (`SystemClock`), for code that is not
/// handed a clock.
public enum MonotonicClock {
    @inline(__always)
    public static func now() -> UInt64 { SystemClock().monotonicNow() }
}

/// Wall-clock time in nanoseconds since the epoch from the system clock (`SystemClock`), for
/// code that is not handed a clock.
public enum WallClock {
    @inline(__always)
    public static func now() -> Int64 { SystemClock().wallNow() }
}
