import EstuaryIO
import EstuaryWire

/// One `[[inputs.graphite]]`: graphite plaintext over TCP, UDP or both.
public struct GraphiteInputConfiguration: Sendable, Equatable {
    /// `name`: this input in logs and self-metrics; unique among inputs.
    public var name: String
    /// `listen_tcp`; at least one of `listenTCP` and `listenUDP` is set.
    public var listenTCP: ListenAddress?
    /// `listen_udp`.
    public var listenUDP: ListenAddress?
    /// `collectd_paths`: read collectd write_graphite paths back into collectd series.
    public var collectdPaths: Bool
    /// `prefix`, `postfix`, `escape_character`, `separate_instances`, `always_append_ds`,
    /// `reverse_host`, `drop_duplicate_fields`: the senders' write_graphite options.
    public var writeGraphite: WriteGraphiteOptions
    /// `schema`: the schema collectd paths map to.
    public var schema: CollectdSchema
    /// `types_db`: types.db files for collectd paths.
    public var typesDB: [String]
    /// `templates`, as written (compiled in `templateSet`).
    public private(set) var templates: [String]
    /// `separator` (compiled in `templateSet`).
    public private(set) var separator: String
    /// `templates` and `separator`, checked and compiled.
    public private(set) var templateSet: GraphiteTemplateSet
    /// `max_line_length`, bytes: longer lines are rejected and counted.
    public var maxLineLength: Int
    /// `max_connections`: TCP connections open at once; further ones are closed at once and counted.
    public var maxConnections: Int
    /// `idle_timeout`, seconds: a TCP connection quiet this long is closed; 0 never closes it.
    public var idleTimeout: Double
    /// `read_buffer`, bytes: the UDP socket's receive buffer (SO_RCVBUF).
    public var readBuffer: Int
    /// `read_timeout`, seconds: a TCP line must arrive whole within this long of its first
    /// byte, or the connection is closed and the unfinished line dropped; 0 never.
    public var readTimeout: Double
    /// `allow`: the networks that may connect or send (TCP and UDP); the others are refused
    /// and counted before a byte is decoded. Default: everyone.
    public var allow: AllowList

    public static let maxLineLengthRange = 256...(1 << 20)
    public static let maxConnectionsRange = 1...65536
    public static let idleTimeoutRange = 0.0...86400.0
    public static let readTimeoutRange = 0.0...3600.0
    public static let readBufferRange = CollectdInputConfiguration.readBufferRange

    /// - Throws: the first bad template, as `GraphiteTemplateSet` finds it.
    public init(name: String = "graphite", listenTCP: ListenAddress? = nil, listenUDP: ListenAddress? = nil,
                collectdPaths: Bool = true, writeGraphite: WriteGraphiteOptions = WriteGraphiteOptions(),
                schema: CollectdSchema = .split, typesDB: [String] = CollectdInputConfiguration.defaultTypesDB,
                templates: [String] = [], separator: String = ".", maxLineLength: Int = 16384,
                maxConnections: Int = 1024, idleTimeout: Double = 300, readBuffer: Int = 8 << 20,
                readTimeout: Double = 30, allow: AllowList = .everyone)
        throws(GraphiteTemplateError) {
        self.name = name
        self.listenTCP = listenTCP
        self.listenUDP = listenUDP
        self.collectdPaths = collectdPaths
        self.writeGraphite = writeGraphite
        self.schema = schema
        self.typesDB = typesDB
        self.templates = templates
        self.separator = separator
        self.templateSet = try GraphiteTemplateSet(templates, separator: separator)
        self.maxLineLength = maxLineLength
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
        self.readBuffer = readBuffer
        self.readTimeout = readTimeout
        self.allow = allow
    }

    /// Replaces the templates and the separator, checking and compiling them.
    public mutating func setTemplates(_ templates: [String], separator: String) throws(GraphiteTemplateError) {
        templateSet = try GraphiteTemplateSet(templates, separator: separator)
        self.templates = templates
        self.separator = separator
    }

