#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TOMLKit

/// Estuary's configuration: one TOML file with global keys at the top, then
/// `[[inputs.collectd]]`, `[[inputs.graphite]]` and `[[outputs.influxdb]]` tables (see
/// Docs/configuration.md and examples/estuary.toml).
///
/// Loading checks everything before anything starts: unknown keys and tables, types, enum
/// values (an unknown one is an error, never a default), durations, sizes, addresses, ranges,
/// graphite templates, and the rules between keys (sign and encrypt need an AuthFile, v2 needs
/// org, bucket and token, ...). Every mistake is reported, each with its key path and line.
public struct EstuaryConfiguration: Sendable {
    public var global: GlobalConfiguration
    /// `[[inputs.collectd]]`, in file order.
    public var collectdInputs: [CollectdInputConfiguration]
    /// `[[inputs.graphite]]`, in file order.
    public var graphiteInputs: [GraphiteInputConfiguration]
    /// `[[inputs.snmp]]`, in file order.
    public var snmpInputs: [SNMPInputConfiguration]
    /// `[[outputs.influxdb]]`, in file order.
    public var influxDBOutputs: [InfluxDBOutputSettings]

    public init(global: GlobalConfiguration = GlobalConfiguration(), collectdInputs: [CollectdInputConfiguration] = [],
                graphiteInputs: [GraphiteInputConfiguration] = [], snmpInputs: [SNMPInputConfiguration] = [],
                influxDBOutputs: [InfluxDBOutputSettings] = []) {
        self.global = global
        self.collectdInputs = collectdInputs
        self.graphiteInputs = graphiteInputs
        self.snmpInputs = snmpInputs
        self.influxDBOutputs = influxDBOutputs
    }

    /// Reads and checks the file at `path`; errors name the file as `path`.
    /// - Throws: every mistake found, or that the file cannot be read.
    public static func load(path: String) throws(ConfigurationErrors) -> EstuaryConfiguration {
        let text: String
        do {
            text = try readTextFile(path)
        } catch {
            throw ConfigurationErrors(errors: [ConfigurationError(file: path, keyPath: "", message: error.description)])
        }
        return try parse(text, file: path)
    }

    /// Parses and checks a configuration's text; `file` names it in errors.
    /// - Throws: every mistake found.
    public static func parse(_ text: String, file: String = "estuary.toml") throws(ConfigurationErrors) -> EstuaryConfiguration {
        if let nul = text.utf8.firstIndex(of: 0) {
            let line = text.utf8[..<nul].count(where: { $0 == UInt8(ascii: "\n") }) + 1
            throw ConfigurationErrors(errors: [ConfigurationError(file: file, line: line, keyPath: "",
                                                                  message: "the file contains a NUL byte; it is not a text file")])
        }
        if let bad = SourceLineIndex.firstParserTrap(text) {
            // TOMLKit would abort on this. A header starts a statement, so the text before its
            // line can be parsed alone, and an earlier mistake found there comes first (inside
            // a value, the cut would make a mistake of its own: report the trap).
            if bad.isHeader {
                let prefix = String(decoding: text.utf8.prefix(bad.lineStart), as: UTF8.self)
                _ = try parseTOML(prefix, file: file)
            }
            throw ConfigurationErrors(errors: [ConfigurationError(file: file, line: bad.line, column: bad.column, keyPath: "",
                                                                  message: "syntax error: \(bad.message)")])
        }
        let root = try parseTOML(text, file: file)
        let diagnostics = Diagnostics(file: file, lineIndex: SourceLineIndex(text))
        let configuration = read(root, diagnostics: diagnostics)
        guard diagnostics.errors.isEmpty else { throw ConfigurationErrors(errors: diagnostics.sortedErrors) }
        return configuration
    }

    /// TOMLKit's parse, its error turned into ours (line and column).
    static func parseTOML(_ text: String, file: String) throws(ConfigurationErrors) -> TOMLTable {
        let root: TOMLTable
        do {
            root = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigurationErrors(errors: [ConfigurationError(file: file, line: error.source.begin.line,
                                                                  column: error.source.begin.column, keyPath: "",
                                                                  message: "syntax error: \(error.description)")])
        } catch {
            throw ConfigurationErrors(errors: [ConfigurationError(file: file, keyPath: "", message: "syntax error: \(error)")])
        }
        return root
    }

    /// The keys allowed before the first table.
    static let globalKeys = ["data_dir", "hostname", "log_level", "metrics_interval", "shutdown_timeout",
                             "batch_lines", "batch_interval", "health_listen"]

