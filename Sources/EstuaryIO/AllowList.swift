#if canImport(Glibc)
import Glibc
#endif

/// A network in CIDR notation: an IPv4 or IPv6 address and a prefix length
/// (`127.0.0.0/8`, `::1/128`, `2001:db8::/32`).
public struct CIDRBlock: Sendable, Hashable, CustomStringConvertible {
    /// 4 bytes (IPv4) or 16 (IPv6), with the bits past the prefix zero.
    public let network: [UInt8]
    /// 0...32 or 0...128.
    public let prefixLength: Int

    /// Parses `address/prefix`, or an address alone (one host: /32 or /128).
    /// - Throws: what is wrong with `text`: not an address, a bad prefix length, or bits set
    ///   past the prefix (`10.0.0.1/8`, most likely a typo for `10.0.0.0/8` or `10.0.0.1/32`).
    public init(parsing text: String) throws(CIDRError) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let host = String(parts[0])
        var bytes: [UInt8]
        var v4 = in_addr()
        var v6 = in6_addr()
        if !host.contains(":"), inet_pton(AF_INET, host, &v4) == 1 {
            bytes = withUnsafeBytes(of: v4) { Array($0) }
        } else if host.contains(":"), inet_pton(AF_INET6, host, &v6) == 1 {
            bytes = withUnsafeBytes(of: v6) { Array($0) }
        } else {
            throw CIDRError("'\(host)' is not a numeric IPv4 or IPv6 address")
        }
        let bits = bytes.count * 8
        var length = bits
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), parts[1].count <= 3,
                  let parsed = Int(parts[1]), parsed <= bits else {
                throw CIDRError("the prefix length '\(parts[1])' is not a number from 0 to \(bits)")
            }
            length = parsed
        }
        for bit in length..<bits where bytes[bit / 8] & (0x80 >> UInt8(bit % 8)) != 0 {
            throw CIDRError("\(text) has address bits set past the /\(length) prefix; write the network "
                            + "(\(Self.masked(bytes, length).description(prefix: length))) or the host alone")
        }
        network = bytes
        prefixLength = length
    }

    private static func masked(_ bytes: [UInt8], _ length: Int) -> CIDRBytes {
        var bytes = bytes
        for bit in length..<(bytes.count * 8) { bytes[bit / 8] &= ~(0x80 >> UInt8(bit % 8)) }
        return CIDRBytes(bytes: bytes)
    }

    /// Whether `address` (4 or 16 bytes, as the kernel gives them) is in this network.
    @inline(__always)
    func contains(_ address: UnsafeRawBufferPointer) -> Bool {
        guard address.count == network.count else { return false }
        var bit = 0
        var index = 0
        while bit + 8 <= prefixLength {
            if address[index] != network[index] { return false }
            bit += 8
            index += 1
        }
        if bit < prefixLength {
            let mask = UInt8(truncatingIfNeeded: 0xFF00 >> (prefixLength - bit))
            if address[index] & mask != network[index] { return false }
        }
        return true
    }

    public var description: String { CIDRBytes(bytes: network).description(prefix: prefixLength) }
}

/// Address bytes printed as text.
struct CIDRBytes {
    var bytes: [UInt8]

    func description(prefix: Int) -> String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        if bytes.count == 4 {
            var address = in_addr()
            withUnsafeMutableBytes(of: &address) { $0.copyBytes(from: bytes) }
            inet_ntop(AF_INET, &address, &text, socklen_t(text.count))
        } else {
            var address = in6_addr()
            withUnsafeMutableBytes(of: &address) { $0.copyBytes(from: bytes) }
            inet_ntop(AF_INET6, &address, &text, socklen_t(text.count))
        }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + "/\(prefix)"
    }
}

/// Why a CIDR block was refused.
public struct CIDRError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String

    init(_ description: String) {
        self.description = description
    }
}

/// Who may send to a listener: a list of networks, or everyone. Checked on the raw
/// `sockaddr` the kernel fills in (no allocation), before a datagram or a connection reaches
/// anything else. An IPv4-mapped IPv6 peer (`::ffff:192.0.2.1`) is matched as the IPv4
/// address it carries.
public struct AllowList: Sendable, Hashable, CustomStringConvertible {
    /// Empty: everyone is allowed.
    public let blocks: [CIDRBlock]

    public init(_ blocks: [CIDRBlock] = []) {
        self.blocks = blocks
    }

    /// Everyone.
    public static let everyone = AllowList()

    public var allowsEveryone: Bool { blocks.isEmpty }

    /// Whether the peer in `storage` (as `recvfrom` or `accept` filled it) is allowed.
    @inline(__always)
    func allows(_ storage: UnsafePointer<sockaddr_storage>) -> Bool {
        if blocks.isEmpty { return true }
        switch Int32(storage.pointee.ss_family) {
        case AF_INET:
            return UnsafeRawPointer(storage).withMemoryRebound(to: sockaddr_in.self, capacity: 1) { address in
                withUnsafeBytes(of: address.pointee.sin_addr) { matches($0) }
            }
        case AF_INET6:
            return UnsafeRawPointer(storage).withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { address in
                withUnsafeBytes(of: address.pointee.sin6_addr) { bytes in
                    // ::ffff:a.b.c.d is the IPv4 peer a.b.c.d.
                    let mapped = bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF
                    return mapped ? matches(UnsafeRawBufferPointer(rebasing: bytes[12..<16])) : matches(bytes)
                }
            }
        default:
            return false
        }
    }

    /// Whether `address` (a socket address, such as a peer's) is allowed.
    public func allows(_ address: SocketAddress) -> Bool {
        address.withSockAddr { pointer, _ in
            var storage = sockaddr_storage()
            withUnsafeMutableBytes(of: &storage) { target in
                let size = Int32(pointer.pointee.sa_family) == AF_INET ? MemoryLayout<sockaddr_in>.size : MemoryLayout<sockaddr_in6>.size
                target.copyMemory(from: UnsafeRawBufferPointer(start: pointer, count: size))
            }
            return withUnsafePointer(to: &storage) { allows($0) }
        }
    }

    @inline(__always)
    private func matches(_ address: UnsafeRawBufferPointer) -> Bool {
        for block in blocks where block.contains(address) { return true }
        return false
    }

    public var description: String {
        blocks.isEmpty ? "everyone" : blocks.map(\.description).joined(separator: ", ")
    }
}
