import EstuaryConfig
import EstuaryIO
import Foundation
import Testing

/// A file with one mistake, and the error it must give.
struct ErrorCase: CustomTestStringConvertible, Sendable {
    var name: String
    var text: String
    var line: Int?
    var keyPath: String
    /// Text the message must contain.
    var message: String

    var testDescription: String { name }
}

/// A valid file to put mistakes into: a collectd input on line 2, an output from line 4.
func valid(collectd: String = "", output: String = "", top: String = "") -> String {
    """
    \(top)[[inputs.collectd]]
    listen = "127.0.0.1:25826"
    \(collectd)
    [[outputs.influxdb]]
    url = "http://127.0.0.1:8086"
    \(output)
    """
}

/// A valid file with an SNMP input (targets on line 2) and `extra` on line 4.
func snmp(_ extra: String) -> String {
    "[[inputs.snmp]]\ntargets = [\"192.0.2.1\"]\ncommunity = \"public\"\n\(extra)\n[[outputs.influxdb]]\n"
}

let errorCases: [ErrorCase] = [
    // SNMP.
    ErrorCase(name: "snmp: an unknown version never falls back", text: snmp("version = \"2\""),
              line: 4, keyPath: "inputs.snmp[0].version", message: "unknown value '2' (expected 1, 2c or 3)"),
    ErrorCase(name: "snmp: v3 without a user", text: snmp("version = \"3\""),
              line: 1, keyPath: "inputs.snmp[0].username", message: "required for version \"3\""),
    ErrorCase(name: "snmp: a short v3 password", text: snmp("version = \"3\"\nusername = \"u\"\nauth_password = \"short\""),
              line: 6, keyPath: "inputs.snmp[0].auth_password", message: "at least 8 characters"),
    ErrorCase(name: "snmp: an unknown auth protocol", text: snmp("auth_protocol = \"SHA3\""),
              line: 4, keyPath: "inputs.snmp[0].auth_protocol", message: "unknown value 'SHA3' (expected MD5, SHA, SHA224"),
    ErrorCase(name: "snmp: rates in the Telegraf schema", text: snmp("schema = \"telegraf\"\nrates = true"),
              line: 5, keyPath: "inputs.snmp[0].rates", message: "rates apply to the collectd schema"),
    ErrorCase(name: "snmp: timeouts longer than the interval", text: snmp("interval = \"5s\"\ntimeout = \"2s\"\nretries = 2"),
              line: 5, keyPath: "inputs.snmp[0].timeout", message: "timeout × (retries + 1) = 6s must be shorter than interval (5s)"),
    ErrorCase(name: "snmp: a bad target", text: "[[inputs.snmp]]\ntargets = [\"192.0.2.1:99999\"]\n[[outputs.influxdb]]\n",
              line: 2, keyPath: "inputs.snmp[0].targets[0]", message: "bad port in '192.0.2.1:99999'"),
    ErrorCase(name: "snmp: a target naming unknown credentials",
              text: "[[inputs.snmp]]\ntargets = [\"192.0.2.1 sw1 core\"]\n[[outputs.influxdb]]\n",
              line: 2, keyPath: "inputs.snmp[0].targets[0]", message: "unknown credentials 'core'"),
    ErrorCase(name: "snmp: no device", text: "[[inputs.snmp]]\ncommunity = \"x\"\n[[outputs.influxdb]]\n",
              line: 1, keyPath: "inputs.snmp[0].targets", message: "no device to poll"),
    ErrorCase(name: "snmp: a MIB name instead of an OID",
              text: snmp("[[inputs.snmp.table]]\nmeasurement = \"t\"\nfields = { x = \"IF-MIB::ifDescr\" }"),
              line: 6, keyPath: "inputs.snmp[0].table[0].fields.x", message: "bad OID 'IF-MIB::ifDescr': write it numerically"),
    ErrorCase(name: "snmp: a table without fields", text: snmp("[[inputs.snmp.table]]\nmeasurement = \"t\""),
              line: 4, keyPath: "inputs.snmp[0].table[0].fields", message: "at least one field is needed"),

    // Unknown keys and tables.
    ErrorCase(name: "unknown key, with a guess", text: valid(collectd: "securty_level = \"sign\""),
              line: 3, keyPath: "inputs.collectd[0].securty_level", message: "unknown key; did you mean 'security_level'?"),
    ErrorCase(name: "unknown key, with the accepted keys", text: valid(output: "colour = \"red\""),
              line: 6, keyPath: "outputs.influxdb[0].colour", message: "unknown key (accepted keys: name, url, api, database"),
    ErrorCase(name: "a global key below a table belongs to the table",
              text: valid(output: "log_level = \"debug\""), line: 6, keyPath: "outputs.influxdb[0].log_level",
              message: "log_level is a global key: move it to the top of the file, before the first table"),
    ErrorCase(name: "unknown global key", text: valid(top: "data_directory = \"/tmp\"\n"),
              line: 1, keyPath: "data_directory", message: "unknown key; did you mean 'data_dir'?"),
    ErrorCase(name: "a [global] table", text: "[global]\nlog_level = \"info\"\n" + valid(),
              line: 1, keyPath: "global", message: "unknown table; global keys go at the top of the file"),
    ErrorCase(name: "unknown input plugin", text: valid() + "\n[[inputs.statsd]]\nlisten = \":8125\"\n",
              line: 7, keyPath: "inputs.statsd", message: "unknown input plugin 'statsd' (supported inputs: collectd, graphite, snmp)"),
    ErrorCase(name: "snmp: Telegraf's agents key", text: snmp("agents = [\"10.0.0.1\"]"),
              line: 4, keyPath: "inputs.snmp[0].agents", message: "unknown key"),
    ErrorCase(name: "unknown output plugin", text: valid() + "\n[[outputs.kafka]]\n",
              line: 7, keyPath: "outputs.kafka", message: "unknown output plugin 'kafka' (supported outputs: influxdb)"),
    ErrorCase(name: "single brackets for a plugin",
              text: "[inputs.collectd]\nlisten = \"127.0.0.1:25826\"\n[[outputs.influxdb]]\n",
              line: 1, keyPath: "inputs.collectd", message: "write each collectd plugin as a [[inputs.collectd]] table"),

    // Types.
    ErrorCase(name: "string for a boolean", text: valid(collectd: "store_rates = \"yes\""),
              line: 3, keyPath: "inputs.collectd[0].store_rates", message: "expected true or false, got the string \"yes\""),
    ErrorCase(name: "number for a string", text: valid(output: "database = 5"),
              line: 6, keyPath: "outputs.influxdb[0].database", message: "expected a string, got the integer 5"),
    ErrorCase(name: "float for an integer", text: valid(output: "batch_size = 5000.0"),
              line: 6, keyPath: "outputs.influxdb[0].batch_size", message: "expected an integer, got the number 5000"),
    ErrorCase(name: "string for a list", text: valid(collectd: "types_db = \"/usr/share/collectd/types.db\""),
              line: 3, keyPath: "inputs.collectd[0].types_db", message: "expected an array of strings"),
    ErrorCase(name: "number in a list", text: valid(collectd: "types_db = [\"/a\", 2]"),
              line: 3, keyPath: "inputs.collectd[0].types_db[1]", message: "expected a string, got the integer 2"),

    // Enums: an unknown value is an error, never a default.
    ErrorCase(name: "unknown security level", text: valid(collectd: "security_level = \"encrpyt\""),
              line: 3, keyPath: "inputs.collectd[0].security_level",
              message: "unknown value 'encrpyt' (expected none, sign or encrypt)"),
    ErrorCase(name: "unknown schema", text: valid(collectd: "schema = \"joined\""),
              line: 3, keyPath: "inputs.collectd[0].schema", message: "unknown value 'joined' (expected split or join)"),
    ErrorCase(name: "unknown log level", text: valid(top: "log_level = \"verbose\"\n"),
              line: 1, keyPath: "log_level",
              message: "unknown value 'verbose' (expected trace, debug, info, notice, warning, error or critical)"),
    ErrorCase(name: "unknown API", text: valid(output: "api = \"v3\""),
              line: 6, keyPath: "outputs.influxdb[0].api", message: "unknown value 'v3' (expected v1 or v2)"),

    // Durations, sizes, addresses, URLs.
    ErrorCase(name: "bare number for a duration", text: valid(output: "flush_interval = 10"),
              line: 6, keyPath: "outputs.influxdb[0].flush_interval",
              message: "expected a duration string with a unit, got the bare number 10; write \"10s\""),
    ErrorCase(name: "duration without a unit", text: valid(output: "timeout = \"10\""),
              line: 6, keyPath: "outputs.influxdb[0].timeout", message: "'10' has no unit"),
    ErrorCase(name: "duration with an unknown unit", text: valid(output: "timeout = \"10sec\""),
              line: 6, keyPath: "outputs.influxdb[0].timeout", message: "unknown unit 'sec' in '10sec' (expected ns, us, ms, s, m or h)"),
    ErrorCase(name: "duration out of range", text: valid(top: "batch_interval = \"2m\"\n"),
              line: 1, keyPath: "batch_interval", message: "must be between 1ms and 1m, got \"2m\""),
    ErrorCase(name: "size with an unknown unit", text: valid(collectd: "read_buffer = \"8M\""),
              line: 3, keyPath: "inputs.collectd[0].read_buffer",
              message: "unknown unit 'M' in '8M' (expected B, KiB, MiB, GiB, TiB, KB, MB, GB or TB)"),
    ErrorCase(name: "size out of range", text: valid(collectd: "read_buffer = \"2GiB\""),
              line: 3, keyPath: "inputs.collectd[0].read_buffer", message: "must be between 4KiB and 1GiB, got \"2GiB\""),
    ErrorCase(name: "address without a port", text: "[[inputs.collectd]]\nlisten = \"127.0.0.1\"\n[[outputs.influxdb]]\n",
              line: 2, keyPath: "inputs.collectd[0].listen", message: "bad address '127.0.0.1': expected \"host:port\""),
    ErrorCase(name: "port out of range", text: "[[inputs.collectd]]\nlisten = \"127.0.0.1:70000\"\n[[outputs.influxdb]]\n",
              line: 2, keyPath: "inputs.collectd[0].listen", message: "the port 70000 is out of range (1 to 65535)"),
    ErrorCase(name: "IPv6 without brackets", text: "[[inputs.collectd]]\nlisten = \"::1:25826\"\n[[outputs.influxdb]]\n",
              line: 2, keyPath: "inputs.collectd[0].listen", message: "an IPv6 address goes in brackets"),
    ErrorCase(name: "URL scheme", text: valid(output: "").replacingOccurrences(of: "http://", with: "udp://"),
              line: 5, keyPath: "outputs.influxdb[0].url", message: "the scheme must be http or https, not udp"),
    ErrorCase(name: "credentials in the URL",
              text: valid().replacingOccurrences(of: "http://", with: "http://admin:secret@"),
              line: 5, keyPath: "outputs.influxdb[0].url", message: "credentials do not go in the URL"),

    // Ranges.
    ErrorCase(name: "readers out of range", text: valid(collectd: "readers = 32"),
              line: 3, keyPath: "inputs.collectd[0].readers", message: "must be between 1 and 16, got 32"),
    ErrorCase(name: "batch_size zero", text: valid(output: "batch_size = 0"),
              line: 6, keyPath: "outputs.influxdb[0].batch_size", message: "must be between 1 and 1000000, got 0"),
    ErrorCase(name: "retry_max below retry_initial", text: valid(output: "retry_initial = \"5s\"\nretry_max = \"1s\""),
              line: 7, keyPath: "outputs.influxdb[0].retry_max", message: "must not be less than retry_initial (5s)"),
    ErrorCase(name: "escape character of two characters", text: """
              [[inputs.graphite]]
              listen_tcp = ":2003"
              escape_character = "__"
              [[outputs.influxdb]]
              """, line: 3, keyPath: "inputs.graphite[0].escape_character",
              message: "must be exactly one printable ASCII character, got '__'"),

    ErrorCase(name: "escape character '.'", text: """
              [[inputs.graphite]]
              listen_tcp = ":2003"
              escape_character = "."
              [[outputs.influxdb]]
              """, line: 3, keyPath: "inputs.graphite[0].escape_character",
              message: "cannot be '.', the separator of path components"),

    // Rules between keys.
    ErrorCase(name: "sign without auth_file", text: valid(collectd: "security_level = \"sign\""),
              line: 1, keyPath: "inputs.collectd[0].auth_file", message: "required when security_level is \"sign\""),
    ErrorCase(name: "encrypt without auth_file (any case)", text: valid(collectd: "security_level = \"Encrypt\""),
              line: 1, keyPath: "inputs.collectd[0].auth_file", message: "required when security_level is \"encrypt\""),
    ErrorCase(name: "missing listen", text: "[[inputs.collectd]]\nschema = \"join\"\n[[outputs.influxdb]]\n",
              line: 1, keyPath: "inputs.collectd[0].listen", message: "required key is missing"),
    ErrorCase(name: "graphite listening nowhere", text: "[[inputs.graphite]]\n[[outputs.influxdb]]\n",
              line: 1, keyPath: "inputs.graphite[0].listen_tcp", message: "set listen_tcp, listen_udp or both"),
    ErrorCase(name: "v2 without a token", text: valid(output: "api = \"v2\"\norg = \"o\"\nbucket = \"b\""),
              line: 4, keyPath: "outputs.influxdb[0].token", message: "required for api = \"v2\""),
    ErrorCase(name: "v2 with a v1 key", text: valid(output: "api = \"v2\"\norg = \"o\"\nbucket = \"b\"\ntoken = \"t\"\ndatabase = \"x\""),
              line: 10, keyPath: "outputs.influxdb[0].database", message: "is a v1 setting, but api is \"v2\""),
    ErrorCase(name: "v1 with a token", text: valid(output: "token = \"t\""),
              line: 6, keyPath: "outputs.influxdb[0].token", message: "is a v2 setting, but api is \"v1\""),
    ErrorCase(name: "v1 with an empty database", text: valid(output: "database = \"\""),
              line: 6, keyPath: "outputs.influxdb[0].database", message: "must not be empty for api = \"v1\""),
    ErrorCase(name: "username without password", text: valid(output: "username = \"u\""),
              line: 4, keyPath: "outputs.influxdb[0].password", message: "required when username is set"),
    // The spool.
    ErrorCase(name: "unknown spool_fsync", text: valid(output: "spool_fsync = \"always\""),
              line: 6, keyPath: "outputs.influxdb[0].spool_fsync", message: "unknown value 'always' (expected batch or interval)"),
    ErrorCase(name: "spool_max_age under a minute", text: valid(output: "spool_max_age = \"30s\""),
              line: 6, keyPath: "outputs.influxdb[0].spool_max_age", message: "must be at least 1m, or \"0s\""),
    ErrorCase(name: "spool_max_age as a bare number", text: valid(output: "spool_max_age = 72"),
              line: 6, keyPath: "outputs.influxdb[0].spool_max_age", message: "expected a duration string with a unit"),
    ErrorCase(name: "spool segments larger than half the spool", text: valid(output: "spool_segment_size = \"600MiB\""),
              line: 6, keyPath: "outputs.influxdb[0].spool_segment_size",
              message: "spool_segment_size (600MiB) must be at most half of spool_size (1GiB)"),
    ErrorCase(name: "a spool too small for its default segments", text: valid(output: "spool_size = \"20MiB\""),
              line: 6, keyPath: "outputs.influxdb[0].spool_size",
              message: "spool_segment_size (16MiB) must be at most half of spool_size (20MiB)"),
    ErrorCase(name: "spool_memory over queue_size", text: valid(output: "queue_size = \"8MiB\"\nspool_memory = \"9MiB\""),
              line: 7, keyPath: "outputs.influxdb[0].spool_memory", message: "must not be more than queue_size (8MiB)"),
    ErrorCase(name: "spool_size too small", text: valid(output: "spool_size = \"100KiB\""),
              line: 6, keyPath: "outputs.influxdb[0].spool_size", message: "must be between"),
    ErrorCase(name: "spool as a string", text: valid(output: "spool = \"yes\""),
              line: 6, keyPath: "outputs.influxdb[0].spool", message: "expected true or false, got the string \"yes\""),
    ErrorCase(name: "no outputs", text: "[[inputs.collectd]]\nlisten = \"127.0.0.1:25826\"\n",
              line: nil, keyPath: "outputs", message: "no output configured; add at least one [[outputs.influxdb]]"),
    ErrorCase(name: "no inputs", text: "[[outputs.influxdb]]\n",
              line: nil, keyPath: "inputs", message: "no input configured"),
    ErrorCase(name: "two inputs with one name", text: valid() + "\n[[inputs.graphite]]\nname = \"collectd\"\nlisten_tcp = \":2003\"\n",
              line: 8, keyPath: "inputs.graphite[0].name", message: "the name 'collectd' is already used by inputs.collectd[0]"),
    ErrorCase(name: "two inputs on one UDP port",
              text: valid() + "\n[[inputs.graphite]]\nlisten_udp = \":25826\"\n",
              line: 8, keyPath: "inputs.graphite[0].listen_udp",
              message: "0.0.0.0:25826 (UDP) is already used by inputs.collectd[0].listen (127.0.0.1:25826)"),

    // Graphite templates: checked when the file is loaded, reported at the entry's own line.
    ErrorCase(name: "bad template", text: """
              [[inputs.graphite]]
              listen_tcp = ":2003"
              templates = [
                "servers.* .host.measurement*",
                "a.* measurement.field.field",
              ]
              [[outputs.influxdb]]
              """, line: 5, keyPath: "inputs.graphite[0].templates[1]",
              message: "\"a.* measurement.field.field\": \"field\" can be used only once in a template"),
    ErrorCase(name: "two templates with one filter", text: """
              [[inputs.graphite]]
              listen_tcp = ":2003"
              templates = ["a.* .measurement", "b.* measurement", "a.* measurement.field"]
              [[outputs.influxdb]]
              """, line: 3, keyPath: "inputs.graphite[0].templates[2]",
              message: "the filter \"a.*\" is already used by templates[0]"),

    // Syntax: TOMLKit's message with line and column.
    ErrorCase(name: "syntax error", text: "[[inputs.collectd]]\nlisten = \"127.0.0.1:25826\nreaders = 2\n",
              line: 2, keyPath: "", message: "syntax error: "),
    ErrorCase(name: "duplicate key", text: "[[inputs.collectd]]\nlisten = \"a:1\"\nlisten = \"b:2\"\n",
              line: 3, keyPath: "", message: "syntax error: "),
    ErrorCase(name: "allow: bits past the prefix", text: """
              [[inputs.graphite]]
              listen_tcp = ":2003"
              allow = ["127.0.0.0/8",
                       "10.0.0.1/8"]
              [[outputs.influxdb]]
              """, line: 4, keyPath: "inputs.graphite[0].allow[1]",
              message: "bad network '10.0.0.1/8': 10.0.0.1/8 has address bits set past the /8 prefix; write the network (10.0.0.0/8) or the host alone"),
    ErrorCase(name: "allow: empty", text: "[[inputs.collectd]]\nlisten = \":1\"\nallow = []\n[[outputs.influxdb]]\n",
              line: 3, keyPath: "inputs.collectd[0].allow", message: "an empty list would refuse every sender"),
    ErrorCase(name: "allow: not an address", text: "[[inputs.collectd]]\nlisten = \":1\"\nallow = [\"localhost\"]\n[[outputs.influxdb]]\n",
              line: 3, keyPath: "inputs.collectd[0].allow[0]", message: "'localhost' is not a numeric IPv4 or IPv6 address"),
    ErrorCase(name: "read_timeout: bare number", text: "[[inputs.graphite]]\nlisten_tcp = \":1\"\nread_timeout = 30\n[[outputs.influxdb]]\n",
              line: 3, keyPath: "inputs.graphite[0].read_timeout", message: "bare number 30"),
    ErrorCase(name: "health_listen: a host name", text: "health_listen = \"localhost:8125\"\n[[inputs.collectd]]\nlisten = \":1\"\n[[outputs.influxdb]]\n",
              line: 1, keyPath: "health_listen", message: "host names are not resolved"),
    ErrorCase(name: "health_listen: the port of a graphite listener", text: "health_listen = \":2003\"\n[[inputs.graphite]]\nlisten_tcp = \"127.0.0.1:2003\"\n[[outputs.influxdb]]\n",
              line: 3, keyPath: "inputs.graphite[0].listen_tcp", message: "is already used by health_listen"),
    // Found by FuzzConfig: headers whose key starts with a character no key starts with made
    // TOMLKit's parser (toml++) abort the process on an assertion (check-config, start, SIGHUP).
    ErrorCase(name: "fuzz: header key starting with ')'",
              text: "health_listen = \"127.0.0.1:8125\"\n[[)nputs.graphite]]\ntemplatesp = \":2003\"\n",
              line: 2, keyPath: "", message: "syntax error: a table header needs a key: expected a letter, digit, '_', '-' or a quote, saw ')'"),
    ErrorCase(name: "fuzz: '}' as an array element", text: "a = [1,\n}]\n", line: 2, keyPath: "",
              message: "syntax error: expected an array element, saw '}'"),
    ErrorCase(name: "fuzz: a Unicode line separator as an array element", text: "[[inputs.graphite]]\ntemplates = [\u{2028}]\n",
              line: 2, keyPath: "", message: "saw '\u{2028}'"),
    ErrorCase(name: "fuzz: '[[['", text: "[[[inpuoltle[inpuoltle\n", line: 1, keyPath: "", message: "saw '['"),
    ErrorCase(name: "'[ [' is TOMLKit's error", text: "[ [x]]\n", line: 1, keyPath: "", message: "contiguous"),
    ErrorCase(name: "fuzz: a lone '['", text: "[[inputs.collectd]]\nlisten = \":1\"\n[\n",
              line: 3, keyPath: "", message: "saw the end of the line"),
    ErrorCase(name: "fuzz: '[ ' then a bad character", text: "[ \u{00e9}x]\n", line: 1, keyPath: "", message: "saw 'é'"),
    ErrorCase(name: "fuzz: an earlier syntax error is reported first", text: "a = = 1\n[[)x]]\n",
              line: 1, keyPath: "", message: "syntax error: "),
    ErrorCase(name: "'[' inside a multi-line array is not a header", text: """
              [[inputs.graphite]]
              listen_tcp = ":2003"
              templates = [
              [
              ]
              [[outputs.influxdb]]
              """, line: 6, keyPath: "", message: "syntax error: Error while parsing array"),
]

