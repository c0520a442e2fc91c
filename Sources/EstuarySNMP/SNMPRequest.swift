/// The SNMP protocol version a device is polled with.
public enum SNMPVersion: String, Sendable, Hashable, CaseIterable {
    case v1 = "1"
    case v2c = "2c"
    case v3 = "3"
}

/// What kind of request a poll sends.
public enum SNMPRequestKind: Sendable, Equatable {
    case get
    case getNext
    case getBulk(nonRepeaters: Int, maxRepetitions: Int)
}

/// One request a poll wants sent: its kind and the names it asks for.
public struct SNMPRequest: Sendable, Equatable {
    public var kind: SNMPRequestKind
    public var names: [SNMPObjectIdentifier]

    public init(kind: SNMPRequestKind, names: [SNMPObjectIdentifier]) {
        self.kind = kind
        self.names = names
    }
}
