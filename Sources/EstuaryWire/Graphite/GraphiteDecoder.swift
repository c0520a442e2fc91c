import EstuaryModel

/// How a graphite input turns lines into points.
public struct GraphiteDecoderConfiguration: Sendable {
    /// Read collectd write_graphite paths back into collectd series (the drop-in mode).
    public var collectdPaths: Bool
    /// The write_graphite options the senders use (prefix, postfix, escape character, ...).
    public var writeGraphite: WriteGraphiteOptions
    /// The schema collectd paths map to, as for the binary protocol.
    public var schema: CollectdSchema
    /// Templates for every other path (InfluxDB's syntax).
    public var templates: GraphiteTemplateSet
    /// Longer lines are rejected.
    public var maxLineLength: Int

    public init(collectdPaths: Bool = false, writeGraphite: WriteGraphiteOptions = WriteGraphiteOptions(),
                schema: CollectdSchema = .split, templates: GraphiteTemplateSet, maxLineLength: Int = 16384) {
        self.collectdPaths = collectdPaths
        self.writeGraphite = writeGraphite
        self.schema = schema
        self.templates = templates
        self.maxLineLength = maxLineLength
    }
}

/// Counts of how graphite lines were read.
public struct GraphiteDecodeStats: Sendable, Hashable {
    /// Lines that became a point through the write_graphite mapping.
    public var collectdPaths = 0
    /// Lines that became a point through the templates (or the default template).
    public var templatePaths = 0
    /// write_graphite lines whose type is not in types.db (kept).
    public var unknownType = 0

    public init() {}
}

/// Decodes graphite plaintext into points: collectd write_graphite paths into the same
/// series the binary protocol gives (when `collectdPaths` is on), everything else through
/// the templates; Graphite 1.1 `;name=value` tags become tags.
public struct GraphiteDecoder: Sendable {
    public let configuration: GraphiteDecoderConfiguration
    let parser = GraphiteLineParser()
    let mapper: WriteGraphitePathMapper

    public init(configuration: GraphiteDecoderConfiguration, typesDB: TypesDB) {
        self.configuration = configuration
        self.mapper = WriteGraphitePathMapper(options: configuration.writeGraphite, typesDB: typesDB)
    }

    /// Decodes one line (without `\n`; a trailing CR is ignored). `now` (ns) stamps lines
    /// without a timestamp.
    public func decodeLine(_ line: UnsafeRawBufferPointer, lineNumber: Int, now: Int64, into points: inout [Point],
                           rejections: inout [GraphiteRejection], stats: inout GraphiteDecodeStats) {
        if line.count > configuration.maxLineLength {
            rejections.append(GraphiteRejection(line: lineNumber, reason: .lineTooLong(length: line.count,
                                                                                       limit: configuration.maxLineLength)))
            return
        }
        guard let result = parser.parse(line) else { return }
        let parsed: GraphiteLine
        switch result {
        case .success(let value): parsed = value
        case .failure(let reason):
            rejections.append(GraphiteRejection(line: lineNumber, reason: reason))
            return
        }
        let timestamp = parsed.timestamp ?? now
        let path = UnsafeRawBufferPointer(rebasing: line[parsed.path])
        let lineTags = parser.tags(of: parsed, in: line)

        if configuration.collectdPaths {
            let identity = lineTags.isEmpty
                ? mapper.identity(of: path)
                : (mapper.hasPrefix(path) ? mapper.identity(fromTags: lineTags) : nil)
            if let identity {
                if identity.unknownType { stats.unknownType += 1 }
                stats.collectdPaths += 1
                let tags = CollectdSeriesNaming.tags(host: identity.host, pluginInstance: identity.pluginInstance,
                                                     type: identity.type, typeInstance: identity.typeInstance)
                points.append(CollectdSeriesNaming.point(schema: configuration.schema, plugin: identity.plugin,
                                                         dsName: identity.dsName, tags: tags, value: parsed.value,
                                                         timestamp: timestamp))
                return
            }
        }
        stats.templatePaths += 1
        let applied = configuration.templates.apply(path)
        var tags = applied.tags
        for tag in lineTags {
            if let index = tags.firstIndex(where: { $0.key == tag.key }) { tags[index] = tag } else { tags.append(tag) }
        }
        points.append(Point(measurement: applied.measurement, tags: tags,
                            fields: [Field(applied.field, .float(parsed.value))], timestamp: timestamp))
    }

