import CLinuxDescriptors
import Dispatch
import EstuaryRuntime
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What a TCP listener hands its bytes to. One handler per worker queue, shared by the
/// connections that queue serves; every call comes on that queue.
public protocol StreamHandler: AnyObject {
    /// Complete lines (each but possibly the last ended by `\n`) from one connection.
    func handle(lines: UnsafeRawBufferPointer, from connection: ConnectionInfo)
    /// A line longer than the limit was thrown away (it never reaches `handle`).
    func lineTooLong(length: Int, from connection: ConnectionInfo)
    /// Estuary closed this connection (`because`: `.closedAtStop` or `.idleClosed`) while the
    /// peer was in the middle of a line: the unfinished line (`length` bytes) was thrown away,
    /// never decoded, since a line cut at any byte can parse as a valid but wrong point.
    func unfinishedLineThrownAway(length: Int, because event: ConnectionEvent, from connection: ConnectionInfo)
    /// A connection was accepted, closed by its peer, closed for idleness or a line too slow
    /// to arrive, refused (too many), or denied (not on the allow list).
    func connectionEvent(_ event: ConnectionEvent, _ connection: ConnectionInfo)
    /// Called every tick interval.
    func tick()
    /// Called once after the listener stopped.
    func finish()
}

/// Who is on the other end of a connection.
public struct ConnectionInfo: Sendable {
    public let id: Int
    public let peer: SocketAddress?
}

/// What happened to a connection.
public enum ConnectionEvent: String, Sendable {
    case opened, closed, idleClosed = "idle_closed", refused, readError = "read_error"
    /// Closed at once: the peer is not on the listener's allow list.
    case denied
    /// Closed because a line was begun and not finished within the read timeout (slowloris);
    /// the unfinished line is thrown away.
    case readTimeout = "read_timeout"
    /// Closed by the listener's stop while the peer still had it open; what had arrived is
    /// handed over, an unfinished last line is thrown away (`unfinishedLineThrownAway`).
    case closedAtStop = "closed_at_stop"
}

/// Settings of a TCP listener.
public struct TCPListenerOptions: Sendable {
    public var listen: SocketAddress
    /// Connections beyond this are accepted and closed at once (counted as refused).
    public var maxConnections: Int
    /// A line longer than this is thrown away up to its newline.
    public var maxLineLength: Int
    /// A connection silent this long (seconds) is closed.
    public var idleTimeout: Double
    /// A line must arrive whole within this many seconds of its first byte, or the
    /// connection is closed and the unfinished line thrown away (0: no limit). This closes
    /// slowloris senders: one that stops mid-line, and one that trickles bytes too slowly to
    /// finish a line in time.
    public var readTimeout: Double
    /// Who may connect; anyone else is closed at once, before a byte is read.
    public var allow: AllowList
    /// SO_RCVBUF per connection (0: the kernel's default).
    public var receiveBuffer: Int
    /// Serial queues the connections are spread over.
    public var workers: Int
    /// Seconds between `tick()` calls (and idle checks).
    public var tickInterval: Double

    public init(listen: SocketAddress, maxConnections: Int = 1024, maxLineLength: Int = 16384, idleTimeout: Double = 300,
                readTimeout: Double = 30, receiveBuffer: Int = 0, workers: Int = 2, tickInterval: Double = 0.2,
                allow: AllowList = .everyone) {
        self.listen = listen
        self.readTimeout = readTimeout
        self.allow = allow
        self.maxConnections = maxConnections
        self.maxLineLength = maxLineLength
        self.idleTimeout = idleTimeout
        self.receiveBuffer = receiveBuffer
        self.workers = workers
        self.tickInterval = tickInterval
    }
}

/// Accepts TCP connections and frames their bytes into lines, on Dispatch sources:
/// nonblocking reads, a carry-over buffer per connection for a line split across reads,
/// a maximum line length, an idle timeout, a read timeout for unfinished lines, an allow
/// list and a connection cap. A slow or stalled sender only holds its own buffer (at most
/// `maxLineLength`); it never blocks other connections. When the process runs out of file
/// descriptors, a descriptor kept in reserve lets it accept and close the waiting
/// connection instead of spinning on a failing `accept`.
public final class TCPListener: @unchecked Sendable {  // listener state confined to `acceptQueue`, connections to their worker
    public let name: String
    public let options: TCPListenerOptions
    private let socket: Socket
    private let acceptQueue: DispatchQueue
    private var acceptSource: (any DispatchSourceRead)?
    private var workers: [Worker] = []
    private var nextWorker = 0
    private var nextID = 0
    private let open = Atomic<Int>(0)
    /// A descriptor held in reserve (on /dev/null) for when `accept` fails with EMFILE or
    /// ENFILE: closed to accept the waiting connection and close it, then opened again.
    private var reserve = DescriptorReserve()

