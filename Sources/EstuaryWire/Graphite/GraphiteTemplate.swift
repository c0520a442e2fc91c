import EstuaryModel

/// The compiled `templates = [...]` list of a graphite input: it turns a dotted graphite
/// metric path such as `servers.web01.cpu.load` into a measurement, tags and a field name,
/// the way InfluxDB 1.x's `[[graphite]]` service does (see Docs/graphite-templates.md).
///
/// Each entry is `[filter] template [tag=value,...]`. Entries are checked and compiled once,
/// at configuration time; `apply` then works on the path's bytes and allocates only the
/// strings and the tag array of its result.
public struct GraphiteTemplateSet: Sendable {
    /// Compiled templates: those of the entries, in list order, then InfluxDB's built-in
    /// default (`measurement*` joined with ".") when no entry is a default template.
    let templates: [CompiledGraphiteTemplate]
    /// Index in `templates` of the template used when no filter matches.
    let defaultTemplate: Int
    /// The filters of the entries that have one.
    let filters: GraphiteFilterTree

    /// Checks and compiles `templates` (the entries of the `templates` option, in order).
    ///
    /// - Parameter separator: joins the path components that end up in the same measurement,
    ///   tag or field (InfluxDB's `separator` option); an empty string means the default ".".
    /// - Throws: the first invalid entry, in list order.
    public init(_ templates: [String], separator: String = ".") throws(GraphiteTemplateError) {
        let separatorBytes = Array((separator.isEmpty ? "." : separator).utf8)
        var compiled: [CompiledGraphiteTemplate] = []
        var builder = GraphiteFilterTree.Builder()
        var seenFilters: [Substring: Int] = [:]
        var defaultTemplate: Int?

        for (index, entry) in templates.enumerated() {
            let spec = try GraphiteTemplateSpec(entry, index: index)
            if let firstIndex = seenFilters[spec.filter] {
                throw .duplicateFilter(index: index, template: entry, filter: String(spec.filter),
                                       firstIndex: firstIndex)
            }
            seenFilters[spec.filter] = index
            try spec.validateFilter(index: index, entry: entry)
            let tags = try spec.parseTags(index: index, entry: entry)

            compiled.append(CompiledGraphiteTemplate(elements: spec.elements, extraTags: tags,
                                                     separator: separatorBytes))
            if spec.filter.isEmpty {
                defaultTemplate = compiled.count - 1
            } else {
                builder.insert(filter: spec.filter, template: compiled.count - 1)
            }
        }

        if defaultTemplate == nil {
            // InfluxDB's built-in default always joins with ".", whatever `separator` says:
            // an unmatched path becomes the measurement unchanged.
            compiled.append(CompiledGraphiteTemplate(elements: ["measurement*"], extraTags: [],
                                                     separator: [0x2E]))
            defaultTemplate = compiled.count - 1
        }
        self.templates = compiled
        self.defaultTemplate = defaultTemplate!
        self.filters = builder.build()
    }

    /// Applies the most specific matching template (or the default) to a metric path (bytes of the path only, no value/timestamp, no ";tags").
    public func apply(_ path: UnsafeRawBufferPointer) -> GraphiteTemplateResult {
        let index = filters.match(path) ?? defaultTemplate
        return templates[index].apply(path)
    }

    /// Applies the most specific matching template (or the default) to a metric path given as a string.
    public func apply(_ path: String) -> GraphiteTemplateResult {
        var path = path
        return path.withUTF8 { apply(UnsafeRawBufferPointer($0)) }
    }
}

/// What a graphite template makes of a metric path: the point's measurement, its tags
/// (sorted by key) and the name of the field that receives the line's value.
public struct GraphiteTemplateResult: Equatable, Sendable {
    public var measurement: String
    /// Tags from the path and from the template's extra tags, sorted by key. Tags whose
    /// value would be empty are left out, as InfluxDB leaves them out of the series key.
    public var tags: [Tag]
    /// "value" unless the template names one.
    public var field: String

    public init(measurement: String, tags: [Tag] = [], field: String = "value") {
        self.measurement = measurement
        self.tags = tags
        self.field = field
    }
}

// MARK: - Parsing an entry

/// One entry of the list, split into its parts and checked except for the parts that need
/// the other entries (duplicate filters) or that are checked in InfluxDB's order after them.
struct GraphiteTemplateSpec {
    var filter: Substring = ""
    var template: Substring = ""
    var tags: Substring = ""
    var elements: [Substring] = []