@Suite("configuration errors")
struct ConfigurationErrorTests {
    @Test("one mistake, one error naming the key path and the line", arguments: errorCases)
    func singleError(_ errorCase: ErrorCase) throws {
        let errors = parseErrors(errorCase.text)
        try #require(errors.count == 1, "\(errors)")
        let error = errors[0]
        #expect(error.keyPath == errorCase.keyPath)
        #expect(error.line == errorCase.line, "\(error)")
        #expect(error.message.contains(errorCase.message), "\(error)")
        #expect(error.file == "estuary.toml")
    }

    @Test("spool keys: values, defaults that follow queue_size, \"0s\" for no age bound")
    func spoolValues() throws {
        let configuration = try EstuaryConfiguration.parse(valid(output: """
            spool = false
            spool_size = "10GiB"
            spool_max_age = "0s"
            spool_fsync = "Batch"
            spool_fsync_interval = "250ms"
            spool_segment_size = "64MiB"
            spool_memory = "4MiB"
            """))
        let output = try #require(configuration.influxDBOutputs.first)
        #expect(!output.spool)
        #expect(output.spoolSize == 10 << 30)
        #expect(output.spoolMaxAge == 0)
        #expect(output.spoolFsync == .batch)
        #expect(output.spoolFsyncInterval == 0.25)
        #expect(output.spoolSegmentSize == 64 << 20)
        #expect(output.spoolMemory == 4 << 20)
        // spool_memory unset: 16MiB, or half of a smaller queue_size.
        let small = try EstuaryConfiguration.parse(valid(output: "queue_size = \"8MiB\""))
        #expect(small.influxDBOutputs.first?.spoolMemory == 4 << 20)
        #expect(try EstuaryConfiguration.parse(valid()).influxDBOutputs.first?.spoolMemory == 16 << 20)
    }

