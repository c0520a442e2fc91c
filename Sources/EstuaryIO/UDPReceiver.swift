import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The address a datagram came from, kept as the kernel gave it; turned into a
/// `SocketAddress` only when someone asks (a log line), so receiving allocates nothing.
public struct PeerAddress: @unchecked Sendable {  // a plain C struct, copied by value
    var storage = sockaddr_storage()

    public var address: SocketAddress? {
        withUnsafePointer(to: storage) { SocketAddress(storage: $0) }
    }
}

/// What a UDP receiver hands its datagrams to. One handler per reader socket; every call
/// comes on that reader's serial queue, so a handler needs no locks of its own.
public protocol DatagramHandler: AnyObject {
    /// One datagram (valid only during the call).
    func handle(_ datagram: UnsafeRawBufferPointer, from peer: PeerAddress)
    /// A datagram from a peer the allow list does not allow was thrown away unread.
    func denied(from peer: PeerAddress)
    /// Called every tick interval (hand over partial batches, log summaries).
    func tick()
    /// Called once after the socket stopped: hand over whatever is pending.
    func finish()
}

/// Settings of a UDP receiver.
public struct UDPReceiverOptions: Sendable {
    public var listen: SocketAddress
    /// SO_RCVBUF asked for; the kernel caps it at net.core.rmem_max (see `receiveBufferGranted`).
    public var receiveBuffer: Int
    /// Sockets bound to the same address with SO_REUSEPORT, each read on its own queue.
    public var readers: Int
    /// The largest datagram read whole (up to 65535).
    public var maxDatagram: Int
    /// Seconds between `tick()` calls.
    public var tickInterval: Double
    /// Who may send; datagrams from anyone else are dropped before any decoding.
    public var allow: AllowList

    public init(listen: SocketAddress, receiveBuffer: Int = 8 << 20, readers: Int = 1, maxDatagram: Int = 65535,
                tickInterval: Double = 0.2, allow: AllowList = .everyone) {
        self.listen = listen
        self.allow = allow
        self.receiveBuffer = receiveBuffer
        self.readers = readers
        self.maxDatagram = maxDatagram
        self.tickInterval = tickInterval
    }
}

/// Receives UDP datagrams on Dispatch read sources: each wake-up drains the socket in a
/// `recvfrom` loop (bounded, so one busy socket cannot starve the others), up to 64 KiB per
/// datagram, into a buffer allocated once. Binding happens in `init`, so a bad address or
/// a port in use fails at start with the errno.
public final class UDPReceiver: @unchecked Sendable {  // sources and buffers are confined to each reader's queue
    public let name: String
    public let options: UDPReceiverOptions
    private var readers: [Reader] = []

    /// Datagrams one wake-up reads before yielding to other sources.
    static let datagramsPerWakeUp = 512

    final class Reader: @unchecked Sendable {  // confined to `queue`
        let socket: Socket
        let queue: DispatchQueue
        let handler: any DatagramHandler
        let buffer: UnsafeMutableRawBufferPointer
        let allow: AllowList
        var source: (any DispatchSourceRead)?
        var timer: (any DispatchSourceTimer)?
        let stopped = DispatchGroup()

        init(socket: Socket, queue: DispatchQueue, handler: any DatagramHandler, capacity: Int, allow: AllowList) {
            self.socket = socket
            self.allow = allow
            self.queue = queue
            self.handler = handler
            buffer = .allocate(byteCount: capacity, alignment: 16)
        }

        deinit {
            buffer.deallocate()
        }

