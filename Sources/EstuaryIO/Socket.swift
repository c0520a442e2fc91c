#if canImport(Glibc)
import CLinuxDescriptors
import Glibc
#endif

/// A nonblocking BSD socket file descriptor and the few calls Estuary makes on it.
/// The descriptor is closed by whoever owns it, once (for sockets watched by a Dispatch
/// source: only in the source's cancel handler).
public struct Socket: Sendable {
    public let fd: Int32

    init(fd: Int32) {
        self.fd = fd
    }

    /// A new nonblocking, close-on-exec socket.
    static func make(family: Int32, type: Int32) throws(SocketError) -> Socket {
        let fd = socket(family, type | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .makeFailed("socket") }
        return Socket(fd: fd)
    }

    /// A TCP socket bound to `address` and listening (SO_REUSEADDR, IPv6 only for an IPv6
    /// address), so that a bad address fails at start with the errno.
    static func listening(on address: SocketAddress, backlog: Int32) throws(SocketError) -> Socket {
        let socket = try Socket.make(family: address.family, type: Int32(SOCK_STREAM.rawValue))
        do throws(SocketError) {
            try socket.setOption(SOL_SOCKET, SO_REUSEADDR, 1, "setsockopt SO_REUSEADDR")
            if address.family == AF_INET6 { try socket.setOption(Int32(IPPROTO_IPV6), IPV6_V6ONLY, 1, "setsockopt IPV6_V6ONLY") }
            try socket.bind(address)
            guard Glibc.listen(socket.fd, backlog) == 0 else { throw SocketError.makeFailed("listen \(address)") }
        } catch {
            socket.close()
            throw error
        }
        return socket
    }

    func setOption(_ level: Int32, _ name: Int32, _ value: Int32, _ call: String) throws(SocketError) {
        var v = value
        guard setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size)) == 0 else { throw .makeFailed(call) }
    }

    func getOption(_ level: Int32, _ name: Int32) -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, level, name, &value, &length)
        return value
    }

    func bind(_ address: SocketAddress) throws(SocketError) {
        let result = address.withSockAddr { Glibc.bind(fd, $0, $1) }
        guard result == 0 else { throw .makeFailed("bind \(address)") }
    }

    /// The address the socket is bound to (the real port after binding port 0).
    public func localAddress() -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard ok == 0 else { return nil }
        return withUnsafePointer(to: &storage) { SocketAddress(storage: $0) }
    }

    /// The socket's inode, which /proc/net/udp lists (for the kernel's drop counter).
    public var inode: UInt64 {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return 0 }
        return UInt64(info.st_ino)
    }

    func close() {
        _ = Glibc.close(fd)
    }
}

/// A descriptor a listener holds in reserve (on /dev/null) for when `accept` fails with
/// EMFILE or ENFILE: the waiting connection would stay in the backlog, and the accept source
/// fire, for ever. `shed` frees the reserve, accepts that connection, closes it and takes
/// the reserve back. Confined to the listener's accept queue.
struct DescriptorReserve {
    private var fd: Int32 = -1

    /// Opens the reserve.
    mutating func open() {
        if fd < 0 { fd = Glibc.open("/dev/null", O_RDONLY | O_CLOEXEC) }
    }

    /// Closes the reserve (the listener stops).
    mutating func close() {
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
    }

    /// After `accept` failed with `error`: when it was for lack of descriptors and a reserve
    /// is held, accepts and closes the waiting connection. Returns whether one was shed (the
    /// caller counts it and accepts again).
    mutating func shed(listener: Int32, error: Int32) -> Bool {
        guard (error == EMFILE || error == ENFILE) && fd >= 0 else { return false }
        _ = Glibc.close(fd)
        let waiting = estuary_accept_cloexec(listener, nil, nil, 0)
        if waiting >= 0 { _ = Glibc.close(waiting) }
        fd = Glibc.open("/dev/null", O_RDONLY | O_CLOEXEC)
        return waiting >= 0
    }
}
