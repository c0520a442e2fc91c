import EstuaryConfig
import EstuaryIO
import EstuaryWire
import Foundation
import Testing

/// The repository's root, found from this file.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// The keys each section accepts: the contract of Docs/configuration.md and examples/estuary.toml.
let contractKeys: [String: [String]] = [
    "": ["data_dir", "hostname", "log_level", "metrics_interval", "shutdown_timeout", "batch_lines", "batch_interval",
         "health_listen"],
    "inputs.collectd": ["name", "listen", "types_db", "security_level", "auth_file", "schema", "store_rates",
                        "read_buffer", "readers", "max_datagram", "allow"],
    "inputs.graphite": ["name", "listen_tcp", "listen_udp", "collectd_paths", "prefix", "postfix", "escape_character",
                        "separate_instances", "always_append_ds", "reverse_host", "drop_duplicate_fields", "templates",
                        "separator", "schema", "types_db", "max_line_length", "max_connections", "idle_timeout",
                        "read_buffer", "read_timeout", "allow"],
    "inputs.snmp": ["name", "targets", "targets_file", "version", "community", "username", "security_level", "auth_protocol",
                    "auth_password", "priv_protocol", "priv_password", "context_name", "interval", "timeout", "retries",
                    "max_repetitions", "schema", "rates", "index_refresh", "window", "credentials", "table", "scalar"],
    "outputs.influxdb": ["name", "url", "api", "database", "retention_policy", "username", "password", "org", "bucket",
                         "token", "gzip", "batch_size", "flush_interval", "batch_bytes", "timeout", "retry_initial",
                         "retry_max", "queue_size", "create_database", "insecure_skip_verify", "spool", "spool_size",
                         "spool_max_age", "spool_fsync", "spool_fsync_interval", "spool_segment_size", "spool_memory"],
]

@Suite("the sample configuration")
struct SampleConfigurationTests {
    @Test("the text in the binary is examples/estuary.toml, byte for byte")
    func sampleMatchesExampleFile() throws {
        let file = try Data(contentsOf: repositoryRoot.appendingPathComponent("examples/estuary.toml"))
        #expect(Array(file) == Array(EstuaryConfiguration.sample.utf8),
                "run scripts/generate-sample-config.sh after editing examples/estuary.toml")
    }

    @Test("the sample parses to the documented defaults")
    func sampleParsesToDefaults() throws {
        let configuration = try EstuaryConfiguration.parse(EstuaryConfiguration.sample)
        #expect(configuration.global == GlobalConfiguration(
            dataDirectory: "./data", hostname: GlobalConfiguration.machineHostname(), logLevel: .info, metricsInterval: 10,
            shutdownTimeout: 10, batchLines: 1000, batchInterval: 0.2, healthListen: ListenAddress(host: "127.0.0.1", port: 8125)))

        #expect(configuration.collectdInputs == [CollectdInputConfiguration(
            name: "collectd", listen: ListenAddress(host: "127.0.0.1", port: 25826),
            typesDB: ["/usr/share/collectd/types.db"], securityLevel: .none, authFile: nil, schema: .split,
            storeRates: false, readBuffer: 8 * 1024 * 1024, readers: 1, maxDatagram: 65535)])

        #expect(configuration.graphiteInputs.count == 1)
        let graphite = try #require(configuration.graphiteInputs.first)
        #expect(graphite.name == "graphite")
        #expect(graphite.listenTCP == ListenAddress(host: "127.0.0.1", port: 2003))
        #expect(graphite.listenUDP == ListenAddress(host: "127.0.0.1", port: 2003))
        #expect(graphite.collectdPaths)
        #expect(graphite.writeGraphite == WriteGraphiteOptions(prefix: "", postfix: "", escapeCharacter: UInt8(ascii: "_"),
                                                               separateInstances: false, alwaysAppendDS: false,
                                                               reverseHost: false, dropDuplicateFields: false))
        #expect(graphite.templates.isEmpty)
        #expect(graphite.separator == ".")
        #expect(graphite.schema == .split)
        #expect(graphite.typesDB == ["/usr/share/collectd/types.db"])
        #expect(graphite.maxLineLength == 16384)
        #expect(graphite.maxConnections == 1024)
        #expect(graphite.idleTimeout == 300)
        #expect(graphite.readBuffer == 8 * 1024 * 1024)
        #expect(graphite.readTimeout == 30)
        #expect(graphite.allow == .everyone)
        #expect(graphite.templateSet.apply("a.b.c").measurement == "a.b.c")

        #expect(configuration.influxDBOutputs == [InfluxDBOutputSettings(
            name: "influxdb", url: "http://127.0.0.1:8086", api: .v1, database: "collectd", retentionPolicy: nil,
            username: nil, password: nil, org: nil, bucket: nil, token: nil, gzip: true, batchSize: 5000,
            batchBytes: 4 * 1024 * 1024, flushInterval: 1, timeout: 10, retryInitial: 0.5, retryMax: 60,
            queueSize: 256 * 1024 * 1024, createDatabase: true, insecureSkipVerify: false, spool: true,
            spoolSize: 1 << 30, spoolMaxAge: 72 * 3600, spoolFsync: .interval, spoolFsyncInterval: 1,
            spoolSegmentSize: 16 << 20, spoolMemory: 16 << 20)])
    }

    @Test("a minimal file gets the same defaults as the sample, except data_dir")
    func minimalFileDefaults() throws {
        let configuration = try EstuaryConfiguration.parse("""
            [[inputs.collectd]]
            listen = "127.0.0.1:25826"
            [[outputs.influxdb]]
            """)
        #expect(configuration.global == GlobalConfiguration())
        #expect(configuration.global.dataDirectory == "/var/lib/estuary")
        #expect(configuration.influxDBOutputs == [InfluxDBOutputSettings()])
        #expect(configuration.collectdInputs == [CollectdInputConfiguration(listen: ListenAddress(host: "127.0.0.1",
                                                                                                   port: 25826))])
    }

    @Test("every key of every section is in the sample, in its section", arguments: contractKeys.keys.sorted())
    func everyKeyInSample(section: String) {
        let sections = sampleSections()
        let lines = (sections[section] ?? "").split(separator: "\n").map { line in
            let trimmed = line.drop(while: { $0 == " " })
            return trimmed.hasPrefix("# ") ? trimmed.dropFirst(2) : trimmed
        }
        for key in contractKeys[section]! {
            // Sub-tables appear as their headers ([inputs.snmp.credentials.NAME], [[inputs.snmp.table]]).
            let header = lines.contains { $0.hasPrefix("[\(section).\(key).") || $0.hasPrefix("[[\(section).\(key)]]") }
            #expect(lines.contains { $0.hasPrefix("\(key) = ") } || header,
                    "\(key) is missing from the [\(section)] part of examples/estuary.toml")
        }
    }

    @Test("the parser accepts exactly the contract's keys", arguments: contractKeys.keys.sorted())
    func acceptedKeysAreTheContract(section: String) throws {
        // An unknown key far from every known one is reported with the list of accepted keys.
        let minimal = """
            [[inputs.collectd]]
            listen = "127.0.0.1:25826"
            [[inputs.graphite]]
            listen_tcp = "127.0.0.1:2003"
            [[inputs.snmp]]
            targets = ["127.0.0.1"]
            [[outputs.influxdb]]

            """
        let text = section.isEmpty
            ? "qqqqqqqqqqqqqq = 1\n" + minimal
            : minimal.replacingOccurrences(of: "[[\(section)]]\n", with: "[[\(section)]]\nqqqqqqqqqqqqqq = 1\n")
        let errors = parseErrors(text)
        try #require(errors.count == 1, "\(errors)")
        let message = errors[0].message
        let list = try #require(message.range(of: "(accepted keys: ")).upperBound
        var accepted = Set(message[list...].dropLast().components(separatedBy: ", "))
        if section.isEmpty { accepted.subtract(["inputs", "outputs"]) }
        #expect(accepted == Set(contractKeys[section]!))
    }

    /// The sample's text cut at each plugin's table header, keyed by table path ("" for the
    /// top). A plugin shown commented out (`# [[inputs.snmp]]`) is a section too; its
    /// sub-tables stay in it.
    func sampleSections() -> [String: String] {
        var sections: [String: String] = [:]
        var current = ""
        for line in EstuaryConfiguration.sample.split(separator: "\n", omittingEmptySubsequences: false) {
            let header = line.hasPrefix("# [[") ? line.dropFirst(2) : line[...]
            if header.hasPrefix("[["), header.filter({ $0 == "." }).count == 1 {
                current = String(header.dropFirst(2).prefix(while: { $0 != "]" }))
                continue
            }
            sections[current, default: ""] += line + "\n"
        }
        return sections
    }
}