    init(_ entry: String, index: Int) throws(GraphiteTemplateError) {
        let parts = entry.split(whereSeparator: \.isWhitespace)
        switch parts.count {
        case 0:
            throw .emptyTemplate(index: index, template: entry)
        case 1:
            template = parts[0]
        case 2:
            // `filter template` or `template tags`: only tags contain "=".
            if parts[1].contains("=") {
                template = parts[0]
                tags = parts[1]
            } else {
                filter = parts[0]
                template = parts[1]
            }
        case 3:
            filter = parts[0]
            template = parts[1]
            tags = parts[2]
        default:
            throw .tooManyParts(index: index, template: entry)
        }

        elements = template.split(separator: ".", omittingEmptySubsequences: false)
        guard elements.contains(where: { $0 == "measurement" || $0 == "measurement*" }) else {
            throw .missingMeasurement(index: index, template: entry)
        }
        if elements.count(where: { $0 == "field" }) > 1 {
            throw .repeatedField(index: index, template: entry)
        }
        if elements.contains("measurement*") && elements.contains("field*") {
            throw .greedyMeasurementAndField(index: index, template: entry)
        }
    }

    func validateFilter(index: Int, entry: String) throws(GraphiteTemplateError) {
        guard !filter.isEmpty else { return }
        for component in filter.split(separator: ".", omittingEmptySubsequences: false) {
            if component.isEmpty {
                throw .emptyFilterComponent(index: index, template: entry, filter: String(filter))
            }
            if component != "*" && component.contains("*") {
                throw .partialWildcardInFilter(index: index, template: entry, filter: String(filter))
            }
        }
    }

    /// The extra tags, in order; a key given twice keeps its last value.
    func parseTags(index: Int, entry: String) throws(GraphiteTemplateError) -> [(key: String, value: String)] {
        guard !tags.isEmpty else { return [] }
        var result: [(key: String, value: String)] = []
        for item in tags.split(separator: ",", omittingEmptySubsequences: false) {
            let kv = item.split(separator: "=", omittingEmptySubsequences: false)
            guard kv.count == 2, !kv[0].isEmpty, !kv[1].isEmpty else {
                throw .invalidTag(index: index, template: entry, tag: String(item))
            }
            let key = String(kv[0]), value = String(kv[1])
            if let existing = result.firstIndex(where: { $0.key == key }) {
                result[existing].value = value
            } else {
                result.append((key, value))
            }
        }
        return result
    }
}

// MARK: - A compiled template

/// A template turned into positions: which path component goes to the measurement, to each
/// tag and to the field. Elements after the first `measurement*` / `field*` are never reached
/// and are dropped. A class so that picking one per line costs a single retain.
final class CompiledGraphiteTemplate: Sendable {
    /// One tag of the result: its key, the template's extra value (if any) and the
    /// positions of the path components that are appended to it.
    struct TagSlot: Sendable {
        var key: String
        var fixed: [UInt8]?
        var fixedString: String?
        var positions: [Int]
    }

    let separator: [UInt8]
    /// How many leading path components the template looks at one by one.
    let positional: Int
    let measurementPositions: [Int]
    /// Position of `measurement*`, or -1.
    let measurementRest: Int
    /// Position of `field`, or -1.
    let fieldPosition: Int
    /// Position of `field*`, or -1.
    let fieldRest: Int
    /// Sorted by key.
    let tagSlots: [TagSlot]

    init(elements: [Substring], extraTags: [(key: String, value: String)], separator: [UInt8]) {
        var slots: [String: TagSlot] = [:]
        for (key, value) in extraTags {
            slots[key] = TagSlot(key: key, fixed: Array(value.utf8), fixedString: value, positions: [])
        }
        var positional = 0
        var measurementPositions: [Int] = []
        var measurementRest = -1, fieldPosition = -1, fieldRest = -1
        scan: for (position, element) in elements.enumerated() {
            positional = position + 1
            switch element {
            case "":
                continue
            case "measurement":
                measurementPositions.append(position)
            case "measurement*":
                measurementRest = position
                break scan
            case "field":
                fieldPosition = position
            case "field*":
                fieldRest = position
                break scan
            default:
                let key = String(element)
                slots[key, default: TagSlot(key: key, fixed: nil, fixedString: nil, positions: [])]
                    .positions.append(position)
            }
        }
        self.separator = separator
        self.positional = positional
        self.measurementPositions = measurementPositions
        self.measurementRest = measurementRest
        self.fieldPosition = fieldPosition
        self.fieldRest = fieldRest
        self.tagSlots = slots.values.sorted { $0.key < $1.key }
    }