    /// Decodes every `\n`-separated line of `text` (a datagram, a file); the last line
    /// needs no `\n`. Returns the number of lines seen.
    @discardableResult
    public func decode(_ text: UnsafeRawBufferPointer, firstLineNumber: Int = 1, now: Int64, into points: inout [Point],
                       rejections: inout [GraphiteRejection], stats: inout GraphiteDecodeStats) -> Int {
        var start = 0
        var lineNumber = firstLineNumber
        let count = text.count
        guard let base = text.baseAddress else { return 0 }
        while start < count {
            let end: Int
            if let found = memchrNewline(base + start, count - start) {
                end = start + found
            } else {
                end = count
            }
            decodeLine(UnsafeRawBufferPointer(rebasing: text[start..<end]), lineNumber: lineNumber, now: now,
                       into: &points, rejections: &rejections, stats: &stats)
            lineNumber += 1
            start = end + 1
        }
        return lineNumber - firstLineNumber
    }

    /// Seconds (fractional allowed) to nanoseconds, exact for whole seconds.
    @inline(__always)
    static func nanoseconds(_ seconds: Double) -> Int64 {
        let whole = seconds.rounded(.down)
        let fraction = seconds - whole
        return Int64(whole) &* 1_000_000_000 &+ Int64((fraction * 1e9).rounded())
    }
}

/// Writes graphite plaintext straight to line protocol: collectd write_graphite paths are
/// read as byte ranges and written from cached, escaped pieces (types, measurements, tag
/// segments) without building points; every other line, or a name that needs one of the
/// encoder's rewrites, takes the point path (`GraphiteDecoder.decodeLine`, then
/// `LineProtocolEncoder`). Both give the same bytes. This is the receivers' hot path; one
/// writer per connection or socket.
public struct GraphiteLineProtocolWriter {
    public let decoder: GraphiteDecoder
    public var rejections: [GraphiteRejection] = []
    public var stats = GraphiteDecodeStats()
    public var report = LineProtocolEncodeReport()
    private let types: CachedTypeLookup
    private var names = BytesKeyedCache<CollectdPathNames>()
    private let host = LineCache.Segment(key: "host", fixSlashes: false)
    private let pluginInstance = LineCache.Segment(key: "instance", fixSlashes: false)
    private let type = LineCache.Segment(key: "type", fixSlashes: false)
    private let typeInstance = LineCache.Segment(key: "type_instance", fixSlashes: false)
    private var points: [Point] = []
    /// The start of the line (`measurement,tags field=`) each recent write_graphite path gave
    /// (nil: the path takes the point path), so a path seen again costs a hash, a compare and
    /// a copy (senders repeat the same paths every interval). Off for a while when most lookups
    /// miss (more distinct paths than it holds), where it would only add work.
    private var prefixes: BytesKeyedCache<CollectdLinePrefix?>
    private var prefixUse = PrefixCacheUse()
    /// Paths the cache holds: a worker serving a few hundred collectd hosts (up to ~16 MiB).
    public static let pathCacheCapacity = 65536
    /// Whether the path cache is being asked (tests).
    var pathCacheEnabled: Bool { prefixUse.enabled }
    // What every line needs, taken out of the decoder once: reading them through the
    // decoder's configuration would copy it (and retain its strings) for every line.
    private let collectdPaths: Bool
    private let maxLineLength: Int
    private let schema: CollectdSchema
    private let parser: GraphiteLineParser
    private let mapper: WriteGraphitePathMapper

    public init(decoder: GraphiteDecoder) {
        self.init(decoder: decoder, pathCacheCapacity: Self.pathCacheCapacity)
    }

    init(decoder: GraphiteDecoder, pathCacheCapacity: Int) {
        self.decoder = decoder
        var slots = 1
        while slots < 2 * pathCacheCapacity { slots <<= 1 }
        prefixes = BytesKeyedCache(capacity: pathCacheCapacity, slots: slots)
        types = CachedTypeLookup(typesDB: decoder.mapper.typesDB)
        collectdPaths = decoder.configuration.collectdPaths
        maxLineLength = decoder.configuration.maxLineLength
        schema = decoder.configuration.schema
        parser = decoder.parser
        mapper = decoder.mapper
    }

    /// Decodes every `\n`-separated line of `text` into `sink`; the last line needs no `\n`.
    /// Returns the number of lines seen. (Concrete entry points: a generic one called from
    /// another module would run unspecialized, through witness tables, on the hot path.)
    @discardableResult
    public mutating func decode(_ text: UnsafeRawBufferPointer, firstLineNumber: Int = 1, now: Int64,
                                into sink: ByteBuffer) -> Int {
        var sink = sink
        return decodeLines(text, firstLineNumber: firstLineNumber, now: now, into: &sink)
    }

    /// `decode` into an array.
    @discardableResult
    public mutating func decode(_ text: UnsafeRawBufferPointer, firstLineNumber: Int = 1, now: Int64,
                                into sink: inout [UInt8]) -> Int {
        decodeLines(text, firstLineNumber: firstLineNumber, now: now, into: &sink)
    }

