#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 socket address, in Estuary's own type (no C struct in the API).
public enum SocketAddress: Sendable, Hashable, CustomStringConvertible {
    case ipv4(host: [UInt8], port: UInt16)
    case ipv6(host: [UInt8], port: UInt16, scope: UInt32)

    /// Parses a numeric host (`127.0.0.1`, `::1`, `0.0.0.0`, `::`) and a port.
    public init(host: String, port: UInt16) throws(SocketError) {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            self = .ipv4(host: withUnsafeBytes(of: v4) { Array($0) }, port: port)
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 {
            self = .ipv6(host: withUnsafeBytes(of: v6) { Array($0) }, port: port, scope: 0)
            return
        }
        throw SocketError.invalidAddress(host)
    }

    public var port: UInt16 {
        switch self {
        case .ipv4(_, let port), .ipv6(_, let port, _): return port
        }
    }

    public var family: Int32 {
        switch self {
        case .ipv4: return AF_INET
        case .ipv6: return AF_INET6
        }
    }

    public var description: String {
        switch self {
        case .ipv4(let host, let port):
            return host.map(String.init).joined(separator: ".") + ":\(port)"
        case .ipv6(let host, let port, _):
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            var address = in6_addr()
            withUnsafeMutableBytes(of: &address) { $0.copyBytes(from: host) }
            inet_ntop(AF_INET6, &address, &text, socklen_t(text.count))
            return "[\(String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))]:\(port)"
        }
    }

    /// Calls `body` with this address as a C sockaddr.
    func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        switch self {
        case .ipv4(let host, let port):
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &address.sin_addr) { $0.copyBytes(from: host) }
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        case .ipv6(let host, let port, let scope):
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = port.bigEndian
            address.sin6_scope_id = scope
            withUnsafeMutableBytes(of: &address.sin6_addr) { $0.copyBytes(from: host) }
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
    }

    /// Reads a C sockaddr_storage filled by recvfrom/accept/getsockname.
    init?(storage: UnsafePointer<sockaddr_storage>) {
        switch Int32(storage.pointee.ss_family) {
        case AF_INET:
            let address = UnsafeRawPointer(storage).load(as: sockaddr_in.self)
            self = .ipv4(host: withUnsafeBytes(of: address.sin_addr) { Array($0) }, port: UInt16(bigEndian: address.sin_port))
        case AF_INET6:
            let address = UnsafeRawPointer(storage).load(as: sockaddr_in6.self)
            self = .ipv6(host: withUnsafeBytes(of: address.sin6_addr) { Array($0) }, port: UInt16(bigEndian: address.sin6_port),
                         scope: address.sin6_scope_id)
        default:
            return nil
        }
    }
}

/// A socket call failed: which call, and the errno captured right where it failed.
public enum SocketError: Error, Sendable, Hashable, CustomStringConvertible {
    case failed(call: String, errno: Int32)
    case invalidAddress(String)

    static func makeFailed(_ call: String) -> SocketError {
        .failed(call: call, errno: errno)
    }

    public var description: String {
        switch self {
        case .failed(let call, let code):
            return "\(call) failed: \(String(cString: strerror(code))) (errno \(code))"
        case .invalidAddress(let text):
            return "'\(text)' is not a numeric IPv4 or IPv6 address"
        }
    }
}