        func drain() {
            var peer = PeerAddress()
            for _ in 0..<UDPReceiver.datagramsPerWakeUp {
                var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
                let received = withUnsafeMutablePointer(to: &peer.storage) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        recvfrom(socket.fd, buffer.baseAddress, buffer.count, 0, $0, &length)
                    }
                }
                if received < 0 {
                    if errno == EINTR { continue }
                    return  // EAGAIN: drained (other errors: the source fires again)
                }
                if !allow.allowsEveryone, !withUnsafePointer(to: &peer.storage, { allow.allows($0) }) {
                    handler.denied(from: peer)
                    continue
                }
                handler.handle(UnsafeRawBufferPointer(rebasing: buffer[0..<received]), from: peer)
            }
        }
    }

    /// Binds the sockets. `makeHandler` is called once per reader.
    public init(name: String, options: UDPReceiverOptions, makeHandler: () -> any DatagramHandler) throws(SocketError) {
        self.name = name
        self.options = options
        var port = options.listen.port
        do throws(SocketError) {
            for index in 0..<max(1, options.readers) {
                let socket = try Socket.make(family: options.listen.family, type: Int32(SOCK_DGRAM.rawValue))
                do throws(SocketError) {
                    if options.readers > 1 { try socket.setOption(SOL_SOCKET, SO_REUSEPORT, 1, "setsockopt SO_REUSEPORT") }
                    if options.listen.family == AF_INET6 { try socket.setOption(Int32(IPPROTO_IPV6), IPV6_V6ONLY, 1, "setsockopt IPV6_V6ONLY") }
                    // Ask for the buffer; the kernel caps it at net.core.rmem_max without failing.
                    _ = try? socket.setOption(SOL_SOCKET, SO_RCVBUF, Int32(clamping: options.receiveBuffer), "setsockopt SO_RCVBUF")
                    // With port 0, the first socket picks the port and the others share it.
                    var address = options.listen
                    if index > 0 { address = Self.withPort(options.listen, port) }
                    try socket.bind(address)
                    if index == 0, let bound = socket.localAddress() { port = bound.port }
                } catch {
                    socket.close()
                    throw error
                }
                let queue = DispatchQueue(label: "estuary.\(name).udp\(index)", qos: .userInitiated)
                readers.append(Reader(socket: socket, queue: queue, handler: makeHandler(), capacity: max(options.maxDatagram, 1500) + 1,
                                      allow: options.allow))
            }
        } catch {
            for reader in readers { reader.socket.close() }
            throw error
        }
    }

    private static func withPort(_ address: SocketAddress, _ port: UInt16) -> SocketAddress {
        switch address {
        case .ipv4(let host, _): return .ipv4(host: host, port: port)
        case .ipv6(let host, _, let scope): return .ipv6(host: host, port: port, scope: scope)
        }
    }

    /// The address the sockets are bound to (the real port when the configuration said 0).
    public var boundAddress: SocketAddress? { readers.first?.socket.localAddress() }

    /// The receive buffer the kernel granted (Linux reports twice the usable size).
    public var receiveBufferGranted: Int { Int(readers.first?.socket.getOption(SOL_SOCKET, SO_RCVBUF) ?? 0) }

    /// The sockets' inodes, to find their drop counters in /proc/net/udp.
    public var inodes: [UInt64] { readers.map(\.socket.inode) }

    /// Starts reading.
    public func start() {
        for reader in readers {
            let source = DispatchSource.makeReadSource(fileDescriptor: reader.socket.fd, queue: reader.queue)
            source.setEventHandler { @Sendable [reader] in reader.drain() }
            reader.stopped.enter()
            source.setCancelHandler { @Sendable [reader] in
                reader.socket.close()  // only here: Dispatch may still be watching the descriptor before
                reader.handler.finish()
                reader.stopped.leave()
            }
            let timer = DispatchSource.makeTimerSource(queue: reader.queue)
            let nanos = Int(options.tickInterval * 1e9)
            timer.schedule(deadline: .now() + .nanoseconds(nanos), repeating: .nanoseconds(nanos), leeway: .milliseconds(5))
            timer.setEventHandler { @Sendable [reader] in reader.handler.tick() }
            reader.source = source
            reader.timer = timer
            source.resume()
            timer.resume()
        }
    }

    /// Stops reading: cancels the sources, waits for their cancel handlers (which close the
    /// sockets and call `finish()`), at most until `timeout` seconds.
    public func stop(timeout: Double = 5) {
        for reader in readers {
            reader.queue.sync {
                reader.timer?.cancel()
                if let source = reader.source {
                    source.cancel()
                } else {
                    reader.socket.close()  // never started: no source owns the descriptor
                }
            }
        }
        for reader in readers where reader.source != nil {
            _ = reader.stopped.wait(timeout: .now() + timeout)
        }
    }
}
