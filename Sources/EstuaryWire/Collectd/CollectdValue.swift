import EstuaryModel

/// The four collectd data-source types, with their wire codes (collectd's `DS_TYPE_*`).
public enum CollectdDSType: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case counter = 0
    case gauge = 1
    case derive = 2
    case absolute = 3

    /// The name types.db uses (`COUNTER`, `GAUGE`, `DERIVE`, `ABSOLUTE`).
    public var description: String {
        switch self {
        case .counter: return "COUNTER"
        case .gauge: return "GAUGE"
        case .derive: return "DERIVE"
        case .absolute: return "ABSOLUTE"
        }
    }
}

/// One value of a collectd value list, typed by the code it travelled with on the wire.
public enum CollectdValue: Sendable, Hashable {
    /// Unsigned counter that may wrap at 2^32 or 2^64 (big-endian u64 on the wire).
    case counter(UInt64)
    /// A double (little-endian on the wire: collectd's x86 byte-order quirk).
    case gauge(Double)
    /// Signed counter (big-endian i64 on the wire).
    case derive(Int64)
    /// Unsigned count since the previous read (big-endian u64 on the wire).
    case absolute(UInt64)

    public var dsType: CollectdDSType {
        switch self {
        case .counter: return .counter
        case .gauge: return .gauge
        case .derive: return .derive
        case .absolute: return .absolute
        }
    }

    /// The raw value as a double, the way InfluxDB's collectd service stores every DS type.
    public var doubleValue: Double {
        switch self {
        case .counter(let v): return Double(v)
        case .gauge(let v): return v
        case .derive(let v): return Double(v)
        case .absolute(let v): return Double(v)
        }
    }
}

/// collectd's high-resolution time: seconds × 2^30 in a u64 (`cdtime_t`).
public enum CollectdTime {
    /// The largest cdtime whose nanoseconds fit in an Int64 (early 2262, InfluxDB's limit too).
    public static let maxRepresentable: UInt64 = 9_223_372_035 << 30

    /// cdtime to nanoseconds since the epoch, rounded to the nearest nanosecond.
    @inlinable
    public static func nanoseconds(_ cdtime: UInt64) -> Int64 {
        let seconds = cdtime >> 30
        let fraction = cdtime & 0x3FFF_FFFF
        let ns = seconds &* 1_000_000_000 &+ ((fraction &* 1_000_000_000 &+ (1 << 29)) >> 30)
        return Int64(truncatingIfNeeded: ns)
    }

    /// cdtime to seconds as a double (collectd's `CDTIME_T_TO_DOUBLE`).
    @inlinable
    public static func seconds(_ cdtime: UInt64) -> Double {
        Double(cdtime) / 1_073_741_824.0
    }

    /// Whole seconds to cdtime (what the old TIME and INTERVAL parts carry).
    @inlinable
    public static func fromSeconds(_ seconds: UInt64) -> UInt64 {
        seconds << 30
    }

    /// Nanoseconds since the epoch to cdtime, rounded to the nearest unit.
    @inlinable
    public static func fromNanoseconds(_ ns: Int64) -> UInt64 {
        let n = UInt64(max(ns, 0))
        let seconds = n / 1_000_000_000
        let rest = n % 1_000_000_000
        return (seconds << 30) | ((rest << 30 + 500_000_000) / 1_000_000_000)
    }
}

/// How a value list reached us: outside any security part, inside a verified signature,
/// or inside a decrypted encryption part.
public enum CollectdSecurity: Int, Sendable, Hashable, Comparable {
    case none = 0
    case signed = 1
    case encrypted = 2

    public static func < (lhs: CollectdSecurity, rhs: CollectdSecurity) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// One value list as collectd's network protocol carries it: the identifier
/// (host/plugin-instance/type-instance), the time and interval, and its values.
public struct CollectdValueList: Sendable, Hashable {
    public var host: String
    public var plugin: String
    public var pluginInstance: String
    public var type: String
    public var typeInstance: String
    /// Sampling time in cdtime units (2^-30 s).
    public var time: UInt64
    /// Sampling interval in cdtime units; 0 when the sender gave none.
    public var interval: UInt64
    public var values: [CollectdValue]
    /// Byte offset of the VALUES part in the datagram, for messages about this value list.
    public var offset: Int
    /// Whether the value list came from a signed or encrypted part.
    public var security: CollectdSecurity

    public init(host: String, plugin: String, pluginInstance: String = "", type: String, typeInstance: String = "",
                time: UInt64, interval: UInt64 = 0, values: [CollectdValue], offset: Int = 0,
                security: CollectdSecurity = .none) {
        self.host = host
        self.plugin = plugin
        self.pluginInstance = pluginInstance
        self.type = type
        self.typeInstance = typeInstance
        self.time = time
        self.interval = interval
        self.values = values
        self.offset = offset
        self.security = security
    }

    /// collectd's textual identifier, `host/plugin[-instance]/type[-instance]`.
    public var identifier: String {
        var s = host + "/" + plugin
        if !pluginInstance.isEmpty { s += "-" + pluginInstance }
        s += "/" + type
        if !typeInstance.isEmpty { s += "-" + typeInstance }
        return s
    }
}

/// A collectd notification (MESSAGE and SEVERITY parts). Estuary parses and counts these;
/// it does not turn them into points.
public struct CollectdNotification: Sendable, Hashable {
    public var host: String
    public var plugin: String
    public var pluginInstance: String
    public var type: String
    public var typeInstance: String
    public var time: UInt64
    /// 1 = failure, 2 = warning, 4 = okay; 0 when no SEVERITY part came first.
    public var severity: UInt64
    public var message: String
    public var offset: Int
}