    /// Decodes every `\n`-separated line of `text` into `sink`; the last line needs no `\n`.
    /// Returns the number of lines seen.
    @discardableResult
    mutating func decodeLines<Sink: ByteSink>(_ text: UnsafeRawBufferPointer, firstLineNumber: Int = 1, now: Int64,
                                              into sink: inout Sink) -> Int {
        var start = 0
        var lineNumber = firstLineNumber
        let count = text.count
        guard let base = text.baseAddress else { return 0 }
        while start < count {
            let end = memchrNewline(base + start, count - start).map { start + $0 } ?? count
            decodeLine(UnsafeRawBufferPointer(rebasing: text[start..<end]), lineNumber: lineNumber, now: now, into: &sink)
            lineNumber += 1
            start = end + 1
        }
        return lineNumber - firstLineNumber
    }

    /// Decodes one line (without `\n`) into `sink`.
    mutating func decodeLine<Sink: ByteSink>(_ line: UnsafeRawBufferPointer, lineNumber: Int, now: Int64,
                                                    into sink: inout Sink) {
        if collectdPaths && line.count <= maxLineLength,
           case .success(let parsed)? = parser.parse(line), parsed.tags.isEmpty {
            let path = UnsafeRawBufferPointer(rebasing: line[parsed.path])
            let written: Bool?  // nil: not a line of the fast path; else its type was unknown
            if prefixUse.enabled {
                let key = path.bindMemory(to: UInt8.self)
                let prefix: CollectdLinePrefix?
                if let held = prefixes.lookup(key) {
                    prefix = held
                    prefixUse.count(missed: false)
                } else {
                    prefix = makePrefix(path)
                    prefixes.insert(prefix, key)
                    prefixUse.count(missed: true)
                }
                if let prefix { prefix.bytes.withUnsafeBufferPointer { sink.appendBytes($0) } }
                written = prefix?.unknownType
            } else {
                // Too many distinct paths for the cache: straight into the sink.
                prefixUse.skipped()
                var lookup = types
                if let identity = mapper.rawIdentity(of: path, lookup: &lookup), writePrefix(identity, path: path, into: &sink) {
                    written = identity.unknownType
                } else {
                    written = nil
                }
            }
            if let unknownType = written {
                if let valueText = parsed.plainValueText {
                    // The sender's own digits: the same double for InfluxDB, without formatting it again.
                    sink.appendBytes(UnsafeRawBufferPointer(rebasing: line[valueText]).bindMemory(to: UInt8.self))
                } else {
                    appendFloat(parsed.value, into: &sink)
                }
                LineProtocolEncoder.appendTimestamp(parsed.timestamp ?? now, into: &sink)
                stats.collectdPaths += 1
                if unknownType { stats.unknownType += 1 }
                report.points += 1
                return
            }
        }
        points.removeAll(keepingCapacity: true)
        decoder.decodeLine(line, lineNumber: lineNumber, now: now, into: &points, rejections: &rejections, stats: &stats)
        for point in points { LineProtocolEncoder().encode(point, into: &sink, report: &report) }
    }

    /// The start of the line a write_graphite path gives, or nil when it is not one or a name
    /// needs one of the encoder's rewrites (the point path then writes the line).
    private mutating func makePrefix(_ path: UnsafeRawBufferPointer) -> CollectdLinePrefix? {
        var lookup = types
        guard let identity = mapper.rawIdentity(of: path, lookup: &lookup) else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(path.count + 64)
        guard writePrefix(identity, path: path, into: &bytes) else { return nil }
        return CollectdLinePrefix(bytes: bytes, unknownType: identity.unknownType)
    }

    /// Writes the measurement, the tags and the field key of one collectd line from cached,
    /// escaped pieces; false (nothing written) when a name needs a rewrite.
    private mutating func writePrefix<Sink: ByteSink>(_ identity: CollectdRawPathIdentity, path: UnsafeRawBufferPointer,
                                                      into sink: inout Sink) -> Bool {
        let base = path.baseAddress!.assumingMemoryBound(to: UInt8.self)
        func bytes(_ range: Range<Int>) -> UnsafeBufferPointer<UInt8> {
            UnsafeBufferPointer(start: base + range.lowerBound, count: range.count)
        }
        let schema = self.schema
        let clean: Bool = withBytes(of: identity.host, in: path) { hostBytes in
            withBytes(of: identity.dsName, in: path) { dsBytes in
                // Every segment is updated (no short-circuit), so the next line compares against this one.
                let hostClean = host.update(hostBytes)
                let instanceClean = pluginInstance.update(bytes(identity.pluginInstance))
                let typeClean = type.update(bytes(identity.type))
                let typeInstanceClean = typeInstance.update(bytes(identity.typeInstance))
                let pluginBytes = bytes(identity.plugin)
                let names = names.value(pluginBytes, dsBytes, salt: schema == .split ? 0 : 1) {
                    CollectdPathNames(plugin: pluginBytes, dsName: dsBytes, schema: schema)
                }
                guard hostClean && instanceClean && typeClean && typeInstanceClean && names.clean else { return false }
                sink.appendBytes(names.measurement)
                sink.appendBuffer(host.bytes)
                sink.appendBuffer(pluginInstance.bytes)
                sink.appendBuffer(type.bytes)
                sink.appendBuffer(typeInstance.bytes)
                sink.appendBytes(names.field)
                return true
            }
        }
        return clean
    }