    /// Equal when every setting is equal (the compiled set follows from templates and separator).
    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.name == rhs.name && lhs.listenTCP == rhs.listenTCP && lhs.listenUDP == rhs.listenUDP
            && lhs.collectdPaths == rhs.collectdPaths && lhs.writeGraphite == rhs.writeGraphite
            && lhs.schema == rhs.schema && lhs.typesDB == rhs.typesDB && lhs.templates == rhs.templates
            && lhs.separator == rhs.separator && lhs.maxLineLength == rhs.maxLineLength
            && lhs.maxConnections == rhs.maxConnections && lhs.idleTimeout == rhs.idleTimeout
            && lhs.readBuffer == rhs.readBuffer && lhs.readTimeout == rhs.readTimeout && lhs.allow == rhs.allow
    }
}

extension GraphiteInputConfiguration {
    init?(reading reader: TableReader, defaultName: String) {
        // An empty template list cannot fail.
        var input = try! GraphiteInputConfiguration()
        input.name = readName(reader, default: defaultName)
        input.listenTCP = reader.address("listen_tcp")
        input.listenUDP = reader.address("listen_udp")
        if !reader.contains("listen_tcp") && !reader.contains("listen_udp") {
            reader.error("listen_tcp", "the input listens nowhere: set listen_tcp, listen_udp or both "
                         + "(for example listen_tcp = \"127.0.0.1:2003\")")
        }
        input.collectdPaths = reader.bool("collectd_paths", default: input.collectdPaths)

        var options = input.writeGraphite
        options.prefix = reader.string("prefix", default: options.prefix)
        options.postfix = reader.string("postfix", default: options.postfix)
        if let escape = reader.string("escape_character") {
            if escape == "." {
                reader.error("escape_character", "cannot be '.', the separator of path components")
            } else if escape.utf8.count == 1, let byte = escape.utf8.first, byte > 0x20, byte < 0x7F {
                options.escapeCharacter = byte
            } else {
                reader.error("escape_character", "must be exactly one printable ASCII character, got '\(escape)'")
            }
        }
        options.separateInstances = reader.bool("separate_instances", default: options.separateInstances)
        options.alwaysAppendDS = reader.bool("always_append_ds", default: options.alwaysAppendDS)
        options.reverseHost = reader.bool("reverse_host", default: options.reverseHost)
        options.dropDuplicateFields = reader.bool("drop_duplicate_fields", default: options.dropDuplicateFields)
        input.writeGraphite = options
        input.schema = reader.choice("schema", default: input.schema)
        input.typesDB = reader.stringArray("types_db") ?? input.typesDB

        let templates = reader.stringArray("templates", allowEmptyStrings: true) ?? []
        var separator = reader.string("separator", default: input.separator)
        if separator.isEmpty {
            reader.error("separator", "must not be empty (InfluxDB's default is \".\")")
            separator = "."
        }
        let templatesValid = Self.checkTemplates(templates, separator: separator, reader: reader)
        if templatesValid {
            try? input.setTemplates(templates, separator: separator)
        }

        input.maxLineLength = reader.size("max_line_length", default: input.maxLineLength, range: Self.maxLineLengthRange)
        input.maxConnections = reader.int("max_connections", default: input.maxConnections, range: Self.maxConnectionsRange)
        input.idleTimeout = reader.duration("idle_timeout", default: input.idleTimeout, range: Self.idleTimeoutRange)
        input.readBuffer = reader.size("read_buffer", default: input.readBuffer, range: Self.readBufferRange)
        input.readTimeout = reader.duration("read_timeout", default: input.readTimeout, range: Self.readTimeoutRange)
        input.allow = reader.allowList("allow")
        reader.finish()
        guard templatesValid else { return nil }
        self = input
    }

    /// Checks every template on its own first, so that each bad one is reported (at its own
    /// line), then the whole list (filters used twice).
    static func checkTemplates(_ templates: [String], separator: String, reader: TableReader) -> Bool {
        var valid = true
        for (index, template) in templates.enumerated() {
            do {
                _ = try GraphiteTemplateSet([template], separator: separator)
            } catch {
                valid = false
                reader.error("templates[\(index)]", templateMessage(error, index: 0))
            }
        }
        guard valid else { return false }
        do {
            _ = try GraphiteTemplateSet(templates, separator: separator)
        } catch {
            reader.error("templates[\(error.index)]", templateMessage(error, index: error.index))
            return false
        }
        return true
    }

    /// The error's description without its "graphite templates[i] " lead: the key path says that.
    static func templateMessage(_ error: GraphiteTemplateError, index: Int) -> String {
        let description = error.description
        let lead = "graphite templates[\(index)] "
        return description.hasPrefix(lead) ? String(description.dropFirst(lead.count)) : description
    }
}
