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
        guard hasPrefix(path) else { return nil }
        let rest = UnsafeRawBufferPointer(rebasing: path[prefix.count...])
        guard let (hostEnd, componentsStart) = hostBounds(rest), hostEnd > 0 else { return nil }
        var host = String(decoding: UnsafeRawBufferPointer(rebasing: rest[..<hostEnd]), as: UTF8.self)
        if options.reverseHost { host = reverseLabels(host) }

        // Split what follows the host into dot-separated components (at most 5 are meaningful).
        var components: [Range<Int>] = []
        var start = componentsStart
        var i = componentsStart
        while i <= rest.count {
            if i == rest.count || rest[i] == UInt8(ascii: ".") {
                components.append(start..<i)
                if components.count > 5 { return nil }
                start = i + 1
            }
            i += 1
        }
        func text(_ range: Range<Int>) -> String {
            String(decoding: UnsafeRawBufferPointer(rebasing: rest[range]), as: UTF8.self)
        }
        for range in components where range.isEmpty { return nil }

        if options.separateInstances {
            return separated(components.map(text), host: host)
        }
        return dashed(components, host: host, text: text)
    }

    /// Finds where the host ends (before the postfix) and where the components start.
    private func hostBounds(_ rest: UnsafeRawBufferPointer) -> (Int, Int)? {
        var firstDot = 0
        while firstDot < rest.count && rest[firstDot] != UInt8(ascii: ".") { firstDot += 1 }
        if postfix.isEmpty {
            return firstDot < rest.count ? (firstDot, firstDot + 1) : nil
        }
        // The host has no dots (write_graphite escapes them), so the postfix begins no later
        // than the first dot; it must be followed by a dot.
        var candidate = 0
        while candidate <= firstDot {
            let after = candidate + postfix.count
            if after < rest.count, rest[after] == UInt8(ascii: ".") {
                var matches = true
                for j in 0..<postfix.count where rest[candidate + j] != postfix[j] {
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

    /// `plugin[-pi].type[-ti][.ds]` (SeparateInstances false).
    private func dashed(_ components: [Range<Int>], host: String, text: (Range<Int>) -> String) -> CollectdPathIdentity? {
        guard components.count == 2 || components.count == 3 else { return nil }
        let (plugin, pluginInstance) = splitAtDash(text(components[0]))
        if plugin.isEmpty { return nil }
        let dsComponent = components.count == 3 ? text(components[2]) : nil
        let (type, typeInstance) = splitAtDash(text(components[1]))
        let normal = resolve(host: host, plugin: plugin, pluginInstance: pluginInstance, type: type,
                             typeInstance: typeInstance, ds: dsComponent)
        if let normal, !normal.unknownType || !options.dropDuplicateFields { return normal }
        if options.dropDuplicateFields {
            // DropDuplicateFields shortened a type equal to the plugin: the type segment is
            // the type instance alone (`memory.used`), or, before a data-source name, it was
            // left out (`load.shortterm`). Only readings with a known type are taken.
            let candidates: [(typeInstance: String, ds: String?)] = components.count == 2
                ? [("", text(components[1])), (text(components[1]), nil)]
                : [(text(components[1]), dsComponent)]
            for candidate in candidates {
                if let identity = resolve(host: host, plugin: plugin, pluginInstance: pluginInstance, type: plugin,
                                          typeInstance: candidate.typeInstance, ds: candidate.ds),
                   !identity.unknownType {
                    return identity
                }
            }
        }
        return normal
    }

    /// `plugin[.pi].type[.ti][.ds]` (SeparateInstances true): types.db decides which component
    /// is the type; the leftmost consistent reading wins.
    private func separated(_ c: [String], host: String) -> CollectdPathIdentity? {
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
        for reading in readings {
            guard typesDB[c[reading.type]] != nil || c.count == 2 else { continue }
            if let identity = resolve(host: host, plugin: c[0], pluginInstance: reading.pi.map { c[$0] } ?? "",
                                      type: c[reading.type], typeInstance: reading.ti.map { c[$0] } ?? "",
                                      ds: reading.ds.map { c[$0] }) {
                return identity
            }
        }
        return nil
    }

    /// Checks the data-source component against types.db and builds the identity.
    private func resolve(host: String, plugin: String, pluginInstance: String, type: String, typeInstance: String,
                         ds: String?) -> CollectdPathIdentity? {
        if type.isEmpty { return nil }
        guard let sources = typesDB[type] else {
            // Unknown type: trust the path's shape.
            if options.alwaysAppendDS && ds == nil { return nil }
            return CollectdPathIdentity(host: host, plugin: plugin, pluginInstance: pluginInstance, type: type,
                                        typeInstance: typeInstance, dsName: ds ?? "value", unknownType: true)
        }
        let appended = sources.count > 1 || options.alwaysAppendDS
        if let ds {
            guard appended, sources.contains(where: { $0.name == ds }) else { return nil }
            return CollectdPathIdentity(host: host, plugin: plugin, pluginInstance: pluginInstance, type: type,
                                        typeInstance: typeInstance, dsName: ds)
        }
        guard !appended else { return nil }
        return CollectdPathIdentity(host: host, plugin: plugin, pluginInstance: pluginInstance, type: type,
                                    typeInstance: typeInstance, dsName: sources[0].name)
    }

    private func splitAtDash(_ component: String) -> (String, String) {
        guard let dash = component.utf8.firstIndex(of: UInt8(ascii: "-")) else { return (component, "") }
        return (String(component[..<dash]), String(component[component.utf8.index(after: dash)...]))
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
