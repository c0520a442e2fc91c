#if canImport(Glibc)
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
