/// One measurement at one instant: the single shape every source (collectd, graphite, SNMP)
/// is turned into before it is routed to the outputs.
///
/// Tags are kept in the order the producer gives them; `LineProtocolEncoder` sorts them
/// by key when they are not already sorted. The timestamp is nanoseconds since the Unix epoch.
public struct Point: Hashable, Sendable {
    public var measurement: String
    public var tags: [Tag]
    public var fields: [Field]
    public var timestamp: Int64

    public init(measurement: String, tags: [Tag] = [], fields: [Field], timestamp: Int64) {
        self.measurement = measurement
        self.tags = tags
        self.fields = fields
        self.timestamp = timestamp
    }

    /// The value of the tag named `key`, if the point carries it.
    public func tag(_ key: String) -> String? {
        for tag in tags where tag.key == key { return tag.value }
        return nil
    }

    /// The value of the field named `key`, if the point carries it.
    public func field(_ key: String) -> FieldValue? {
        for field in fields where field.key == key { return field.value }
        return nil
    }
}

/// A tag of a point: an indexed key/value pair that identifies the series.
public struct Tag: Hashable, Sendable {
    public var key: String
    public var value: String

    public init(_ key: String, _ value: String) {
        self.key = key
        self.value = value
    }
}

/// A field of a point: a named value.
public struct Field: Hashable, Sendable {
    public var key: String
    public var value: FieldValue

    public init(_ key: String, _ value: FieldValue) {
        self.key = key
        self.value = value
    }
}

/// The value of a field, in the four types InfluxDB stores (plus unsigned, which the
/// encoder writes as an integer when it fits and as a float otherwise).
public enum FieldValue: Hashable, Sendable {
    case float(Double)
    case integer(Int64)
    case unsigned(UInt64)
    case boolean(Bool)
    case string(String)

    /// The value as a Double, for comparisons and rates; nil for strings.
    public var doubleValue: Double? {
        switch self {
        case .float(let v): return v
        case .integer(let v): return Double(v)
        case .unsigned(let v): return Double(v)
        case .boolean(let v): return v ? 1 : 0
        case .string: return nil
        }
    }
}
