#if canImport(Glibc)
import Glibc
#endif
import CLinuxDescriptors
import Foundation

/// A child process for test servers (influxd, collectd, snmpd …), started with posix_spawn
/// so that it gets a clean start: an empty signal mask, default dispositions, its own process
/// group, and no descriptor of the test process but stdin (/dev/null), stdout and stderr (the
/// output file).
///
/// Why not Foundation's `Process`: it passes on the spawning thread's signal mask, and the
/// threads Swift Testing runs tests on block most signals. A child started that way never
/// sees SIGTERM (it stays pending), so a graceful stop always ends in SIGKILL after the wait.
///
/// Why close the rest: the suites run side by side in one process. Without it, a child
/// inherits whatever other tests hold open at that moment (10,000 client sockets, listening
/// sockets, pipes), keeps those connections alive after their owners close them, and starts
/// with its descriptor table already full.
public final class ChildProcess: @unchecked Sendable {
    /// The child's pid (also its process group id).
    public let pid: pid_t
    /// Readable once the child has exited (pidfd, close-on-exec); -1 if the kernel has none.
    private let exitEvent: Int32
    private let lock = NSLock()
    private var exit: Exit?

    /// How a child ended, as far as this process could tell.
    private enum Exit {
        /// waitpid's raw status.
        case status(Int32)
        /// It ended, but something else in the process reaped it (waitpid said ECHILD), so
        /// its status is unknown.
        case reapedElsewhere
    }

    /// Where a child is, for assertions and failure messages.
    public enum Ending: Equatable, CustomStringConvertible {
        case running
        case exited(Int32)
        case killed(signal: Int32)
        /// Something else in the process reaped it: it ended, with a status nobody knows.
        case reapedElsewhere

        public var description: String {
            switch self {
            case .running: return "still running"
            case .exited(let code): return "exited \(code)"
            case .killed(let signal): return "killed by signal \(signal)"
            case .reapedElsewhere: return "ended, reaped by something else (status unknown)"
            }
        }
    }

    /// Starts `path` with `arguments`; stdout and stderr go to `outputPath` (appended),
    /// stdin is /dev/null, and no other descriptor is passed on.
    public convenience init(path: String, arguments: [String], outputPath: String) throws {
        try self.init(path: path, arguments: arguments, standardInput: "/dev/null",
                      standardOutput: outputPath, standardError: nil)
    }

