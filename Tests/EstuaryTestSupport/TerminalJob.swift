#if canImport(Glibc)
import Glibc
#endif
import CLinuxDescriptors
import Foundation

/// A command run as a terminal job, the way a user runs `make run` and presses Ctrl-C: the
/// leader of a new session whose controlling terminal (and stdin, stdout, stderr) is a
/// pseudo-terminal, so ^C written to the master side reaches the whole foreground process
/// group as SIGINT. What the job writes to the terminal is read continuously (a full pty
/// buffer would block it) and kept. Killed with its process group when the object goes away.
public final class TerminalJob: @unchecked Sendable {  // `bytes`, `readerShouldStop`, `slaveOpen` under `lock`
    /// The session leader (its pid is also the session's and the process group's id).
    public let child: ChildProcess
    private let master: Int32
    /// The slave side, held open here so the master never reads EIO before the job has
    /// opened its side, or after the job ends while its output is still being read.
    private let slave: Int32
    private var slaveOpen = true
    private let lock = NSLock()
    private var bytes: [UInt8] = []
    private var readerShouldStop = false
    /// Entered while the reader thread runs.
    private let reading = DispatchGroup()

    /// Starts `path` with `arguments`, and `environment` added to this process's environment.
    public init(path: String, arguments: [String], environment: [String: String]) throws {
        var name = [CChar](repeating: 0, count: 128)
        let master = estuary_open_pseudo_terminal(&name, UInt(name.count))
        guard master >= 0 else { throw LoopbackSocketError(call: "posix_openpt, grantpt, unlockpt, ptsname_r", errno: errno) }
        let slavePath = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let slave = open(slavePath, O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard slave >= 0 else {
            let error = errno
            close(master)
            throw LoopbackSocketError(call: "open \(slavePath)", errno: error)
        }
        do {
            child = try ChildProcess(path: path, arguments: arguments, environment: environment, terminal: slavePath)
        } catch {
            close(slave)
            close(master)
            throw error
        }
        self.master = master
        self.slave = slave
        reading.enter()
        let reader = Thread { [self] in readTerminal() }
        reader.name = "terminal-job-reader"
        reader.start()
    }

    deinit {
        if child.isRunning {
            child.signal(SIGKILL, group: true)
            child.waitForExit(timeout: 10)
        }
        lock.lock()
        readerShouldStop = true
        lock.unlock()
        // The reader polls at most 100 ms at a time; only once it has returned are the
        // descriptors closed (closed under it, their numbers could be reused by another test).
        reading.wait()
        closeSlave()
        close(master)
    }

    /// Everything the job wrote to its terminal so far.
    public var output: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Types Ctrl-C: the terminal's line discipline sends SIGINT to the foreground process group.
    public func pressCtrlC() throws {
        var interrupt: UInt8 = 0x03
        var written: Int
        repeat { written = write(master, &interrupt, 1) } while written < 0 && errno == EINTR
        guard written == 1 else { throw LoopbackSocketError(call: "write ^C to the pty master", errno: errno) }
    }

    /// Waits at most `timeout` seconds for `text` on the terminal; false if it did not come
    /// (or the job ended without writing it).
    public func waitForOutput(_ text: String, timeout: Double) -> Bool {
        waitUntil(timeout: timeout) { output.contains(text) || !child.isRunning } && output.contains(text)
    }

    /// Waits at most `timeout` seconds for the session leader to end; where it is then. Once
    /// it has ended, `output` holds everything the job wrote: this side's copy of the terminal
    /// is closed, and the reader reads up to the end the kernel then reports (EIO), at most 5 s.
    @discardableResult
    public func waitForExit(timeout: Double) -> ChildProcess.Ending {
        child.waitForExit(timeout: timeout)
        let ending = child.ending
        if ending != .running {
            closeSlave()
            _ = reading.wait(timeout: .now() + 5)
        }
        return ending
    }

    /// Closes this side's copy of the slave, once: with the job's copies gone too, the master
    /// reads what is left and then EIO.
    private func closeSlave() {
        lock.lock()
        defer { lock.unlock() }
        guard slaveOpen else { return }
        slaveOpen = false
        close(slave)
    }

    /// Reads the master side until the object goes away.
    private func readTerminal() {
        defer { reading.leave() }
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            lock.lock()
            let stop = readerShouldStop
            lock.unlock()
            if stop { return }
            var entry = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
            let ready = poll(&entry, 1, 100)
            if ready < 0 && errno != EINTR { return }
            guard ready > 0 else { continue }
            let count = read(master, &chunk, chunk.count)
            if count > 0 {
                lock.lock()
                bytes.append(contentsOf: chunk[0..<count])
                lock.unlock()
            } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                return
            }
        }
    }
}
