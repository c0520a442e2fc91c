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
    private let parser = GraphiteLineParser()
    private let mapper: WriteGraphitePathMapper

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
        let timestamp = parsed.seconds.map(Self.nanoseconds) ?? now
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

/// The offset of the next `\n`, scanning eight bytes at a time.
@inline(__always)
func memchrNewline(_ start: UnsafeRawPointer, _ count: Int) -> Int? {
    var i = 0
    let newline: UInt64 = 0x0A0A_0A0A_0A0A_0A0A
    while i + 8 <= count {
        let word = start.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ newline
        // A zero byte in `word` marks a newline.
        if (word &- 0x0101_0101_0101_0101) & ~word & 0x8080_8080_8080_8080 != 0 { break }
        i += 8
    }
    while i < count {
        if start.load(fromByteOffset: i, as: UInt8.self) == 0x0A { return i }
        i += 1
    }
    return nil
}