    /// Starts `path` with `arguments`, stdin read from the file `standardInput`, stdout
    /// appended to `standardOutput`, and stderr appended to `standardError` (nil: with
    /// stdout). No other descriptor is passed on.
    public init(path: String, arguments: [String], standardInput: String, standardOutput: String,
                standardError: String?) throws {
        pid = try Self.spawn(path: path, arguments: arguments, environment: [:], newSession: false) { actions in
            posix_spawn_file_actions_addopen(&actions, 0, standardInput, O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, standardOutput, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            if let standardError {
                posix_spawn_file_actions_addopen(&actions, 2, standardError, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            } else {
                posix_spawn_file_actions_adddup2(&actions, 1, 2)
            }
        }
        exitEvent = estuary_pidfd_open(pid)
    }

    /// Starts `path` as a terminal job: the leader of a new session whose controlling
    /// terminal, stdin, stdout and stderr are the pseudo-terminal `terminal` (its slave side's
    /// path), so a ^C typed on the master side reaches its whole foreground process group.
    /// `environment` is added to this process's environment.
    public init(path: String, arguments: [String], environment: [String: String], terminal: String) throws {
        pid = try Self.spawn(path: path, arguments: arguments, environment: environment, newSession: true) { actions in
            // After setsid (glibc runs it before the file actions), opening a terminal without
            // O_NOCTTY makes it the new session's controlling terminal.
            posix_spawn_file_actions_addopen(&actions, 0, terminal, O_RDWR, 0)
            posix_spawn_file_actions_adddup2(&actions, 0, 1)
            posix_spawn_file_actions_adddup2(&actions, 0, 2)
        }
        exitEvent = estuary_pidfd_open(pid)
    }

    /// posix_spawn with what every child gets: the descriptors `streams` sets up and no other,
    /// an empty signal mask, default signal dispositions, and its own process group (or, with
    /// `newSession`, its own session).
    private static func spawn(path: String, arguments: [String], environment: [String: String], newSession: Bool,
                              streams: (inout posix_spawn_file_actions_t) -> Void) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        streams(&actions)
        let closing = estuary_spawn_close_from(&actions, 3)
        guard closing == 0 else { throw LoopbackSocketError(call: "posix_spawn_file_actions_addclosefrom_np", errno: closing) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attributes, &all)
        var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        if newSession {
            flags |= estuary_spawn_new_session_flag()
        } else {
            posix_spawnattr_setpgroup(&attributes, 0)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))

        var variables = ProcessInfo.processInfo.environment
        for (key, value) in environment { variables[key] = value }
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, path, &actions, &attributes, argv, envp)
        guard rc == 0 else { throw LoopbackSocketError(call: "posix_spawn \(path)", errno: rc) }
        return child
    }

    deinit {
        if isRunning {
            kill(-pid, SIGKILL)
            _ = waitForExit(timeout: 5)
        }
        if exitEvent >= 0 { close(exitEvent) }
    }

    /// Reaps the child if it has ended (non-blocking).
    public var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        if exit != nil { return false }
        var status: Int32 = 0
        var rc: pid_t
        repeat { rc = waitpid(pid, &status, WNOHANG) } while rc < 0 && errno == EINTR
        if rc == pid {
            exit = .status(status)
        } else if rc < 0 && errno == ECHILD {
            // Not our child any more: only an ended child can be reaped, so it has ended;
            // its status went to whoever reaped it.
            exit = .reapedElsewhere
        }
        return exit == nil
    }

    /// The raw wait status once the child has ended; nil while it runs, or if its status was
    /// lost to another reaper (so a lost status never reads as a clean exit).
    public var terminationStatus: Int32? {
        _ = isRunning
        lock.lock()
        defer { lock.unlock() }
        if case .status(let status)? = exit { return status }
        return nil
    }

    /// Where the child is now (reaping it if it has ended).
    public var ending: Ending {
        _ = isRunning
        lock.lock()
        defer { lock.unlock() }
        switch exit {
        case nil: return .running
        case .reapedElsewhere?: return .reapedElsewhere
        case .status(let status)?:
            return status & 0x7F == 0 ? .exited((status >> 8) & 0xFF) : .killed(signal: status & 0x7F)
        }
    }

    /// The exit code (0–255) if the child called exit; nil while it runs, if a signal ended
    /// it, or if its status was lost.
    public var exitCode: Int32? {
        guard let status = terminationStatus, status & 0x7F == 0 else { return nil }
        return (status >> 8) & 0xFF
    }

    /// Sends `signal` to the child (or, with `group`, to its whole process group).
    public func signal(_ signal: Int32, group: Bool = false) {
        guard isRunning else { return }
        kill(group ? -pid : pid, signal)
    }

    /// Waits at most `timeout` seconds for the child to end (woken by its exit, not by
    /// polling); true if it did.
    @discardableResult
    public func waitForExit(timeout: Double) -> Bool {
        let deadline = MonotonicDeadline(seconds: timeout)
        while isRunning {
            let remaining = deadline.remainingMilliseconds
            if remaining == 0 { return !isRunning }
            if exitEvent >= 0 {
                var entry = pollfd(fd: exitEvent, events: Int16(POLLIN), revents: 0)
                _ = poll(&entry, 1, remaining)  // EINTR or readiness: look again
            } else {
                usleep(UInt32(min(remaining, 10)) * 1000)
            }
        }
        return true
    }

    /// `waitForExit` off Swift's cooperative threads, for async tests.
    public func exited(timeout: Double) async -> Bool {
        await blockingWait { self.waitForExit(timeout: timeout) }
    }

    /// SIGTERM, then SIGKILL to the whole group after `grace` seconds. True if it ended gracefully.
    @discardableResult
    public func stop(grace: Double = 5) -> Bool {
        guard isRunning else { return true }
        signal(SIGTERM)
        if waitForExit(timeout: grace) { return true }
        kill(-pid, SIGKILL)
        waitForExit(timeout: 5)
        return false
    }
}
