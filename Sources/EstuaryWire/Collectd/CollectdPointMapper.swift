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
    /// Line-protocol pieces of the series being written, reused while they repeat (copy on
    /// write: each copy of a mapper, such as each receiver thread's, ends up with its own).
    private(set) var cache = LineCache()

    public init(typesDB: TypesDB, schema: CollectdSchema = .split, storeRates: Bool = false) {
        self.typesDB = typesDB
        self.schema = schema
        self.storeRates = storeRates
    }

    /// Maps one value list, appending its points and any rejections.
    public mutating func map(_ list: CollectdValueList, into points: inout [Point],
                             rejections: inout [CollectdRejection], stats: inout CollectdMappingStats) {
        guard let sources = checkedSources(list, rejections: &rejections, stats: &stats) else { return }
        mapChecked(list, sources: sources, into: &points, rejections: &rejections, stats: &stats)
    }

    private mutating func mapChecked(_ list: CollectdValueList, sources: Sources, into points: inout [Point],
                                     rejections: inout [CollectdRejection], stats: inout CollectdMappingStats) {
        let plugin = Self.escapeSlashes(list.plugin)
        let tags = CollectdSeriesNaming.tags(host: Self.escapeSlashes(list.host),
                                             pluginInstance: Self.escapeSlashes(list.pluginInstance),
                                             type: Self.escapeSlashes(list.type),
                                             typeInstance: Self.escapeSlashes(list.typeInstance))
        let timestamp = CollectdTime.nanoseconds(list.time)
        var joined: [Field] = []
        for index in list.values.indices {
            let dsName = Self.dsName(sources, index, list.values.count)
            guard let number = number(list, index, dsName: dsName, source: sources.known?[index],
                                      rejections: &rejections, stats: &stats) else { continue }
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

    /// Maps one value list to line protocol through points (`map`, then `LineProtocolEncoder`).
    public mutating func encode<Sink: ByteSink>(_ list: CollectdValueList, into buffer: inout Sink,
                                                rejections: inout [CollectdRejection],
                                stats: inout CollectdMappingStats, report: inout LineProtocolEncodeReport) {
        var points: [Point] = []
        map(list, into: &points, rejections: &rejections, stats: &stats)
        for point in points { LineProtocolEncoder().encode(point, into: &buffer, report: &report) }
    }

    /// Maps one value list straight from the datagram's bytes to line protocol: the same
    /// bytes `encode` writes through points, without building them or making strings. The
    /// tag segments and measurement names are reused while they repeat. This is the
    /// receivers' hot path. With store_rates, or a name that needs one of the encoder's
    /// rewrites, it takes the point path for that value list.
    public mutating func encode<Sink: ByteSink>(_ list: CollectdRawValueList, into buffer: inout Sink,
                                rejections: inout [CollectdRejection], stats: inout CollectdMappingStats,
                                report: inout LineProtocolEncodeReport) {
        if storeRates {
            encode(list.makeValueList(), into: &buffer, rejections: &rejections, stats: &stats, report: &report)
            return
        }
        // One lookup gives the names and the type's data sources (types.db is read once per
        // plugin, type and value count, not per value list).
        let namesClean = cache.selectNames(for: list, schema: schema, typesDB: typesDB)
        let names = cache.current
        let sources = names.sources
        if let known = sources.known, known.count != list.valueCount {
            rejections.append(CollectdRejection(
                offset: list.offset,
                reason: .valueCountMismatch(type: String(decoding: list.type, as: UTF8.self), expected: known.count,
                                            received: list.valueCount),
                values: list.valueCount))
            return
        }
        if sources.known == nil { stats.unknownType += 1 }
        guard cache.prepareTags(for: list), namesClean else {
            var points: [Point] = []
            mapChecked(list.makeValueList(), sources: sources, into: &points, rejections: &rejections, stats: &stats)
            for point in points { LineProtocolEncoder().encode(point, into: &buffer, report: &report) }
            return
        }
        let timestamp = CollectdTime.nanoseconds(list.time)
        var wroteJoined = false
        for index in 0..<list.valueCount {
            let number = list.value(at: index).doubleValue
            guard number.isFinite else {
                rejections.append(CollectdRejection(
                    offset: list.offset,
                    reason: .nonFiniteValue(type: String(decoding: list.type, as: UTF8.self),
                                            dsName: Self.dsName(sources, index, list.valueCount)),
                    values: 1))
                continue
            }
            switch schema {
            case .split:
                buffer.appendBytes(names.measurements[index])
                cache.appendTags(into: &buffer)
                buffer.appendBytes(LineCache.valueField)
                appendFloat(number, into: &buffer)
                LineProtocolEncoder.appendTimestamp(timestamp, into: &buffer)
                report.points += 1
            case .join:
                if !wroteJoined {
                    buffer.appendBytes(names.measurements[0])
                    cache.appendTags(into: &buffer)
                    buffer.appendByte(UInt8(ascii: " "))
                    wroteJoined = true
                } else {
                    buffer.appendByte(UInt8(ascii: ","))
                }
                buffer.appendBytes(names.fieldKeys[index])
                buffer.appendByte(UInt8(ascii: "="))
                appendFloat(number, into: &buffer)
            }
        }
        if wroteJoined {
            LineProtocolEncoder.appendTimestamp(timestamp, into: &buffer)
            report.points += 1
        }
    }

    /// The data sources of the list's type, checked against the values; nil (with a
    /// rejection) when the count disagrees with types.db.
    private mutating func checkedSources(_ list: CollectdValueList, rejections: inout [CollectdRejection],
                                         stats: inout CollectdMappingStats) -> Sources? {
        let known = dataSources(of: list.type)
        if let known, known.count != list.values.count {
            rejections.append(CollectdRejection(
                offset: list.offset,
                reason: .valueCountMismatch(type: list.type, expected: known.count, received: list.values.count),
                values: list.values.count))
            return nil
        }
        if known == nil { stats.unknownType += 1 }
        return Sources(known: known)
    }

    /// types.db's data sources of a value list's type, or nil for a type it does not know.
    struct Sources: Sendable {
        var known: [CollectdDataSource]?
    }

    /// A data source's name: from types.db, else `value` for one value and `0`, `1`, … for several.
    @inline(__always)
    static func dsName(_ sources: Sources, _ index: Int, _ count: Int) -> String {
        if let known = sources.known { return known[index].name }
        return count == 1 ? "value" : String(index)
    }

    /// The number to store for value `index`: raw, or its rate with store_rates; nil (with a
    /// rejection where one is due) when there is none.
    @inline(__always)
    private mutating func number(_ list: CollectdValueList, _ index: Int, dsName: String, source: CollectdDataSource?,
                                 rejections: inout [CollectdRejection], stats: inout CollectdMappingStats) -> Double? {
        let value = list.values[index]
        let number: Double
        if storeRates && value.dsType != .gauge {
            guard let rate = rate(of: value, index: index, list: list, source: source,
                                  rejections: &rejections, stats: &stats) else { return nil }
            number = rate
        } else {
            number = value.doubleValue
        }
        guard number.isFinite else {
            rejections.append(CollectdRejection(offset: list.offset, reason: .nonFiniteValue(type: list.type, dsName: dsName),
                                                values: 1))
            return nil
        }
        return number
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

/// The escaped line-protocol pieces of the collectd series being written: one tag segment
/// per identifier field (`,host=…`, `,instance=…`, `,type=…`, `,type_instance=…`), each
/// rebuilt only when its field's bytes change, and per (plugin, type) the measurement
/// (split) or field keys (join) of every data source, in a small most-recently-used table.
///
/// A value: the segments are objects (their buffers are reused), so a copy shares them only
/// until its first write, which takes fresh ones when they are shared (copy on write). Each
/// receiver thread's writer starts as a copy of the input's one mapper; without this, the
/// readers of one input (`readers = N`) rewrote each other's segments between building a
/// line's tags and writing them (a data race, and lines with another datagram's tags).
struct LineCache: @unchecked Sendable {  // the segments are written only by a copy that holds them alone
    private var segments = TagSegments()
    private var names = BytesKeyedCache<Names>()
    private(set) var current = Names(sources: CollectdPointMapper.Sources(known: nil))
    static let valueField = Array(" value=".utf8)

    /// The tag segments, in key order, to append after the measurement.
    @inline(__always)
    func appendTags<Sink: ByteSink>(into buffer: inout Sink) {
        buffer.appendBuffer(segments.host.bytes)
        buffer.appendBuffer(segments.pluginInstance.bytes)
        buffer.appendBuffer(segments.type.bytes)
        buffer.appendBuffer(segments.typeInstance.bytes)
    }

    /// Makes the tag segments match `list`; false when a value needs a rewrite (use the point path).
    mutating func prepareTags(for list: CollectdRawValueList) -> Bool {
        if !isKnownUniquelyReferenced(&segments) { segments = TagSegments() }
        // Every segment is updated (no short-circuit), so the next list compares against this one.
        let hostClean = segments.host.update(list.host)
        let instanceClean = segments.pluginInstance.update(list.pluginInstance)
        let typeClean = segments.type.update(list.type)
        let typeInstanceClean = segments.typeInstance.update(list.typeInstance)
        return hostClean && instanceClean && typeClean && typeInstanceClean
    }

    /// Whether this cache's tag segments are shared with another copy (tests: a copy must
    /// stop sharing them at its first write).
    func sharesTagSegments(with other: LineCache) -> Bool {
        segments === other.segments
    }

    /// The four tag segments, held as one object so that one uniqueness check covers them.
    final class TagSegments {
        let host = Segment(key: "host")
        let pluginInstance = Segment(key: "instance")
        let type = Segment(key: "type")
        let typeInstance = Segment(key: "type_instance")
    }

    /// Makes `current` the names of the list's plugin, type and value count (built, with the
    /// type's data sources from types.db, the first time); false when a name needs a rewrite.
    mutating func selectNames(for list: CollectdRawValueList, schema: CollectdSchema, typesDB: TypesDB) -> Bool {
        let salt = UInt64(list.valueCount) << 1 | (schema == .split ? 0 : 1)
        current = names.value(list.plugin, list.type, salt: salt) {
            let sources = CollectdPointMapper.Sources(known: typesDB[String(decoding: list.type, as: UTF8.self)])
            return Names(list: list, sources: sources, schema: schema)
        }
        return current.clean
    }

    /// `,key=value` for one identifier field (nothing when the value is empty).
    final class Segment {
        let key: [UInt8]
        /// Rewrite `/` as collectd's server does (binary protocol); not for graphite paths.
        let fixSlashes: Bool
        let source = ByteBuffer(capacity: 64)
        let bytes = ByteBuffer(capacity: 64)
        var clean = true
        var never = true

        init(key: String, fixSlashes: Bool = true) {
            self.key = Array(key.utf8)
            self.fixSlashes = fixSlashes
        }

        @inline(__always)
        func update(_ value: UnsafeBufferPointer<UInt8>) -> Bool {
            if !never && source.hasSameBytes(as: value) { return clean }
            never = false
            source.removeAll()
            source.appendBytes(value)
            bytes.removeAll()
            if value.isEmpty {
                clean = true
                return true
            }
            var sink = bytes
            sink.appendByte(UInt8(ascii: ","))
            sink.appendBytes(key)
            sink.appendByte(UInt8(ascii: "="))
            if fixSlashes && value.contains(UInt8(ascii: "/")) {
                let fixed = Array(CollectdPointMapper.escapeSlashes(String(decoding: value, as: UTF8.self)).utf8)
                clean = fixed.withUnsafeBufferPointer { LineProtocolEncoder.appendClean($0, kind: .tagValue, into: &sink) }
            } else {
                clean = LineProtocolEncoder.appendClean(value, kind: .tagValue, into: &sink)
            }
            return clean
        }
    }

    /// Measurements (split) or the measurement and field keys (join) of one (plugin, type),
    /// with the type's data sources.
    struct Names {
        let sources: CollectdPointMapper.Sources
        var measurements: [[UInt8]] = []
        var fieldKeys: [[UInt8]] = []
        var clean = false

        init(sources: CollectdPointMapper.Sources) {
            self.sources = sources
        }

        init(list: CollectdRawValueList, sources: CollectdPointMapper.Sources, schema: CollectdSchema) {
            self.sources = sources
            let count = list.valueCount
            // A count that disagrees with types.db is rejected before names are used.
            if let known = sources.known, known.count != count { return }
            let plugin = CollectdPointMapper.escapeSlashes(String(decoding: list.plugin, as: UTF8.self))
            for index in 0..<count {
                let dsName = CollectdPointMapper.dsName(sources, index, count)
                var measurement: [UInt8] = []
                var fieldKey: [UInt8] = []
                switch schema {
                case .split:
                    guard LineProtocolEncoder.appendClean(plugin + "_" + dsName, kind: .measurement, into: &measurement) else {
                        return
                    }
                case .join:
                    guard index > 0 || LineProtocolEncoder.appendClean(plugin, kind: .measurement, into: &measurement),
                          LineProtocolEncoder.appendClean(dsName, kind: .fieldKey, into: &fieldKey) else { return }
                    if fieldKeys.contains(fieldKey) { return }  // duplicate names: the encoder resolves those
                }
                measurements.append(measurement)
                fieldKeys.append(fieldKey)
            }
            clean = true
        }
    }
}

/// A visitor that writes line protocol straight from the datagrams a decoder walks: the
/// receivers' hot path (`CollectdPacketDecoder.walk(_:visitor:rejections:)`). A datagram
/// that turns out to be forged is taken back out of the buffer. The walk's own rejections go
/// to the array passed to `walk`; `rejections` holds those of the mapping (NaN, counts).
public struct CollectdLineProtocolWriter: CollectdValueListVisitor {
    public var mapper: CollectdPointMapper
    public let buffer: ByteBuffer
    public var rejections: [CollectdRejection] = []
    public var stats = CollectdMappingStats()
    public var report = LineProtocolEncodeReport()
    public private(set) var valueLists = 0
    public private(set) var values = 0
    public private(set) var notifications = 0
    private var mark = Mark()

    private struct Mark {
        var buffer = 0
        var rejections = 0
        var points = 0
        var valueLists = 0
        var values = 0
        var notifications = 0
    }

    public init(mapper: CollectdPointMapper, buffer: ByteBuffer = ByteBuffer()) {
        self.mapper = mapper
        self.buffer = buffer
    }

    /// Call before walking each datagram: what follows can be taken back if it is forged.
    public mutating func startDatagram() {
        mark = Mark(buffer: buffer.count, rejections: rejections.count, points: report.points, valueLists: valueLists, values: values,
                    notifications: notifications)
    }

    public mutating func visit(_ list: CollectdRawValueList) {
        valueLists += 1
        values += list.valueCount
        var sink = buffer
        mapper.encode(list, into: &sink, rejections: &rejections, stats: &stats, report: &report)
    }

    public mutating func visit(_ notification: CollectdNotification) {
        notifications += 1
    }

    public mutating func discardDatagram() {
        buffer.truncate(to: mark.buffer)
        rejections.removeSubrange(mark.rejections...)
        report.points = mark.points
        valueLists = mark.valueLists
        values = mark.values
        notifications = mark.notifications
    }
}
