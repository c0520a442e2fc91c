/// An SNMP object identifier (`1.3.6.1.2.1.1.3.0`): what a request names and a response
/// answers for. Components are `UInt` (libnetsnmp's `oid` on 64-bit Linux); each fits in 32
/// bits, as SNMP requires.
public struct SNMPObjectIdentifier: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var components: [UInt]

    public init(_ components: [UInt]) {
        self.components = components
    }

    /// Parses dotted decimal, with or without a leading dot (`.1.3.6.1.2.1.2.2.1.10`); nil for
    /// anything else, fewer than two components, more than 128, or a component over 2^32-1.
    public init?(_ text: String) {
        var parts: [UInt] = []
        var current: UInt = 0
        var digits = 0
        var bytes = Array(text.utf8)
        if bytes.first == UInt8(ascii: ".") { bytes.removeFirst() }
        guard !bytes.isEmpty else { return nil }
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                current = current &* 10 &+ UInt(byte - 48)
                digits += 1
                if digits > 10 || current > UInt(UInt32.max) { return nil }
            case UInt8(ascii: "."):
                guard digits > 0 else { return nil }
                parts.append(current)
                current = 0
                digits = 0
            default:
                return nil
            }
        }
        guard digits > 0 else { return nil }
        parts.append(current)
        guard parts.count >= 2, parts.count <= 128 else { return nil }
        components = parts
    }

    public var description: String {
        components.map(String.init).joined(separator: ".")
    }

    /// This identifier followed by `suffix`.
    public func appending(_ suffix: [UInt]) -> SNMPObjectIdentifier {
        SNMPObjectIdentifier(components + suffix)
    }

    /// This identifier without its last component (a scalar's object for GETNEXT).
    public var parent: SNMPObjectIdentifier {
        SNMPObjectIdentifier(Array(components.dropLast()))
    }

    /// Whether `name` starts with this identifier and is longer (a row of this column).
    @inline(__always)
    public func isStrictPrefix(of name: UnsafeBufferPointer<UInt>) -> Bool {
        let count = components.count
        guard name.count > count else { return false }
        return components.withUnsafeBufferPointer { mine in
            for i in 0..<count where mine[i] != name[i] { return false }
            return true
        }
    }

    /// Whether `name` is exactly this identifier.
    @inline(__always)
    public func matches(_ name: UnsafeBufferPointer<UInt>) -> Bool {
        guard name.count == components.count else { return false }
        return components.withUnsafeBufferPointer { mine in
            for i in 0..<mine.count where mine[i] != name[i] { return false }
            return true
        }
    }

    public static func < (lhs: SNMPObjectIdentifier, rhs: SNMPObjectIdentifier) -> Bool {
        lhs.components.withUnsafeBufferPointer { a in
            rhs.components.withUnsafeBufferPointer { b in compare(a, b) < 0 }
        }
    }

    /// Lexicographic order of two names: negative, zero or positive.
    @inline(__always)
    public static func compare(_ a: UnsafeBufferPointer<UInt>, _ b: UnsafeBufferPointer<UInt>) -> Int {
        let count = min(a.count, b.count)
        for i in 0..<count where a[i] != b[i] {
            return a[i] < b[i] ? -1 : 1
        }
        return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
    }
}

extension SNMPObjectIdentifier: ExpressibleByStringLiteral {
    /// For constants in code: a literal that does not parse is a programming error.
    public init(stringLiteral value: String) {
        guard let parsed = SNMPObjectIdentifier(value) else { preconditionFailure("bad OID literal \(value)") }
        self = parsed
    }
}
