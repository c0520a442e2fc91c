@testable import EstuaryConfig
import Testing

@Suite("durations, sizes and addresses")
struct ValueSyntaxTests {
    @Test("durations in seconds", arguments: [
        ("500ms", 0.5), ("200ms", 0.2), ("1s", 1), ("1.5s", 1.5), ("2m", 120), ("1h", 3600), ("1m30s", 90),
        ("1h2m3s", 3723), ("250us", 0.00025), ("250µs", 0.00025), ("100ns", 1e-7), ("0s", 0), ("0", 0), (".5s", 0.5),
        ("10s", 10), ("5m", 300), ("60s", 60),
    ])
    func durations(text: String, seconds: Double) throws {
        #expect(try DurationSyntax.seconds(text) == seconds)
    }

    @Test("bad durations", arguments: [
        ("10", "'10' has no unit"), ("", "the duration is empty"), ("-1s", "cannot be negative"),
        ("10sec", "unknown unit 'sec'"), ("1d", "unknown unit 'd'"), ("s", "'s' is not a duration"),
        ("1..5s", "'1..5s' is not a duration"), ("1s 2s", "unknown unit 's '"), ("10 s", "unknown unit ' s'"),
    ])
    func badDurations(text: String, message: String) {
        let error = #expect(throws: ConfigurationValueError.self) { try DurationSyntax.seconds(text) }
        #expect(error?.description.contains(message) == true, "\(String(describing: error))")
    }

    @Test("durations written back", arguments: [
        (0.5, "500ms"), (1, "1s"), (1.5, "1.5s"), (60, "1m"), (90, "90s"), (3600, "1h"), (0.001, "1ms"), (0, "0s"),
    ])
    func formatDurations(seconds: Double, text: String) {
        #expect(DurationSyntax.format(seconds) == text)
    }

    @Test("sizes in bytes", arguments: [
        ("100", 100), ("0", 0), ("100B", 100), ("512KiB", 524_288), ("8MiB", 8_388_608), ("1GiB", 1_073_741_824),
        ("1TiB", 1_099_511_627_776), ("4MB", 4_000_000), ("4KB", 4000), ("2GB", 2_000_000_000), ("8mib", 8_388_608),
        ("8 MiB", 8_388_608), ("1.5MiB", 1_572_864), ("0.5KB", 500), ("1.5", nil), ("8M", nil), ("8 megabytes", nil),
        ("-1", nil), ("", nil), ("0.1B", nil), ("99999999999999999999", nil), ("9999999TiB", nil), ("1.2.3MiB", nil),
    ] as [(String, Int?)])
    func sizes(text: String, bytes: Int?) throws {
        if let bytes {
            #expect(try SizeSyntax.bytes(text) == bytes)
        } else {
            #expect(throws: ConfigurationValueError.self) { try SizeSyntax.bytes(text) }
        }
    }

    @Test("sizes written back", arguments: [
        (8_388_608, "8MiB"), (4096, "4KiB"), (4_000_000, "4MB"), (100, "100"), (1 << 30, "1GiB"), (1000, "1KB"),
    ])
    func formatSizes(bytes: Int, text: String) {
        #expect(SizeSyntax.format(bytes) == text)
    }

    @Test("sizes in a file: an integer or a string", arguments: [
        ("read_buffer = 65536", 65536), ("read_buffer = \"64KiB\"", 65536), ("read_buffer = \"1MB\"", 1_000_000),
    ])
    func sizesInFile(line: String, bytes: Int) throws {
        let configuration = try EstuaryConfiguration.parse(valid(collectd: line))
        #expect(configuration.collectdInputs[0].readBuffer == bytes)
    }

    @Test("listen addresses", arguments: [
        ("127.0.0.1:25826", "127.0.0.1", 25826, "127.0.0.1:25826"),
        ("[::1]:2003", "::1", 2003, "[::1]:2003"),
        ("[::]:2003", "::", 2003, "[::]:2003"),
        ("[2001:db8::17]:65535", "2001:db8::17", 65535, "[2001:db8::17]:65535"),
        ("[::ffff:10.0.0.1]:2003", "::ffff:10.0.0.1", 2003, "[::ffff:10.0.0.1]:2003"),
        (":2003", "0.0.0.0", 2003, "0.0.0.0:2003"),
        ("10.1.2.3:1", "10.1.2.3", 1, "10.1.2.3:1"),
    ] as [(String, String, UInt16, String)])
    func addresses(text: String, host: String, port: UInt16, description: String) throws {
        let address = try ListenAddress(parsing: text)
        #expect(address == ListenAddress(host: host, port: port))
        #expect(address.description == description)
    }