    /// Bytes read per `read` call, and reads per wake-up before yielding.
    static let readSize = 64 * 1024
    static let readsPerWakeUp = 16

    /// Binds and listens. `makeHandler` is called once per worker. `clock` decides when a
    /// connection is idle or its line too slow (the checks still run every tick, in real time).
    public init(name: String, options: TCPListenerOptions, clock: any Clock = SystemClock(),
                makeHandler: () -> any StreamHandler) throws(SocketError) {
        self.name = name
        self.options = options
        socket = try Socket.listening(on: options.listen, backlog: 1024)
        acceptQueue = DispatchQueue(label: "estuary.\(name).accept")
        reserve.open()
        for index in 0..<max(1, options.workers) {
            workers.append(Worker(listener: name, index: index, options: options, clock: clock, handler: makeHandler()))
        }
        for worker in workers {
            worker.decrementOpen = { [weak self] in self?.open.wrappingSubtract(1, ordering: .relaxed) }
        }
    }

    /// The address the listener is bound to (the real port when the configuration said 0).
    public var boundAddress: SocketAddress? { socket.localAddress() }

    /// Connections open now.
    public var openConnections: Int { open.load(ordering: .relaxed) }

    /// Runs every worker's idle and read-timeout check now, on its queue; returns how many
    /// connections it began to close. The tick timer runs it; tests call it after moving the clock.
    @discardableResult
    func sweep() -> Int {
        workers.reduce(0) { closed, worker in closed + worker.queue.sync { worker.closeIdle() } }
    }

    public func start() {
        let source = DispatchSource.makeReadSource(fileDescriptor: socket.fd, queue: acceptQueue)
        source.setEventHandler { @Sendable [weak self] in self?.acceptAll() }
        source.setCancelHandler { @Sendable [weak self, socket] in
            socket.close()
            self?.reserve.close()  // on the accept queue, where the reserve lives
        }
        acceptSource = source
        source.resume()
        for worker in workers { worker.start() }
    }

    /// Stops accepting, reads what open connections have sent and hands over their complete
    /// lines, closes them (an unfinished last line is thrown away and counted, never handed
    /// over) and waits for the workers to finish, at most `timeout` seconds.
    public func stop(timeout: Double = 5) {
        acceptQueue.sync {
            if let acceptSource {
                acceptSource.cancel()
            } else {
                socket.close()  // never started: no source owns the descriptor
                reserve.close()
            }
        }
        for worker in workers { worker.stop() }
        for worker in workers { _ = worker.finished.wait(timeout: .now() + timeout) }
    }

