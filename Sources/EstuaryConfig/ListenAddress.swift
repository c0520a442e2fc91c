#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An address to listen on: a numeric IP address and a port.
///
/// Written `"127.0.0.1:25826"`, `"[::1]:2003"` (IPv6 in brackets), or `":2003"` for every IPv4
/// interface (host `0.0.0.0`; `"[::]:2003"` for every interface, IPv6 and mapped IPv4). Host
/// names are refused: the sockets bind numeric addresses, and a name that resolves differently
/// tomorrow is no address to listen on.
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    /// IPv4 or IPv6 address, without brackets (`::1`, not `[::1]`).
    public var host: String
    /// 1 to 65535.
    public var port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`, `[ipv6]:port` or `:port`.
    /// - Throws: a message saying what is wrong with `text`, for a configuration error.
    public init(parsing text: String) throws(ListenAddressError) {
        var host: String
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                throw ListenAddressError("no ']' after the IPv6 address; expected \"[address]:port\", such as \"[::1]:2003\"")
            }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else {
                throw ListenAddressError("expected \":port\" after \"]\", such as \"[::1]:2003\"")
            }
            portText = rest.dropFirst()
            guard host.contains(":") else {
                throw ListenAddressError("brackets are for IPv6 addresses only; write \"\(host):\(portText)\"")
            }
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw ListenAddressError("expected \"host:port\", such as \"127.0.0.1:2003\", \"[::1]:2003\" or \":2003\"")
            }
            host = String(text[..<colon])
            portText = text[text.index(after: colon)...]
            if host.contains(":") {
                throw ListenAddressError("an IPv6 address goes in brackets, such as \"[::1]:2003\"")
            }
            if host.isEmpty { host = "0.0.0.0" }
        }
        if host.contains(":") {
            var address = in6_addr()
            guard inet_pton(AF_INET6, host, &address) == 1 else {
                throw ListenAddressError("'\(host)' is not an IPv6 address")
            }
        } else {
            var address = in_addr()
            guard inet_pton(AF_INET, host, &address) == 1 else {
                throw ListenAddressError("'\(host)' is not an IP address; host names are not resolved, so write an address "
                                         + "such as \"127.0.0.1:2003\", \"[::1]:2003\" or \":2003\" (every interface)")
            }
        }
        guard !portText.isEmpty, portText.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            throw ListenAddressError("the port '\(portText)' is not a number")
        }
        guard portText.count <= 5, let port = Int(portText), (1...65535).contains(port) else {
            throw ListenAddressError("the port \(portText) is out of range (1 to 65535)")
        }
        self.host = host
        self.port = UInt16(port)
    }

    /// `host:port`, with brackets around an IPv6 address.
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// Why a listen address was refused.
public struct ListenAddressError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String

    init(_ description: String) {
        self.description = description
    }
}
