/// The value of one variable binding in a response, in the SNMP types the poller tells
/// apart (RFC 2578 and RFC 3416's exceptions). Numeric values carry no allocation.
public enum SNMPValue: Sendable, Hashable {
    case integer(Int64)
    case octets([UInt8])
    case objectIdentifier([UInt])
    /// IpAddress: the four bytes in network order, first byte highest.
    case ipAddress(UInt32)
    case counter32(UInt32)
    case gauge32(UInt32)
    case timeTicks(UInt32)
    case counter64(UInt64)
    case opaque([UInt8])
    case null
    /// v2c/v3 exceptions: the object or instance does not exist, or the walk passed the
    /// end of the agent's MIB view.
    case noSuchObject
    case noSuchInstance
    case endOfMibView

    /// The ASN.1 tags libnetsnmp reports for each type.
    public enum Tag {
        public static let integer: UInt8 = 0x02
        public static let octetString: UInt8 = 0x04
        public static let null: UInt8 = 0x05
        public static let objectIdentifier: UInt8 = 0x06
        public static let ipAddress: UInt8 = 0x40
        public static let counter32: UInt8 = 0x41
        public static let gauge32: UInt8 = 0x42
        public static let timeTicks: UInt8 = 0x43
        public static let opaque: UInt8 = 0x44
        public static let counter64: UInt8 = 0x46
        public static let noSuchObject: UInt8 = 0x80
        public static let noSuchInstance: UInt8 = 0x81
        public static let endOfMibView: UInt8 = 0x82
    }

    /// An exception (noSuchObject, noSuchInstance, endOfMibView) rather than a value.
    @inline(__always)
    public var isException: Bool {
        switch self {
        case .noSuchObject, .noSuchInstance, .endOfMibView: return true
        default: return false
        }
    }

    /// Counters, gauges, time ticks and non-negative integers as an unsigned number.
    @inline(__always)
    public var unsigned: UInt64? {
        switch self {
        case .counter32(let v), .gauge32(let v), .timeTicks(let v): return UInt64(v)
        case .counter64(let v): return v
        case .integer(let v): return v >= 0 ? UInt64(v) : nil
        default: return nil
        }
    }

    /// Whether the value is a 32-bit counter (it wraps at 2^32).
    public var isCounter32: Bool {
        if case .counter32 = self { return true }
        return false
    }

    /// Octet strings as bytes.
    public var bytes: [UInt8]? {
        if case .octets(let b) = self { return b }
        return nil
    }

    /// A readable form: text for printable strings, dotted for OIDs and addresses.
    public var text: String {
        switch self {
        case .integer(let v): return String(v)
        case .octets(let b), .opaque(let b): return SNMPValue.printable(b)
        case .objectIdentifier(let c): return c.map(String.init).joined(separator: ".")
        case .ipAddress(let a): return "\(a >> 24).\((a >> 16) & 0xFF).\((a >> 8) & 0xFF).\(a & 0xFF)"
        case .counter32(let v), .gauge32(let v), .timeTicks(let v): return String(v)
        case .counter64(let v): return String(v)
        case .null: return ""
        case .noSuchObject: return "noSuchObject"
        case .noSuchInstance: return "noSuchInstance"
        case .endOfMibView: return "endOfMibView"
        }
    }

    /// Octets as text when they are printable UTF-8 (a trailing NUL, which some agents
    /// send, is dropped); otherwise as hex pairs separated by colons (MAC addresses).
    public static func printable(_ bytes: [UInt8]) -> String {
        var trimmed = bytes[...]
        while let last = trimmed.last, last == 0 { trimmed = trimmed.dropLast() }
        let isText = trimmed.allSatisfy { $0 >= 0x20 && $0 != 0x7F || $0 == 0x09 }
        if isText, let text = String(validating: trimmed, as: UTF8.self) { return text }
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for (i, byte) in bytes.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ":")) }
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// A response PDU as the poll state machines read it: the error status and index, and the
/// variable bindings in order. The poller reads libnetsnmp's PDU in place through it
/// (nothing copied); tests use `SNMPResponse`.
public protocol SNMPResponseReading {
    var errorStatus: Int { get }
    var errorIndex: Int { get }
    var varbindCount: Int { get }
    /// Calls `body` with each binding in order; the name is valid only during the call.
    func forEachVarBind(_ body: (UnsafeBufferPointer<UInt>, SNMPValue) -> Void)
}

/// A response built from arrays (tests, replays): the error status and index, and the
/// variable bindings in order, names laid out one after another.
public struct SNMPResponse: SNMPResponseReading, Sendable {
    public var errorStatus: Int
    public var errorIndex: Int
    /// Every name's components, one after another.
    private var names: [UInt] = []
    /// Where each name ends in `names`.
    private var nameEnds: [Int] = []
    private var values: [SNMPValue] = []

    public init(errorStatus: Int = 0, errorIndex: Int = 0) {
        self.errorStatus = errorStatus
        self.errorIndex = errorIndex
    }

    public init(errorStatus: Int = 0, errorIndex: Int = 0, varbinds: [(SNMPObjectIdentifier, SNMPValue)]) {
        self.init(errorStatus: errorStatus, errorIndex: errorIndex)
        for (name, value) in varbinds {
            name.components.withUnsafeBufferPointer { append(name: $0, value: value) }
        }
    }

    public mutating func append(name: UnsafeBufferPointer<UInt>, value: SNMPValue) {
        names.append(contentsOf: name)
        nameEnds.append(names.count)
        values.append(value)
    }

    public var varbindCount: Int { values.count }

    /// Calls `body` with each binding in order; the name is valid only during the call.
    @inline(__always)
    public func forEachVarBind(_ body: (UnsafeBufferPointer<UInt>, SNMPValue) -> Void) {
        names.withUnsafeBufferPointer { all in
            var start = 0
            for i in 0..<values.count {
                let end = nameEnds[i]
                body(UnsafeBufferPointer(rebasing: all[start..<end]), values[i])
                start = end
            }
        }
    }
}

/// SNMP error-status values a poller acts on (RFC 3416).
public enum SNMPErrorStatus {
    public static let noError = 0
    public static let tooBig = 1
    public static let noSuchName = 2
    public static let genErr = 5

    public static func name(_ status: Int) -> String {
        switch status {
        case 0: return "noError"
        case 1: return "tooBig"
        case 2: return "noSuchName"
        case 3: return "badValue"
        case 4: return "readOnly"
        case 5: return "genErr"
        case 6: return "noAccess"
        case 16: return "authorizationError"
        default: return "error \(status)"
        }
    }
}