    @Test("bad listen addresses", arguments: [
        ("127.0.0.1", "expected \"host:port\""), ("127.0.0.1:0", "out of range"), ("127.0.0.1:65536", "out of range"),
        ("127.0.0.1:", "is not a number"), ("127.0.0.1:http", "is not a number"), ("::1:2003", "goes in brackets"),
        ("[::1]", "expected \":port\""), ("[::1:2003", "no ']'"), ("[127.0.0.1]:2003", "brackets are for IPv6"),
        ("my host:2003", "is not an IP address"), ("127.0.0.1:-5", "is not a number"), ("", "expected \"host:port\""),
        ("localhost:2003", "'localhost' is not an IP address; host names are not resolved"),
        ("10.0.0.256:2003", "is not an IP address"), ("[::g]:2003", "'::g' is not an IPv6 address"),
        ("[fe80::1%eth0]:2003", "is not an IPv6 address"),
    ])
    func badAddresses(text: String, message: String) {
        let error = #expect(throws: ListenAddressError.self) { try ListenAddress(parsing: text) }
        #expect(error?.description.contains(message) == true, "\(String(describing: error))")
    }

    @Test("an IPv6 listen address in a file")
    func ipv6InFile() throws {
        let configuration = try EstuaryConfiguration.parse("""
            [[inputs.graphite]]
            listen_tcp = "[::1]:2003"
            listen_udp = "[::]:2003"
            [[outputs.influxdb]]
            url = "https://[::1]:8086/"
            """)
        let graphite = configuration.graphiteInputs[0]
        #expect(graphite.listenTCP == ListenAddress(host: "::1", port: 2003))
        #expect(graphite.listenUDP == ListenAddress(host: "::", port: 2003))
        #expect(configuration.influxDBOutputs[0].url == "https://[::1]:8086")
    }
}

@Suite("source line index")
struct SourceLineIndexTests {
    @Test("keys, headers and array elements by key path")
    func lines() {
        let index = SourceLineIndex("""
            # comment = 1
            data_dir = "/tmp"   # trailing = comment
            "quoted.key" = 1
            dotted.key = 2

            [[inputs.graphite]]
              listen_tcp = ":2003"
              templates = [
                "a.* .measurement",   # one
                # "commented.* out",
                'b.* .measurement', "c.* [x]",
              ]
              prefix = \"\"\"
            not_a_key = 1
            [not.a.table]
            \"\"\"
              separator = "_"
            [[inputs.graphite]]
              name = "two"
            [outputs.influxdb.extra]
              k = { a = 1, b = [1,
                2] }
              last = 1
            """)
        #expect(index.exactLine(of: "data_dir") == 2)
        #expect(index.exactLine(of: "quoted.key") == 3)
        #expect(index.exactLine(of: "dotted.key") == 4)
        #expect(index.exactLine(of: "dotted") == 4)
        #expect(index.exactLine(of: "inputs.graphite") == 6)
        #expect(index.exactLine(of: "inputs.graphite[0]") == 6)
        #expect(index.exactLine(of: "inputs.graphite[0].listen_tcp") == 7)
        #expect(index.exactLine(of: "inputs.graphite[0].templates") == 8)
        #expect(index.exactLine(of: "inputs.graphite[0].templates[0]") == 9)
        #expect(index.exactLine(of: "inputs.graphite[0].templates[1]") == 11)
        #expect(index.exactLine(of: "inputs.graphite[0].templates[2]") == 11)
        #expect(index.exactLine(of: "inputs.graphite[0].templates[3]") == nil)
        #expect(index.exactLine(of: "inputs.graphite[0].prefix") == 13)
        #expect(index.exactLine(of: "not_a_key") == nil)
        #expect(index.exactLine(of: "not.a.table") == nil)
        #expect(index.exactLine(of: "inputs.graphite[0].separator") == 17)
        #expect(index.exactLine(of: "inputs.graphite[1]") == 18)
        #expect(index.exactLine(of: "inputs.graphite[1].name") == 19)
        #expect(index.exactLine(of: "outputs.influxdb.extra") == 20)
        #expect(index.exactLine(of: "outputs.influxdb.extra.k") == 21)
        #expect(index.exactLine(of: "outputs.influxdb.extra.last") == 23)
        // A missing key is placed on its table's header.
        #expect(index.line(of: "inputs.graphite[1].listen_tcp") == 18)
        #expect(index.line(of: "outputs") == nil)
    }

    @Test("a byte order mark and CRLF line ends")
    func byteOrderMarkAndCRLF() throws {
        let text = "\u{FEFF}log_level = \"loud\"\r\n[[inputs.collectd]]\r\n  readers = 99\r\n"
        let index = SourceLineIndex(text)
        #expect(index.exactLine(of: "log_level") == 1)
        #expect(index.exactLine(of: "inputs.collectd[0].readers") == 3)
        let errors = parseErrors(text)
        #expect(errors.map(\.line) == [1, 2, 3, nil])
        #expect(errors.map(\.keyPath) == ["log_level", "inputs.collectd[0].listen", "inputs.collectd[0].readers", "outputs"])
    }
}
