import EstuaryModel

/// How collectd value lists become points, named as InfluxDB 1.x's own collectd service
/// (`parse-multivalue-plugin`) and Telegraf's collectd parser name them.
public enum CollectdSchema: String, Sendable, Hashable, CaseIterable {
    /// One point per data source: measurement `<plugin>_<dsname>`, field `value`.
    case split
    /// One point per value list: measurement `<plugin>`, one field per data source.
    case join
}

/// Counts of what mapping did besides producing points.
public struct CollectdMappingStats: Sendable, Hashable {
    /// Value lists whose type is not in types.db (kept, with DS names `value` or `0`,`1`,…).
    public var unknownType = 0
    /// store_rates: first samples of a series, which give no rate (COUNTER and DERIVE).
    public var firstSamples = 0

    public init() {}
}

/// Turns collectd value lists into points in the `split` or `join` schema, with the data-source
/// names from types.db; optionally converts COUNTER, DERIVE and ABSOLUTE to per-second rates
/// with collectd's rules (`store_rates`).
///
/// Like collectd's server, it rewrites `/` in identifier fields to `_` (dropping one leading
/// `/`, and turning a field that is exactly `/` into `root`). NaN and ±Inf produce no point
/// and are reported as rejections. With `storeRates`, the mapper keeps the previous sample of
/// every series; use one mapper per stream of value lists and call `pruneRates` now and then.
public struct CollectdPointMapper: Sendable {
    public let typesDB: TypesDB
    public let schema: CollectdSchema
    public let storeRates: Bool

    private var previous: [RateKey: Sample] = [:]
    private var lastType: String = ""
    private var lastSources: [CollectdDataSource]?

    public init(typesDB: TypesDB, schema: CollectdSchema = .split, storeRates: Bool = false) {
        self.typesDB = typesDB
        self.schema = schema
        self.storeRates = storeRates
    }

    /// Maps one value list, appending its points and any rejections.
    public mutating func map(_ list: CollectdValueList, into points: inout [Point],
                             rejections: inout [CollectdRejection], stats: inout CollectdMappingStats) {
        let sources = dataSources(of: list.type)
        if let sources, sources.count != list.values.count {
            rejections.append(CollectdRejection(
                offset: list.offset,
                reason: .valueCountMismatch(type: list.type, expected: sources.count, received: list.values.count),
                values: list.values.count))
            return
        }
        if sources == nil { stats.unknownType += 1 }

        let host = Self.escapeSlashes(list.host)
        let plugin = Self.escapeSlashes(list.plugin)
        let pluginInstance = Self.escapeSlashes(list.pluginInstance)
        let type = Self.escapeSlashes(list.type)
        let typeInstance = Self.escapeSlashes(list.typeInstance)

        let tags = CollectdSeriesNaming.tags(host: host, pluginInstance: pluginInstance, type: type, typeInstance: typeInstance)
        let timestamp = CollectdTime.nanoseconds(list.time)

        var joined: [Field] = []
        for (index, value) in list.values.enumerated() {
            let dsName = sources?[index].name ?? (list.values.count == 1 ? "value" : String(index))
            let number: Double
            if storeRates && value.dsType != .gauge {
                guard let rate = rate(of: value, index: index, list: list, source: sources?[index],
                                      rejections: &rejections, stats: &stats) else { continue }
                number = rate
            } else {
                number = value.doubleValue
            }
            guard number.isFinite else {
                rejections.append(CollectdRejection(offset: list.offset, reason: .nonFiniteValue(type: list.type, dsName: dsName), values: 1))
                continue
            }
            if schema == .split {
                points.append(CollectdSeriesNaming.point(schema: .split, plugin: plugin, dsName: dsName, tags: tags,
                                                         value: number, timestamp: timestamp))
            } else {
                joined.append(Field(dsName, .float(number)))
            }
        }
        if schema == .join && !joined.isEmpty {
            points.append(Point(measurement: plugin, tags: tags, fields: joined, timestamp: timestamp))
        }
    }