    func apply(_ path: UnsafeRawBufferPointer) -> GraphiteTemplateResult {
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 * max(positional, 1)) { bounds in
            // Start and end offsets of the first `positional` components of the path.
            var count = 0
            var start = 0
            let end = path.count
            while count < positional {
                var stop = start
                while stop < end && path[stop] != 0x2E { stop += 1 }
                bounds[2 * count] = start
                bounds[2 * count + 1] = stop
                count += 1
                if stop == end { break }
                start = stop + 1
            }
            let components = GraphitePathComponents(path: path, bounds: bounds, count: count)

            var measurement = components.join(fixed: nil, fixedString: nil, positions: measurementPositions,
                                              rest: measurementRest, separator: separator)
            if measurement.isEmpty {
                // InfluxDB: "could not extract measurement, use the raw value".
                measurement = String(decoding: path, as: UTF8.self)
            }

            var tags: [Tag] = []
            if !tagSlots.isEmpty {
                tags.reserveCapacity(tagSlots.count)
                for i in tagSlots.indices {
                    let value = components.join(fixed: tagSlots[i].fixed, fixedString: tagSlots[i].fixedString,
                                                positions: tagSlots[i].positions, rest: -1, separator: separator)
                    if !value.isEmpty { tags.append(Tag(tagSlots[i].key, value)) }
                }
            }

            var field = ""
            if fieldRest >= 0 && fieldRest < count {
                field = components.join(fixed: nil, fixedString: nil, positions: [], rest: fieldRest,
                                        separator: separator)
            } else if fieldPosition >= 0 && fieldPosition < count {
                field = components.string(fieldPosition)
            }
            if field.isEmpty { field = "value" }

            return GraphiteTemplateResult(measurement: measurement, tags: tags, field: field)
        }
    }
}

/// The leading components of a path, as offsets into its bytes.
struct GraphitePathComponents {
    let path: UnsafeRawBufferPointer
    let bounds: UnsafeMutableBufferPointer<Int>
    /// How many components were located (at most the template's `positional`).
    let count: Int

    @inline(__always) func start(_ i: Int) -> Int { bounds[2 * i] }
    @inline(__always) func end(_ i: Int) -> Int { bounds[2 * i + 1] }

    func string(_ i: Int) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: path[start(i)..<end(i)]), as: UTF8.self)
    }

    /// Joins with `separator`: `fixed` (an extra tag value), then the components at
    /// `positions` that the path has, then (if `rest` >= 0 and the path has it) every
    /// component from `rest` to the end. "" when there is nothing to join.
    func join(fixed: [UInt8]?, fixedString: String?, positions: [Int], rest: Int,
              separator: [UInt8]) -> String {
        var pieces = 0
        var length = 0
        if let fixed {
            pieces += 1
            length += fixed.count
        }
        var reached = 0
        for position in positions {
            if position >= count { break }
            reached += 1
            length += end(position) - start(position)
        }
        pieces += reached
        let restStart = rest >= 0 && rest < count ? start(rest) : -1
        if restStart >= 0 {
            pieces += 1
            length += path.count - restStart
            if separator.count != 1 {
                var dots = 0
                for i in restStart..<path.count where path[i] == 0x2E { dots += 1 }
                length += dots * (separator.count - 1)
            }
        }
        if pieces == 0 { return "" }

        // Single pieces that need no joining.
        if pieces == 1 {
            if let fixedString { return fixedString }
            if reached == 1 { return string(positions[0]) }
            if separator == [0x2E] {
                return String(decoding: UnsafeRawBufferPointer(rebasing: path[restStart...]), as: UTF8.self)
            }
        }
        length += (pieces - 1) * separator.count

        return String(unsafeUninitializedCapacity: length) { buffer in
            var out = 0
            var first = true
            func put(_ bytes: UnsafeRawBufferPointer) {
                guard !bytes.isEmpty else { return }
                (UnsafeMutableRawPointer(buffer.baseAddress!) + out)
                    .copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
                out += bytes.count
            }
            func putSeparator() {
                if first { first = false; return }
                separator.withUnsafeBytes { put($0) }
            }
            if let fixed {
                putSeparator()
                fixed.withUnsafeBytes { put($0) }
            }
            for position in positions.prefix(reached) {
                putSeparator()
                put(UnsafeRawBufferPointer(rebasing: path[start(position)..<end(position)]))
            }
            if restStart >= 0 {
                putSeparator()
                if separator == [0x2E] {
                    put(UnsafeRawBufferPointer(rebasing: path[restStart...]))
                } else {
                    for i in restStart..<path.count {
                        let byte = path[i]
                        if byte == 0x2E {
                            separator.withUnsafeBytes { put($0) }
                        } else {
                            buffer[out] = byte
                            out += 1
                        }
                    }
                }
            }
            return out
        }
    }
}
