import EstuaryModel

/// The options of collectd's write_graphite plugin that shape a metric path, with
/// collectd's defaults. Estuary uses them to read paths back into collectd identifiers.
public struct WriteGraphiteOptions: Sendable, Hashable {
    /// Stuck directly before the host, no dot added (`Prefix "collectd."`).
    public var prefix: String = ""
    /// Stuck directly after the host, no dot added (`Postfix ".x"`).
    public var postfix: String = ""
    /// What dots, white space and forbidden characters inside fields became (one byte).
    public var escapeCharacter: UInt8 = UInt8(ascii: "_")
    /// `.` instead of `-` between plugin and plugin instance, type and type instance.
    public var separateInstances = false
    /// `.<ds_name>` appended for every type, not only those with several data sources.
    public var alwaysAppendDS = false
    /// The host's dot-separated labels were reversed (`ReverseHost true`).
    public var reverseHost = false
    /// `plugin == type` segments were shortened (`DropDuplicateFields true`).
    public var dropDuplicateFields = false

    public init(prefix: String = "", postfix: String = "", escapeCharacter: UInt8 = UInt8(ascii: "_"),
                separateInstances: Bool = false, alwaysAppendDS: Bool = false, reverseHost: Bool = false,
                dropDuplicateFields: Bool = false) {
        self.prefix = prefix
        self.postfix = postfix
        self.escapeCharacter = escapeCharacter
        self.separateInstances = separateInstances
        self.alwaysAppendDS = alwaysAppendDS
        self.reverseHost = reverseHost
        self.dropDuplicateFields = dropDuplicateFields
    }
}

/// A collectd identifier read back from a write_graphite path, with the data-source name.
/// Fields are as write_graphite's escaping left them (`relay-client_example_org`).
public struct CollectdPathIdentity: Sendable, Hashable {
    public var host: String
    public var plugin: String
    public var pluginInstance: String
    public var type: String
    public var typeInstance: String
    public var dsName: String
    /// The type is not in types.db (the data-source name then comes from the path, or is `value`).
    public var unknownType: Bool

    public init(host: String, plugin: String, pluginInstance: String = "", type: String, typeInstance: String = "",
                dsName: String, unknownType: Bool = false) {
        self.host = host
        self.plugin = plugin
        self.pluginInstance = pluginInstance
        self.type = type
        self.typeInstance = typeInstance
        self.dsName = dsName
        self.unknownType = unknownType
    }
}

/// Where a name of a path identity is: bytes of the path, or a string (a data-source name
/// taken from types.db, a host whose labels were put back in order).
public enum PathName: Sendable, Hashable {
    case bytes(Range<Int>)
    case text(String)
}

/// A collectd identifier read from a write_graphite path, as ranges of the path's bytes.
public struct CollectdRawPathIdentity: Sendable, Hashable {
    public var host: PathName
    public var plugin: Range<Int>
    public var pluginInstance: Range<Int>
    public var type: Range<Int>
    public var typeInstance: Range<Int>
    public var dsName: PathName
    public var unknownType: Bool
}

/// Looks up a type's data sources in types.db by the type's bytes (the hot path caches it).
public protocol CollectdTypeLookup {
    mutating func dataSources(of type: UnsafeBufferPointer<UInt8>) -> [CollectdDataSource]?
}

/// The plain lookup: a string and a dictionary access per call.
struct UncachedTypeLookup: CollectdTypeLookup {
    let typesDB: TypesDB

    func dataSources(of type: UnsafeBufferPointer<UInt8>) -> [CollectdDataSource]? {
        typesDB[String(decoding: type, as: UTF8.self)]
    }
}

/// Reads collectd write_graphite metric paths back into collectd identifiers:
/// `[prefix]host[postfix].plugin[-instance].type[-instance][.ds]`.
///
/// Plugin and type instances are split from their names at the first dash (or are
/// separate components with `separateInstances`); types.db tells whether the last
/// component is a data-source name and, with `separateInstances`, which component is the
/// type. A path that does not fit (wrong prefix, too few or too many components, a
/// data-source name the type does not have) gives nil, and goes to the templates instead.
public struct WriteGraphitePathMapper: Sendable {
    public let options: WriteGraphiteOptions
    public let typesDB: TypesDB
    private let prefix: [UInt8]
    private let postfix: [UInt8]

