import EstuaryModel

/// The naming rule shared by every collectd source (binary protocol, write_graphite paths,
/// the SNMP poller's collectd schema): tags `host`, `instance`, `type`, `type_instance`
/// (left out when empty), measurement `<plugin>_<ds>` in `split` and `<plugin>` in `join`.
public enum CollectdSeriesNaming {
    /// The tags of a series, in sorted key order.
    @inline(__always)
    public static func tags(host: String, pluginInstance: String, type: String, typeInstance: String) -> [Tag] {
        var tags: [Tag] = []
        tags.reserveCapacity(4)
        if !host.isEmpty { tags.append(Tag("host", host)) }
        if !pluginInstance.isEmpty { tags.append(Tag("instance", pluginInstance)) }
        if !type.isEmpty { tags.append(Tag("type", type)) }
        if !typeInstance.isEmpty { tags.append(Tag("type_instance", typeInstance)) }
        return tags
    }

    /// The point of one data-source value: `<plugin>_<ds>` with field `value` (split), or
    /// `<plugin>` with field `<ds>` (join; InfluxDB merges the fields of one series and time).
    @inline(__always)
    public static func point(schema: CollectdSchema, plugin: String, dsName: String, tags: [Tag],
                             value: Double, timestamp: Int64) -> Point {
        switch schema {
        case .split:
            return Point(measurement: plugin + "_" + dsName, tags: tags, fields: [Field("value", .float(value))],
                         timestamp: timestamp)
        case .join:
            return Point(measurement: plugin, tags: tags, fields: [Field(dsName, .float(value))], timestamp: timestamp)
        }
    }
}