    static func read(_ root: TOMLTable, diagnostics: Diagnostics) -> EstuaryConfiguration {
        var configuration = EstuaryConfiguration()
        let reader = TableReader(table: root, path: "", diagnostics: diagnostics)
        reader.unknownKeyHint = { key in
            ["global", "agent", "estuary"].contains(key.lowercased())
                ? "global keys go at the top of the file, before the first table, without a [\(key)] header" : nil
        }
        configuration.global = readGlobal(reader)

        var inputTables = 0
        if let inputs = pluginTables(reader, section: "inputs") {
            let collectd = arrayOfTables(inputs, key: "collectd")
            let graphite = arrayOfTables(inputs, key: "graphite")
            let snmp = arrayOfTables(inputs, key: "snmp")
            // A plugin written the wrong way is an error of its own, not "no input".
            inputTables = (collectd?.count ?? 1) + (graphite?.count ?? 1) + (snmp?.count ?? 1)
            inputs.unknownKeyHint = { "unknown input plugin '\($0)' (supported inputs: collectd, graphite, snmp)" }
            inputs.finish()
            for (index, table) in (collectd ?? []).enumerated() {
                let plugin = pluginReader(table, diagnostics: diagnostics)
                if let input = CollectdInputConfiguration(reading: plugin, defaultName: defaultName("collectd", index)) {
                    configuration.collectdInputs.append(input)
                }
            }
            for (index, table) in (graphite ?? []).enumerated() {
                let plugin = pluginReader(table, diagnostics: diagnostics)
                if let input = GraphiteInputConfiguration(reading: plugin, defaultName: defaultName("graphite", index)) {
                    configuration.graphiteInputs.append(input)
                }
            }
            for (index, table) in (snmp ?? []).enumerated() {
                let plugin = pluginReader(table, diagnostics: diagnostics)
                if let input = SNMPInputConfiguration(reading: plugin, defaultName: defaultName("snmp", index)) {
                    configuration.snmpInputs.append(input)
                }
            }
        } else if reader.contains("inputs") {
            inputTables = 1  // not a table: reported already
        }
        var outputTables = 0
        if let outputs = pluginTables(reader, section: "outputs") {
            let influxDB = arrayOfTables(outputs, key: "influxdb")
            outputs.unknownKeyHint = { "unknown output plugin '\($0)' (supported outputs: influxdb)" }
            outputs.finish()
            outputTables = influxDB?.count ?? 1
            for (index, table) in (influxDB ?? []).enumerated() {
                let plugin = pluginReader(table, diagnostics: diagnostics)
                if let output = InfluxDBOutputSettings(reading: plugin, defaultName: defaultName("influxdb", index)) {
                    configuration.influxDBOutputs.append(output)
                }
            }
        } else if reader.contains("outputs") {
            outputTables = 1  // not a table: reported already
        }
        reader.finish()

        if inputTables == 0 {
            diagnostics.error("inputs", "no input configured; add at least one [[inputs.collectd]], [[inputs.graphite]] or [[inputs.snmp]]")
        }
        if outputTables == 0 {
            diagnostics.error("outputs", "no output configured; add at least one [[outputs.influxdb]]")
        }
        checkUniqueNames(configuration, diagnostics: diagnostics)
        checkListenConflicts(configuration, diagnostics: diagnostics)
        return configuration
    }

    static func readGlobal(_ reader: TableReader) -> GlobalConfiguration {
        var global = GlobalConfiguration()
        global.dataDirectory = reader.nonEmptyString("data_dir") ?? global.dataDirectory
        global.hostname = reader.nonEmptyString("hostname") ?? global.hostname
        global.logLevel = reader.choice("log_level", default: global.logLevel)
        global.metricsInterval = reader.duration("metrics_interval", default: global.metricsInterval, range: 1...86400)
        global.shutdownTimeout = reader.duration("shutdown_timeout", default: global.shutdownTimeout, range: 0.1...3600)
        global.batchLines = reader.int("batch_lines", default: global.batchLines, range: 1...1_000_000)
        global.batchInterval = reader.duration("batch_interval", default: global.batchInterval, range: 0.001...60)
        global.healthListen = reader.address("health_listen")
        return global
    }

    /// `inputs` or `outputs`: a table of plugin names.
    static func pluginTables(_ reader: TableReader, section: String) -> TableReader? {
        guard let value = reader.value(section) else { return nil }
        guard let table = value.table else {
            let example = section == "inputs" ? "[[inputs.collectd]]" : "[[outputs.influxdb]]"
            reader.error(section, "expected tables of plugins such as \(example), got \(describe(value))")
            return nil
        }
        return TableReader(table: table, path: section, diagnostics: reader.diagnostics)
    }