    public init(options: WriteGraphiteOptions, typesDB: TypesDB) {
        self.options = options
        self.typesDB = typesDB
        self.prefix = Array(options.prefix.utf8)
        self.postfix = Array(options.postfix.utf8)
    }

    /// Whether `path` starts with the configured prefix (every path does when it is empty).
    public func hasPrefix(_ path: UnsafeRawBufferPointer) -> Bool {
        guard path.count >= prefix.count else { return false }
        for i in 0..<prefix.count where path[i] != prefix[i] { return false }
        return true
    }

    /// The identity a path encodes, or nil when it is not a write_graphite path.
    public func identity(of path: UnsafeRawBufferPointer) -> CollectdPathIdentity? {
        var lookup = UncachedTypeLookup(typesDB: typesDB)
        guard let raw = rawIdentity(of: path, lookup: &lookup) else { return nil }
        func text(_ range: Range<Int>) -> String {
            String(decoding: UnsafeRawBufferPointer(rebasing: path[range]), as: UTF8.self)
        }
        func text(_ name: PathName) -> String {
            switch name {
            case .bytes(let range): return text(range)
            case .text(let string): return string
            }
        }
        return CollectdPathIdentity(host: text(raw.host), plugin: text(raw.plugin), pluginInstance: text(raw.pluginInstance),
                                    type: text(raw.type), typeInstance: text(raw.typeInstance), dsName: text(raw.dsName),
                                    unknownType: raw.unknownType)
    }

    /// The identity a path encodes, as ranges of its bytes; nil when it is not a write_graphite path.
    public func rawIdentity<Lookup: CollectdTypeLookup>(of path: UnsafeRawBufferPointer,
                                                        lookup: inout Lookup) -> CollectdRawPathIdentity? {
        guard hasPrefix(path), let (hostEnd, componentsStart) = hostBounds(path, from: prefix.count),
              hostEnd > prefix.count else { return nil }
        let hostRange = prefix.count..<hostEnd
        let host: PathName
        if options.reverseHost {
            host = .text(reverseLabels(String(decoding: UnsafeRawBufferPointer(rebasing: path[hostRange]), as: UTF8.self)))
        } else {
            host = .bytes(hostRange)
        }
        // Split what follows the host into dot-separated components (at most 5 are meaningful).
        var components = Components()
        var start = componentsStart
        let base = path.baseAddress!
        while true {
            let dot = findDot(base, from: start, to: path.count)
            if start == dot || components.count == 5 { return nil }
            components.append(start..<dot)
            if dot == path.count { break }
            start = dot + 1
        }
        var resolver = Resolver(path: path, options: options, host: host, lookup: lookup)
        defer { lookup = resolver.lookup }
        return options.separateInstances ? resolver.separated(components) : resolver.dashed(components)
    }

    /// Up to five component ranges, without an array.
    struct Components {
        private var ranges: (Range<Int>, Range<Int>, Range<Int>, Range<Int>, Range<Int>) = (0..<0, 0..<0, 0..<0, 0..<0, 0..<0)
        private(set) var count = 0

        mutating func append(_ range: Range<Int>) {
            switch count {
            case 0: ranges.0 = range
            case 1: ranges.1 = range
            case 2: ranges.2 = range
            case 3: ranges.3 = range
            default: ranges.4 = range
            }
            count += 1
        }

        subscript(index: Int) -> Range<Int> {
            switch index {
            case 0: return ranges.0
            case 1: return ranges.1
            case 2: return ranges.2
            case 3: return ranges.3
            default: return ranges.4
            }
        }
    }

    /// The offset of the first `.` at or after `start` (or `end`), eight bytes at a time.
    @inline(__always)
    private func findDot(_ bytes: UnsafeRawPointer, from start: Int, to end: Int) -> Int {
        var i = start
        while i + 8 <= end {
            if hasZeroByte(bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ 0x2E2E_2E2E_2E2E_2E2E) { break }
            i += 8
        }
        while i < end {
            if bytes.load(fromByteOffset: i, as: UInt8.self) == UInt8(ascii: ".") { return i }
            i += 1
        }
        return end
    }

