#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A child process for test servers (influxd, collectd, snmpd …), started with posix_spawn
/// so that it gets a clean signal state: an empty signal mask, default dispositions, and its
/// own process group.
///
/// Why not Foundation's `Process`: it passes on the spawning thread's signal mask, and the
/// threads Swift Testing runs tests on block most signals. A child started that way never
/// sees SIGTERM (it stays pending), so a graceful stop always ends in SIGKILL after the wait.
public final class ChildProcess: @unchecked Sendable {
    /// The child's pid (also its process group id).
    public let pid: pid_t
    private let lock = NSLock()
    private var exitStatus: Int32?

    /// Starts `path` with `arguments`; stdout and stderr go to `outputPath` (appended),
    /// stdin is /dev/null.
    public init(path: String, arguments: [String], outputPath: String) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, path, &actions, &attributes, argv, environ)
        guard rc == 0 else { throw LoopbackSocketError(call: "posix_spawn \(path)", errno: rc) }
        pid = child
    }

    deinit {
        if isRunning {
            kill(-pid, SIGKILL)
            _ = waitForExit(timeout: 2)
        }
    }

    /// Reaps the child if it has ended (non-blocking).
    public var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        if exitStatus != nil { return false }
        var status: Int32 = 0
        let rc = waitpid(pid, &status, WNOHANG)
        if rc == pid || (rc < 0 && errno == ECHILD) {
            exitStatus = status
            return false
        }
        return true
    }

    /// The raw wait status once the child has ended.
    public var terminationStatus: Int32? {
        _ = isRunning
        lock.lock()
        defer { lock.unlock() }
        return exitStatus
    }

    /// Sends `signal` to the child (or, with `group`, to its whole process group).
    public func signal(_ signal: Int32, group: Bool = false) {
        guard isRunning else { return }
        kill(group ? -pid : pid, signal)
    }

    /// Waits at most `timeout` seconds for the child to end; true if it did.
    @discardableResult
    public func waitForExit(timeout: Double) -> Bool {
        waitUntil(timeout: timeout) { !isRunning }
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