    /// The tables of `[[section.key]]`, with their key paths; nil (and an error, `message` or
    /// one about plugins) if `key` is not an array of tables, or an empty one unless `allowEmpty`.
    static func arrayOfTables(_ reader: TableReader, key: String, message: String? = nil,
                              allowEmpty: Bool = false) -> [(table: TOMLTable, path: String)]? {
        guard let value = reader.value(key) else { return [] }
        let path = reader.keyPath(key)
        guard let array = value.array, allowEmpty || array.count > 0,
              (0..<array.count).allSatisfy({ array[$0].type == .table }) else {
            reader.error(key, message ?? "write each \(key) plugin as a [[\(path)]] table (double brackets)")
            return nil
        }
        return (0..<array.count).map { (array[$0].table!, "\(path)[\($0)]") }
    }

    static func pluginReader(_ element: (table: TOMLTable, path: String), diagnostics: Diagnostics) -> TableReader {
        let reader = TableReader(table: element.table, path: element.path, diagnostics: diagnostics)
        reader.unknownKeyHint = { key in
            globalKeys.contains(key)
                ? "\(key) is a global key: move it to the top of the file, before the first table" : nil
        }
        return reader
    }

    /// "collectd" for the first table of a plugin, then "collectd-2", "collectd-3", ...
    static func defaultName(_ plugin: String, _ index: Int) -> String {
        index == 0 ? plugin : "\(plugin)-\(index + 1)"
    }

    static func checkUniqueNames(_ configuration: EstuaryConfiguration, diagnostics: Diagnostics) {
        let inputs = configuration.collectdInputs.enumerated().map { ($0.element.name, "inputs.collectd[\($0.offset)]") }
            + configuration.graphiteInputs.enumerated().map { ($0.element.name, "inputs.graphite[\($0.offset)]") }
            + configuration.snmpInputs.enumerated().map { ($0.element.name, "inputs.snmp[\($0.offset)]") }
        let outputs = configuration.influxDBOutputs.enumerated().map { ($0.element.name, "outputs.influxdb[\($0.offset)]") }
        for (kind, named) in [("inputs", inputs), ("outputs", outputs)] {
            var seen: [String: String] = [:]
            for (name, path) in named {
                if let first = seen[name] {
                    diagnostics.error(path + ".name", "the name '\(name)' is already used by \(first); names must be "
                                      + "unique among \(kind) (set name to tell them apart)")
                } else {
                    seen[name] = path
                }
            }
        }
    }

    static func checkListenConflicts(_ configuration: EstuaryConfiguration, diagnostics: Diagnostics) {
        var bindings: [(proto: String, address: ListenAddress, keyPath: String)] = []
        if let health = configuration.global.healthListen { bindings.append(("tcp", health, "health_listen")) }
        for (index, input) in configuration.collectdInputs.enumerated() {
            bindings.append(("udp", input.listen, "inputs.collectd[\(index)].listen"))
        }
        for (index, input) in configuration.graphiteInputs.enumerated() {
            if let tcp = input.listenTCP { bindings.append(("tcp", tcp, "inputs.graphite[\(index)].listen_tcp")) }
            if let udp = input.listenUDP { bindings.append(("udp", udp, "inputs.graphite[\(index)].listen_udp")) }
        }
        for (position, binding) in bindings.enumerated() {
            if let other = bindings[..<position].first(where: { $0.proto == binding.proto && overlaps($0.address, binding.address) }) {
                diagnostics.error(binding.keyPath, "\(binding.address) (\(binding.proto.uppercased())) is already used by "
                                  + "\(other.keyPath) (\(other.address))")
            }
        }
    }

    /// Whether two addresses would fight over the same port: same port, and the same host or a
    /// wildcard covering the other (`::` covers IPv4 too, `0.0.0.0` only IPv4).
    static func overlaps(_ a: ListenAddress, _ b: ListenAddress) -> Bool {
        guard a.port == b.port else { return false }
        if a.host == b.host || a.host == "::" || b.host == "::" { return true }
        if a.host == "0.0.0.0" { return !b.host.contains(":") }
        if b.host == "0.0.0.0" { return !a.host.contains(":") }
        return false
    }
}

/// The file's bytes as UTF-8 text, or what went wrong (with the system's reason).
func readTextFile(_ path: String) throws(ConfigurationValueError) -> String {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw ConfigurationValueError("cannot be read: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count < 0 {
            if errno == EINTR { continue }
            throw ConfigurationValueError("cannot be read: \(String(cString: strerror(errno)))")
        }
        if count == 0 { break }
        bytes.append(contentsOf: chunk[..<count])
        if bytes.count > 16 << 20 { throw ConfigurationValueError("is larger than 16 MiB; not a configuration file") }
    }
    guard let text = String(validating: bytes, as: UTF8.self) else {
        throw ConfigurationValueError("is not UTF-8 text")
    }
    return text
}