    /// Finds where the host ends (before the postfix) and where the components start.
    private func hostBounds(_ path: UnsafeRawBufferPointer, from start: Int) -> (Int, Int)? {
        let firstDot = findDot(path.baseAddress!, from: start, to: path.count)
        if postfix.isEmpty {
            return firstDot < path.count ? (firstDot, firstDot + 1) : nil
        }
        // The host has no dots (write_graphite escapes them), so the postfix begins no later
        // than the first dot; it must be followed by a dot.
        var candidate = start
        while candidate <= firstDot {
            let after = candidate + postfix.count
            if after < path.count, path[after] == UInt8(ascii: ".") {
                var matches = true
                for j in 0..<postfix.count where path[candidate + j] != postfix[j] {
                    matches = false
                    break
                }
                if matches { return (candidate, after + 1) }
            }
            candidate += 1
        }
        return nil
    }

    private func reverseLabels(_ host: String) -> String {
        let escape = Character(Unicode.Scalar(options.escapeCharacter))
        return host.split(separator: escape, omittingEmptySubsequences: false).reversed().joined(separator: String(escape))
    }

    /// Turns components into an identity, checking types and data-source names.
    struct Resolver<Lookup: CollectdTypeLookup> {
        let path: UnsafeRawBufferPointer
        /// The two options reading components needs (not the whole options value: its
        /// strings would be retained and released for every line).
        let dropDuplicateFields: Bool
        let alwaysAppendDS: Bool
        let host: PathName
        var lookup: Lookup

        init(path: UnsafeRawBufferPointer, options: WriteGraphiteOptions, host: PathName, lookup: Lookup) {
            self.path = path
            dropDuplicateFields = options.dropDuplicateFields
            alwaysAppendDS = options.alwaysAppendDS
            self.host = host
            self.lookup = lookup
        }

        func bytes(_ range: Range<Int>) -> UnsafeBufferPointer<UInt8> {
            UnsafeBufferPointer(start: path.baseAddress!.assumingMemoryBound(to: UInt8.self) + range.lowerBound,
                                count: range.count)
        }

        @inline(__always)
        static func equal(_ name: String, _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
            name.utf8.withContiguousStorageIfAvailable {
                $0.count == bytes.count && (bytes.isEmpty || memoryEqual($0.baseAddress!, bytes.baseAddress!, bytes.count))
            } ?? name.utf8.elementsEqual(bytes)
        }

        /// Splits a component at its first dash: name and instance (empty when there is none).
        func splitAtDash(_ range: Range<Int>) -> (Range<Int>, Range<Int>) {
            var i = range.lowerBound
            while i < range.upperBound && path[i] != UInt8(ascii: "-") { i += 1 }
            if i == range.upperBound { return (range, range.upperBound..<range.upperBound) }
            return (range.lowerBound..<i, (i + 1)..<range.upperBound)
        }

        /// `plugin[-pi].type[-ti][.ds]` (SeparateInstances false).
        mutating func dashed(_ components: Components) -> CollectdRawPathIdentity? {
            guard components.count == 2 || components.count == 3 else { return nil }
            let (plugin, pluginInstance) = splitAtDash(components[0])
            if plugin.isEmpty { return nil }
            let ds: Range<Int>? = components.count == 3 ? components[2] : nil
            let (type, typeInstance) = splitAtDash(components[1])
            let normal = resolve(plugin: plugin, pluginInstance: pluginInstance, type: type, typeInstance: typeInstance, ds: ds)
            if let normal, !normal.unknownType || !dropDuplicateFields { return normal }
            if dropDuplicateFields {
                // DropDuplicateFields shortened a type equal to the plugin: the type segment is
                // the type instance alone (`memory.used`), or, before a data-source name, it was
                // left out (`load.shortterm`). Only readings with a known type are taken.
                let second = components[1]
                let empty = second.upperBound..<second.upperBound
                let candidates: [(typeInstance: Range<Int>, ds: Range<Int>?)] = components.count == 2
                    ? [(empty, second), (second, nil)]
                    : [(second, ds)]
                for candidate in candidates {
                    if let identity = resolve(plugin: plugin, pluginInstance: pluginInstance, type: plugin,
                                              typeInstance: candidate.typeInstance, ds: candidate.ds),
                       !identity.unknownType {
                        return identity
                    }
                }
            }
            return normal
        }

