/// How polled devices become points.
public enum SNMPSchema: String, Sendable, Hashable, CaseIterable {
    /// A device's interfaces as collectd's interface plugin sends them for a Linux host
    /// (`interface_rx`/`interface_tx`, `type` if_octets/if_packets/if_errors/if_dropped,
    /// `instance` = ifName, `host` = device name), so switches and servers share dashboards.
    case collectd
    /// Telegraf's SNMP interface table: measurement `interface`, MIB object names as fields,
    /// tags `agent_host`, `hostname`, `ifIndex`, `ifName`.
    case telegraf
}

/// A configured table to walk besides the interfaces (CPU, memory, vendor MIBs): each row
/// becomes a point of `measurement`, tagged with its index and the tag columns.
public struct SNMPTableSpec: Sendable, Hashable {
    public var measurement: String
    /// The tag that carries the row's index (dotted), nil for none.
    public var indexTag: String?
    public var tags: [SNMPNamedObject]
    public var fields: [SNMPNamedObject]

    public init(measurement: String, indexTag: String? = "index", tags: [SNMPNamedObject] = [], fields: [SNMPNamedObject]) {
        self.measurement = measurement
        self.indexTag = indexTag
        self.tags = tags
        self.fields = fields
    }

    /// Tag columns, then field columns: the order the walk asks for them.
    public var columns: [SNMPObjectIdentifier] { tags.map(\.oid) + fields.map(\.oid) }
}

/// Configured scalars read with GET: one point of `measurement` per poll.
public struct SNMPScalarSpec: Sendable, Hashable {
    public var measurement: String
    public var tags: [SNMPNamedObject]
    public var fields: [SNMPNamedObject]

    public init(measurement: String, tags: [SNMPNamedObject] = [], fields: [SNMPNamedObject]) {
        self.measurement = measurement
        self.tags = tags
        self.fields = fields
    }

    public var instances: [SNMPObjectIdentifier] { tags.map(\.oid) + fields.map(\.oid) }
}

/// A name (a field or tag key) for an object identifier.
public struct SNMPNamedObject: Sendable, Hashable {
    public var name: String
    public var oid: SNMPObjectIdentifier

    public init(name: String, oid: SNMPObjectIdentifier) {
        self.name = name
        self.oid = oid
    }
}

/// What the poller knows about a device besides its answers.
public struct SNMPDeviceIdentity: Sendable, Hashable {
    /// The agent as configured: `host` when the port is 161, else `host:port`.
    public var agent: String
    /// The configured name (the `host` tag); nil to use sysName.
    public var name: String?

    public init(agent: String, name: String? = nil) {
        self.agent = agent
        self.name = name
    }
}

/// One finished poll, as the poller hands it to the point writer.
public struct SNMPPollSample: Sendable {
    public var device: SNMPDeviceIdentity
    public var poll: DevicePoll
    /// The configured tables and scalars the plan asked for, in plan order.
    public var tables: [SNMPTableSpec]
    public var scalars: [SNMPScalarSpec]
    /// When the first answer arrived (wall clock ns): the points' timestamp.
    public var timestamp: Int64
    /// The same moment on the monotonic clock (ns), for rate intervals.
    public var monotonic: UInt64
    /// From the first request to the end, seconds.
    public var duration: Double
    /// How long after its scheduled time the poll started, seconds.
    public var startDelay: Double
    /// The poll did not finish within its interval (started late, overran, or skipped).
    public var late: Bool

    public init(device: SNMPDeviceIdentity, poll: DevicePoll, tables: [SNMPTableSpec] = [], scalars: [SNMPScalarSpec] = [],
                timestamp: Int64, monotonic: UInt64, duration: Double, startDelay: Double = 0, late: Bool = false) {
        self.device = device
        self.poll = poll
        self.tables = tables
        self.scalars = scalars
        self.timestamp = timestamp
        self.monotonic = monotonic
        self.duration = duration
        self.startDelay = startDelay
        self.late = late
    }
}