    private func acceptAll() {
        while true {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    estuary_accept_cloexec(socket.fd, $0, &length, 1)
                }
            }
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                if reserve.shed(listener: socket.fd, error: errno) {
                    // Out of descriptors: the waiting connection was accepted and closed.
                    let worker = workers[nextWorker % workers.count]
                    nextWorker += 1
                    nextID += 1
                    let info = ConnectionInfo(id: nextID, peer: nil)
                    worker.queue.async { worker.handler.connectionEvent(.refused, info) }
                    continue
                }
                return  // EAGAIN (other errors: the source fires again)
            }
            nextID += 1
            let peer = withUnsafePointer(to: &storage) { SocketAddress(storage: $0) }
            let info = ConnectionInfo(id: nextID, peer: peer)
            let worker = workers[nextWorker % workers.count]
            nextWorker += 1
            if !options.allow.allowsEveryone, !withUnsafePointer(to: &storage, { options.allow.allows($0) }) {
                Glibc.close(fd)
                worker.queue.async { worker.handler.connectionEvent(.denied, info) }
                continue
            }
            if open.load(ordering: .relaxed) >= options.maxConnections {
                Glibc.close(fd)
                worker.queue.async { worker.handler.connectionEvent(.refused, info) }
                continue
            }
            open.wrappingAdd(1, ordering: .relaxed)
            let connectionSocket = Socket(fd: fd)
            if options.receiveBuffer > 0 {
                _ = try? connectionSocket.setOption(SOL_SOCKET, SO_RCVBUF, Int32(clamping: options.receiveBuffer), "SO_RCVBUF")
            }
            worker.queue.async { worker.add(Connection(socket: connectionSocket, info: info, now: worker.clock.monotonicNow())) }
        }
    }

    /// One accepted connection: its socket, source and carry-over (confined to its worker's queue).
    final class Connection: @unchecked Sendable {
        let socket: Socket
        let info: ConnectionInfo
        var source: (any DispatchSourceRead)?
        var carry: [UInt8] = []
        /// Inside a line that was too long: throw bytes away up to the next newline.
        var discarding = 0
        /// When the connection last sent bytes (the worker's clock, monotonic ns).
        var lastActivity: UInt64
        /// When the unfinished line (in `carry`, or being discarded) began; nil between lines.
        var partialSince: UInt64?
        var closeReason = ConnectionEvent.closed

        /// `now`: when the connection was accepted (the worker's clock).
        init(socket: Socket, info: ConnectionInfo, now: UInt64) {
            self.socket = socket
            self.info = info
            lastActivity = now
        }
    }

    /// A serial queue with its connections, its handler and a read buffer.
    final class Worker: @unchecked Sendable {  // confined to `queue`
        let queue: DispatchQueue
        let handler: any StreamHandler
        let options: TCPListenerOptions
        let clock: any Clock
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: TCPListener.readSize, alignment: 16)
        var connections: [Int: Connection] = [:]
        var timer: (any DispatchSourceTimer)?
        let finished = DispatchGroup()
        var stopping = false
        /// Set by the listener: one connection fewer is open.
        var decrementOpen: @Sendable () -> Void = {}

        init(listener: String, index: Int, options: TCPListenerOptions, clock: any Clock, handler: any StreamHandler) {
            queue = DispatchQueue(label: "estuary.\(listener).tcp\(index)", qos: .userInitiated)
            self.options = options
            self.clock = clock
            self.handler = handler
        }

        deinit {
            buffer.deallocate()
        }

        private var started = false

        func start() {
            started = true
            finished.enter()
            let timer = DispatchSource.makeTimerSource(queue: queue)
            let nanos = Int(options.tickInterval * 1e9)
            timer.schedule(deadline: .now() + .nanoseconds(nanos), repeating: .nanoseconds(nanos), leeway: .milliseconds(5))
            timer.setEventHandler { @Sendable [self] in
                closeIdle()
                handler.tick()
            }
            self.timer = timer
            timer.resume()
        }

        func add(_ connection: Connection) {
            if stopping {
                connection.socket.close()
                decrementOpen()
                return
            }
            connections[connection.info.id] = connection
            handler.connectionEvent(.opened, connection.info)
            let source = DispatchSource.makeReadSource(fileDescriptor: connection.socket.fd, queue: queue)
            source.setEventHandler { @Sendable [self, connection] in read(connection) }
            source.setCancelHandler { @Sendable [self, connection] in
                // Only here may the descriptor be closed.
                switch connection.closeReason {
                case .readTimeout:
                    // Too slow to finish: the line is not handed over (it may be cut anywhere).
                    connection.carry.removeAll()
                    connection.discarding = 0
                case .closedAtStop, .idleClosed:
                    // Estuary closes it, not the peer: an unfinished line may be cut anywhere.
                    discardUnfinished(connection)
                default:
                    // The peer closed (or the read failed): its last line, even unterminated,
                    // is a line (what collectd's write_graphite and `nc` send end that way).
                    flushCarry(connection)
                }
                connection.socket.close()
                connections[connection.info.id] = nil
                handler.connectionEvent(connection.closeReason, connection.info)
                decrementOpen()
                if stopping && connections.isEmpty { finish() }
            }
            connection.source = source
            source.resume()
        }

        private func read(_ connection: Connection) {
            for _ in 0..<TCPListener.readsPerWakeUp {
                let n = Glibc.read(connection.socket.fd, buffer.baseAddress, buffer.count)
                if n > 0 {
                    let now = clock.monotonicNow()
                    connection.lastActivity = now
                    let endedLine = frame(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), connection)
                    if connection.carry.isEmpty && connection.discarding == 0 {
                        connection.partialSince = nil
                    } else if endedLine || connection.partialSince == nil {
                        connection.partialSince = now  // a new line began in this read
                    }
                    if n < buffer.count { return }
                    continue
                }
                if n == 0 {
                    connection.source?.cancel()  // end of stream
                    return
                }
                if errno == EINTR { continue }
                if errno != EAGAIN && errno != EWOULDBLOCK {
                    connection.closeReason = .readError
                    connection.source?.cancel()
                }
                return
            }
        }

        /// Hands complete lines to the handler; keeps the unfinished tail for the next read.
        /// Returns whether a line ended in `bytes`.
        @discardableResult
        private func frame(_ bytes: UnsafeRawBufferPointer, _ connection: Connection) -> Bool {
            var data = bytes
            var ended = false
            if connection.discarding > 0 {
                guard let newline = data.firstIndex(of: UInt8(ascii: "\n")) else {
                    connection.discarding += data.count
                    return false
                }
                ended = true
                handler.lineTooLong(length: connection.discarding + newline, from: connection.info)
                connection.discarding = 0
                data = UnsafeRawBufferPointer(rebasing: data[(newline + 1)...])
            }
            guard let lastNewline = data.lastIndex(of: UInt8(ascii: "\n")) else {
                appendCarry(data, connection)
                return ended
            }
            if connection.carry.isEmpty {
                handler.handle(lines: UnsafeRawBufferPointer(rebasing: data[...lastNewline]), from: connection.info)
            } else {
                // The first line began in an earlier read: complete it, hand it over alone.
                let firstNewline = data.firstIndex(of: UInt8(ascii: "\n"))!
                connection.carry.append(contentsOf: data[...firstNewline])
                if connection.carry.count - 1 > options.maxLineLength {
                    handler.lineTooLong(length: connection.carry.count - 1, from: connection.info)
                } else {
                    connection.carry.withUnsafeBytes { handler.handle(lines: $0, from: connection.info) }
                }
                connection.carry.removeAll(keepingCapacity: connection.carry.capacity <= 64 * 1024)
                if firstNewline < lastNewline {
                    handler.handle(lines: UnsafeRawBufferPointer(rebasing: data[(firstNewline + 1)...lastNewline]),
                                   from: connection.info)
                }
            }
            appendCarry(UnsafeRawBufferPointer(rebasing: data[(lastNewline + 1)...]), connection)
            return true
        }

        private func appendCarry(_ bytes: UnsafeRawBufferPointer, _ connection: Connection) {
            if bytes.isEmpty { return }
            if connection.carry.count + bytes.count > options.maxLineLength {
                // No newline within the limit: drop what we have and skip to the next newline.
                connection.discarding = connection.carry.count + bytes.count
                connection.carry.removeAll()
                return
            }
            connection.carry.append(contentsOf: bytes)
        }

        /// Estuary closes a connection the peer still holds (a stop, idleness): the unfinished
        /// line is thrown away and counted.
        private func discardUnfinished(_ connection: Connection) {
            if connection.discarding > 0 {
                handler.lineTooLong(length: connection.discarding, from: connection.info)
                connection.discarding = 0
            }
            if !connection.carry.isEmpty {
                handler.unfinishedLineThrownAway(length: connection.carry.count, because: connection.closeReason,
                                                 from: connection.info)
                connection.carry.removeAll()
            }
        }

        /// At the end of a connection the peer closed, an unterminated last line is still a line.
        private func flushCarry(_ connection: Connection) {
            if connection.discarding > 0 {
                handler.lineTooLong(length: connection.discarding, from: connection.info)
                connection.discarding = 0
            }
            if !connection.carry.isEmpty {
                connection.carry.withUnsafeBytes { handler.handle(lines: $0, from: connection.info) }
                connection.carry.removeAll()
            }
        }

        /// Closes connections silent for more than `idleTimeout`, and those whose unfinished
        /// line began more than `readTimeout` ago, by the clock; returns how many it closed.
        @discardableResult
        func closeIdle() -> Int {
            guard options.idleTimeout > 0 || options.readTimeout > 0 else { return 0 }
            let now = clock.monotonicNow()
            let idleLimit = options.idleTimeout > 0 ? UInt64(options.idleTimeout * 1e9) : .max
            let readLimit = options.readTimeout > 0 ? UInt64(options.readTimeout * 1e9) : .max
            func elapsed(since time: UInt64) -> UInt64 { now > time ? now - time : 0 }
            var closed = 0
            for connection in connections.values where connection.closeReason == .closed {
                if let since = connection.partialSince, elapsed(since: since) > readLimit {
                    connection.closeReason = .readTimeout
                } else if elapsed(since: connection.lastActivity) > idleLimit {
                    connection.closeReason = .idleClosed
                } else {
                    continue
                }
                connection.source?.cancel()
                closed += 1
            }
            return closed
        }

        func stop() {
            queue.async { [self] in
                stopping = true
                timer?.cancel()
                if connections.isEmpty {
                    finish()
                } else {
                    for connection in connections.values where connection.source?.isCancelled == false {
                        // What the peer sent before the stop is read and handed over (a read
                        // that meets the end of the stream closes it as the peer's close).
                        read(connection)
                        guard connection.source?.isCancelled == false else { continue }
                        connection.closeReason = .closedAtStop
                        connection.source?.cancel()
                    }
                }
            }
        }

        private var didFinish = false

        private func finish() {
            guard !didFinish else { return }
            didFinish = true
            handler.finish()
            if started { finished.leave() }
        }
    }
}