    @Test("allow, read_timeout and health_listen: values")
    func hostileInputKeys() throws {
        let configuration = try EstuaryConfiguration.parse("""
            health_listen = "[::1]:8125"
            [[inputs.collectd]]
            listen = ":25826"
            allow = ["192.0.2.0/24", "2001:db8::/32", "127.0.0.1"]
            [[inputs.graphite]]
            listen_tcp = ":2003"
            read_timeout = "1m"
            allow = ["::1"]
            [[outputs.influxdb]]
            """)
        #expect(configuration.global.healthListen == ListenAddress(host: "::1", port: 8125))
        #expect(configuration.collectdInputs.first?.allow.description == "192.0.2.0/24, 2001:db8::/32, 127.0.0.1/32")
        #expect(configuration.graphiteInputs.first?.allow.description == "::1/128")
        #expect(configuration.graphiteInputs.first?.readTimeout == 60)
        let defaults = try EstuaryConfiguration.parse("[[inputs.graphite]]\nlisten_tcp = \":2003\"\n[[outputs.influxdb]]\n")
        #expect(defaults.global.healthListen == nil)
        #expect(defaults.graphiteInputs.first?.allow.allowsEveryone == true)
        #expect(defaults.graphiteInputs.first?.readTimeout == 30)
    }