/// The errors `text` gives (none if it parses).
func parseErrors(_ text: String, file: String = "estuary.toml") -> [ConfigurationError] {
    do {
        _ = try EstuaryConfiguration.parse(text, file: file)
        return []
    } catch {
        return error.errors
    }
}

@Suite("Docs/configuration.md")
struct ConfigurationDocumentTests {
    let document: String

    init() throws {
        document = try String(contentsOf: repositoryRoot.appendingPathComponent("Docs/configuration.md"), encoding: .utf8)
    }

    /// The text under each `## ` heading, keyed by the heading ("Global keys", "`[[inputs.collectd]]`", ...).
    var sections: [String: String] {
        var sections: [String: String] = [:]
        var current = ""
        for line in document.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("## ") {
                current = String(line.dropFirst(3))
            } else {
                sections[current, default: ""] += line + "\n"
            }
        }
        return sections
    }

    @Test("every section's table lists exactly the contract's keys", arguments: contractKeys.keys.sorted())
    func keyTables(section: String) throws {
        let heading = section.isEmpty ? "Global keys" : "`[[\(section)]]`"
        let text = try #require(sections[heading], "no section \(heading)")
        let keys = text.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("| `") else { return nil }
            return String(line.dropFirst(3).prefix(while: { $0 != "`" }))
        }
        #expect(keys.sorted() == contractKeys[section]!.sorted())
    }

    @Test("every TOML example parses (completed with a minimal input or output where it has none)")
    func examplesParse() throws {
        let blocks = document.components(separatedBy: "```toml\n").dropFirst().map { $0.components(separatedBy: "```")[0] }
        #expect(blocks.count >= 5)
        for block in blocks {
            var text = block
            if !text.contains("[[inputs.") { text += "\n[[inputs.collectd]]\nlisten = \"127.0.0.1:25999\"\n" }
            if !text.contains("[[outputs.") { text += "\n[[outputs.influxdb]]\n" }
            let errors = parseErrors(text)
            #expect(errors.isEmpty, "\(errors)\n\(block)")
        }
    }
}