    /// Forgets the previous samples of series not updated since `cdtime` (store_rates only),
    /// so that series that stopped do not hold memory forever. Returns how many were dropped.
    @discardableResult
    public mutating func pruneRates(before cdtime: UInt64) -> Int {
        let before = previous.count
        previous = previous.filter { $0.value.time >= cdtime }
        return before - previous.count
    }

    /// The number of series whose previous sample is kept for store_rates.
    public var rateSeriesCount: Int { previous.count }

    private mutating func dataSources(of type: String) -> [CollectdDataSource]? {
        if type == lastType { return lastSources }
        lastType = type
        lastSources = typesDB[type]
        return lastSources
    }

    // MARK: - Rates

    private struct RateKey: Hashable {
        var host: String
        var plugin: String
        var pluginInstance: String
        var type: String
        var typeInstance: String
        var index: Int
    }

    private struct Sample {
        var value: CollectdValue
        var time: UInt64
    }

    /// collectd's value-cache rules (utils_cache.c): the first COUNTER/DERIVE sample gives no
    /// rate; the first ABSOLUTE sample gives value / interval; later samples give the
    /// difference over the time between samples, with COUNTER wrapping at 2^32 or 2^64.
    private mutating func rate(of value: CollectdValue, index: Int, list: CollectdValueList,
                               source: CollectdDataSource?, rejections: inout [CollectdRejection],
                               stats: inout CollectdMappingStats) -> Double? {
        let key = RateKey(host: list.host, plugin: list.plugin, pluginInstance: list.pluginInstance,
                          type: list.type, typeInstance: list.typeInstance, index: index)
        let old = previous[key]
        var result: Double?
        if let old, old.value.dsType == value.dsType {
            guard list.time > old.time else {
                rejections.append(CollectdRejection(offset: list.offset, reason: .rateNotNewer(type: list.type), values: 1))
                return nil
            }
            let seconds = CollectdTime.seconds(list.time - old.time)
            switch (old.value, value) {
            case (.counter(let a), .counter(let b)):
                let difference: UInt64
                if b >= a {
                    difference = b - a
                } else if a <= UInt64(UInt32.max) {
                    difference = (UInt64(UInt32.max) - a) + b + 1
                } else {
                    difference = b &- a
                }
                result = Double(difference) / seconds
            case (.derive(let a), .derive(let b)):
                result = Double(b &- a) / seconds
            case (.absolute, .absolute(let b)):
                result = Double(b) / seconds
            default:
                result = nil
            }
        } else {
            if case .absolute(let v) = value, list.interval > 0 {
                result = Double(v) / CollectdTime.seconds(list.interval)
            } else {
                stats.firstSamples += 1
            }
        }
        previous[key] = Sample(value: value, time: list.time)
        guard let rate = result else { return nil }
        if let source, (source.min.map { rate < $0 } ?? false) || (source.max.map { rate > $0 } ?? false) {
            let dsName = source.name
            rejections.append(CollectdRejection(offset: list.offset, reason: .rateOutOfRange(type: list.type, dsName: dsName), values: 1))
            return nil
        }
        return rate
    }

    // MARK: - Identifier clean-up

    /// collectd's `escape_slashes`: `/` becomes `_`, one leading `/` is dropped, and a field
    /// that is exactly `/` becomes `root`.
    @inline(__always)
    static func escapeSlashes(_ field: String) -> String {
        var hasSlash = false
        for byte in field.utf8 where byte == UInt8(ascii: "/") {
            hasSlash = true
            break
        }
        if !hasSlash { return field }
        if field == "/" { return "root" }
        var bytes = Array(field.utf8)
        if bytes.first == UInt8(ascii: "/") { bytes.removeFirst() }
        for i in bytes.indices where bytes[i] == UInt8(ascii: "/") { bytes[i] = UInt8(ascii: "_") }
        return String(decoding: bytes, as: UTF8.self)
    }
}