    private func withBytes<R>(of name: PathName, in path: UnsafeRawBufferPointer,
                              _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        switch name {
        case .bytes(let range):
            return body(UnsafeBufferPointer(start: path.baseAddress!.assumingMemoryBound(to: UInt8.self) + range.lowerBound,
                                            count: range.count))
        case .text(let text):
            var text = text
            return text.withUTF8(body)
        }
    }
}

/// The start of a write_graphite path's line, up to its value: `measurement,tags field=`.
struct CollectdLinePrefix {
    var bytes: [UInt8]
    var unknownType: Bool
}

/// When the path cache is worth asking: it counts lookups in rounds of `round`; a round in
/// which more than half missed turns it off for `pause` lines, then it tries again.
struct PrefixCacheUse {
    static let round = 4096
    static let pause = 65536
    private(set) var enabled = true
    private var lookups = 0
    private var misses = 0
    private var pausedFor = 0

    @inline(__always)
    mutating func count(missed: Bool) {
        lookups += 1
        if missed { misses += 1 }
        if lookups == Self.round {
            if misses * 2 > lookups {
                enabled = false
                pausedFor = 0
            }
            lookups = 0
            misses = 0
        }
    }

    /// Called for each line the cache was not asked about; ends the pause after `pause` lines.
    @inline(__always)
    mutating func skipped() {
        pausedFor += 1
        if pausedFor >= Self.pause { enabled = true }
    }
}

/// The escaped measurement and field part (` value=` or ` <ds>=`) of a (plugin, ds) pair.
struct CollectdPathNames {
    var measurement: [UInt8] = []
    var field: [UInt8] = []
    var clean = false

    init(plugin: UnsafeBufferPointer<UInt8>, dsName: UnsafeBufferPointer<UInt8>, schema: CollectdSchema) {
        let plugin = String(decoding: plugin, as: UTF8.self)
        let dsName = String(decoding: dsName, as: UTF8.self)
        field.append(UInt8(ascii: " "))
        switch schema {
        case .split:
            guard LineProtocolEncoder.appendClean(plugin + "_" + dsName, kind: .measurement, into: &measurement) else { return }
            field.append(contentsOf: "value".utf8)
        case .join:
            guard LineProtocolEncoder.appendClean(plugin, kind: .measurement, into: &measurement),
                  LineProtocolEncoder.appendClean(dsName, kind: .fieldKey, into: &field) else { return }
        }
        field.append(UInt8(ascii: "="))
        clean = true
    }
}

/// types.db lookups by the type's bytes, remembered. A class, so that handing it to the path
/// resolver copies a reference, not the table.
final class CachedTypeLookup: CollectdTypeLookup {
    let typesDB: TypesDB
    private var cache = BytesKeyedCache<[CollectdDataSource]?>()

    init(typesDB: TypesDB) {
        self.typesDB = typesDB
    }

    func dataSources(of type: UnsafeBufferPointer<UInt8>) -> [CollectdDataSource]? {
        cache.value(type) { typesDB[String(decoding: type, as: UTF8.self)] }
    }
}

/// Whether any byte of `word` is zero (the classic SWAR test).
@inline(__always)
func hasZeroByte(_ word: UInt64) -> Bool {
    (word &- 0x0101_0101_0101_0101) & ~word & 0x8080_8080_8080_8080 != 0
}

/// The offset of the next `\n`, scanning eight bytes at a time.
@inline(__always)
func memchrNewline(_ start: UnsafeRawPointer, _ count: Int) -> Int? {
    var i = 0
    while i + 8 <= count {
        if hasZeroByte(start.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ 0x0A0A_0A0A_0A0A_0A0A) { break }
        i += 8
    }
    while i < count {
        if start.load(fromByteOffset: i, as: UInt8.self) == 0x0A { return i }
        i += 1
    }
    return nil
}