    @Test("the description reads file:line: key path: message")
    func descriptionFormat() {
        let errors = parseErrors(valid(collectd: "security_level = \"encrpyt\""), file: "/etc/estuary/estuary.toml")
        #expect(errors.map(\.description) == [
            "/etc/estuary/estuary.toml:3: inputs.collectd[0].security_level: unknown value 'encrpyt' (expected none, sign or encrypt)",
        ])
    }

    @Test("a syntax error has its line and column")
    func syntaxErrorPosition() throws {
        let errors = parseErrors("data_dir = \"/tmp\"\nlog_level = = \"info\"\n")
        try #require(errors.count == 1)
        #expect(errors[0].line == 2)
        #expect(errors[0].column != nil)
        #expect(errors[0].description.hasPrefix("estuary.toml:2:\(errors[0].column!): syntax error: "))
    }

    @Test("every mistake is reported, in line order, those without a line last")
    func severalErrors() {
        let text = """
            log_level = "loud"
            [[inputs.collectd]]
            listen = "127.0.0.1:25826"
            security_level = "sign"
            readers = 0
            [[inputs.collectd]]
            listen = "localhost"
            store_rates = 1
            [[inputs.graphite]]
            listen_tcp = ":2003"
            templates = ["a.* .field.field", ""]
            """
        let errors = parseErrors(text)
        #expect(errors.map(\.keyPath) == [
            "log_level",
            "inputs.collectd[0].auth_file",
            "inputs.collectd[0].readers",
            "inputs.collectd[1].listen",
            "inputs.collectd[1].store_rates",
            "inputs.graphite[0].templates[0]",
            "inputs.graphite[0].templates[1]",
            "outputs",
        ])
        #expect(errors.map(\.line) == [1, 2, 5, 7, 8, 11, 11, nil])
    }

    @Test("the line is found in the right [[...]] element, past multi-line strings and arrays")
    func linesInLaterElements() {
        let text = """
            [[inputs.collectd]]
            listen = "127.0.0.1:25826"
            types_db = [
              "/usr/share/collectd/types.db",  # schema = "not a key"
              '''/opt/types.db''',
            ]

            [[inputs.collectd]]
            name = "second"
            listen = "127.0.0.1:25827"
            auth_file = \"\"\"
            schema = "not a key either"
            \"\"\"
            schema = "splat"

            [[outputs.influxdb]]
            """
        let errors = parseErrors(text)
        #expect(errors.map(\.keyPath) == ["inputs.collectd[1].schema"])
        #expect(errors.map(\.line) == [14])
    }

    @Test("load names the file and says why it cannot be read")
    func unreadableFile() {
        do {
            _ = try EstuaryConfiguration.load(path: "/nonexistent/estuary.toml")
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "/nonexistent/estuary.toml: cannot be read: No such file or directory")
        }
    }
}
