#if canImport(Glibc)
import Glibc
#endif

/// A mutex with one condition variable, on pthreads, whose timed waits use CLOCK_MONOTONIC
/// (a wall-clock step never stretches or cuts a wait). Guards a value of type `State`.
///
/// `withLock` runs a closure with the state; inside `withLockWaiting` the closure may `wait(untilMonotonic:)`,
/// which releases the mutex while sleeping. The state is a class so that a waiting closure
/// holds a reference, not an exclusive `inout` access other threads would then violate.
final class ConditionLock<State: AnyObject>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private let state: State

    init(_ state: State) {
        self.state = state
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        condition = .allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Runs `body` with the mutex held. `Waiter` lets the body sleep on the condition.
    func withLockWaiting<R>(_ body: (State, Waiter) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(state, Waiter(owner: self))
    }

    /// Runs `body` with the mutex held.
    func withLock<R>(_ body: (State) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(state)
    }

    /// Wakes one waiter (call with or without the mutex held).
    func signal() { pthread_cond_signal(condition) }
    /// Wakes every waiter.
    func broadcast() { pthread_cond_broadcast(condition) }

    /// Only valid inside `withLockWaiting`.
    struct Waiter {
        fileprivate let owner: ConditionLock<State>

        /// Sleeps until signalled or until the monotonic time `deadline` (ns; nil = no
        /// deadline). Spurious wake-ups happen: callers re-check their condition.
        func wait(untilMonotonic deadline: UInt64?) {
            guard let deadline else {
                pthread_cond_wait(owner.condition, owner.mutex)
                return
            }
            var spec = timespec()
            spec.tv_sec = Int(deadline / 1_000_000_000)
            spec.tv_nsec = Int(deadline % 1_000_000_000)
            _ = pthread_cond_timedwait(owner.condition, owner.mutex, &spec)
        }
    }
}