        /// `plugin[.pi].type[.ti][.ds]` (SeparateInstances true): types.db decides which
        /// component is the type; the leftmost consistent reading wins.
        mutating func separated(_ c: Components) -> CollectdRawPathIdentity? {
            // (plugin instance index, type index, type instance index, ds index), nil = absent.
            typealias Reading = (pi: Int?, type: Int, ti: Int?, ds: Int?)
            let readings: [Reading]
            switch c.count {
            case 2: readings = [(nil, 1, nil, nil)]
            case 3: readings = [(nil, 1, nil, 2), (nil, 1, 2, nil), (1, 2, nil, nil)]
            case 4: readings = [(nil, 1, 2, 3), (1, 2, nil, 3), (1, 2, 3, nil)]
            case 5: readings = [(1, 2, 3, 4)]
            default: return nil
            }
            let none = c[0].upperBound..<c[0].upperBound
            for reading in readings {
                guard c.count == 2 || lookup.dataSources(of: bytes(c[reading.type])) != nil else { continue }
                if let identity = resolve(plugin: c[0], pluginInstance: reading.pi.map { c[$0] } ?? none,
                                          type: c[reading.type], typeInstance: reading.ti.map { c[$0] } ?? none,
                                          ds: reading.ds.map { c[$0] }) {
                    return identity
                }
            }
            return nil
        }

        /// Checks the data-source component against types.db and builds the identity.
        mutating func resolve(plugin: Range<Int>, pluginInstance: Range<Int>, type: Range<Int>, typeInstance: Range<Int>,
                              ds: Range<Int>?) -> CollectdRawPathIdentity? {
            if type.isEmpty { return nil }
            guard let sources = lookup.dataSources(of: bytes(type)) else {
                // Unknown type: trust the path's shape.
                if alwaysAppendDS && ds == nil { return nil }
                return CollectdRawPathIdentity(host: host, plugin: plugin, pluginInstance: pluginInstance, type: type,
                                               typeInstance: typeInstance, dsName: ds.map { .bytes($0) } ?? .text("value"),
                                               unknownType: true)
            }
            let appended = sources.count > 1 || alwaysAppendDS
            if let ds {
                let dsBytes = bytes(ds)
                guard appended, sources.contains(where: { Self.equal($0.name, dsBytes) }) else { return nil }
                return CollectdRawPathIdentity(host: host, plugin: plugin, pluginInstance: pluginInstance, type: type,
                                               typeInstance: typeInstance, dsName: .bytes(ds), unknownType: false)
            }
            guard !appended else { return nil }
            return CollectdRawPathIdentity(host: host, plugin: plugin, pluginInstance: pluginInstance, type: type,
                                           typeInstance: typeInstance, dsName: .text(sources[0].name), unknownType: false)
        }
    }

    /// The identity from Graphite 1.1 tags (write_graphite `UseTags true`): tags `host`,
    /// `plugin` and `type` are required; `plugin_instance`, `type_instance` and `ds_name` optional.
    public func identity(fromTags tags: [Tag]) -> CollectdPathIdentity? {
        var host = "", plugin = "", pluginInstance = "", type = "", typeInstance = "", ds: String?
        for tag in tags {
            switch tag.key {
            case "host": host = tag.value
            case "plugin": plugin = tag.value
            case "plugin_instance": pluginInstance = tag.value
            case "type": type = tag.value
            case "type_instance": typeInstance = tag.value
            case "ds_name": ds = tag.value
            default: return nil
            }
        }
        guard !host.isEmpty, !plugin.isEmpty, !type.isEmpty else { return nil }
        if let sources = typesDB[type] {
            if let ds {
                guard sources.contains(where: { $0.name == ds }) else { return nil }
                return CollectdPathIdentity(host: host, plugin: plugin, pluginInstance: pluginInstance, type: type,
                                            typeInstance: typeInstance, dsName: ds)
            }
            guard sources.count == 1 else { return nil }
            return CollectdPathIdentity(host: host, plugin: plugin, pluginInstance: pluginInstance, type: type,
                                        typeInstance: typeInstance, dsName: sources[0].name)
        }
        return CollectdPathIdentity(host: host, plugin: plugin, pluginInstance: pluginInstance, type: type,
                                    typeInstance: typeInstance, dsName: ds ?? "value", unknownType: true)
    }
}
