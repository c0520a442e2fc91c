import EstuaryModel
import EstuaryTestSupport
@testable import EstuaryWire
import Testing

func parseGraphite(_ line: String) -> Result<GraphiteLine, GraphiteRejectionReason>? {
    Array(line.utf8).withUnsafeBytes { GraphiteLineParser().parse($0) }
}

func graphiteDecoder(collectd: Bool = true, options: WriteGraphiteOptions = WriteGraphiteOptions(),
                     templates: [String] = [], schema: CollectdSchema = .split, maxLineLength: Int = 16384) -> GraphiteDecoder {
    GraphiteDecoder(configuration: GraphiteDecoderConfiguration(
        collectdPaths: collectd, writeGraphite: options, schema: schema,
        templates: try! GraphiteTemplateSet(templates), maxLineLength: maxLineLength), typesDB: Fixtures.typesDB)
}

func decodeGraphite(_ text: String, decoder: GraphiteDecoder = graphiteDecoder(), now: Int64 = 42)
    -> (points: [Point], rejections: [GraphiteRejection], stats: GraphiteDecodeStats) {
    var points: [Point] = []
    var rejections: [GraphiteRejection] = []
    var stats = GraphiteDecodeStats()
    _ = Array(text.utf8).withUnsafeBytes { decoder.decode($0, now: now, into: &points, rejections: &rejections, stats: &stats) }
    return (points, rejections, stats)
}

@Suite("graphite plaintext lines")
struct GraphiteLineParserTests {
    static let good: [(String, String, Double, Double?)] = [
        ("a.b.c 1.5 1700000000", "a.b.c", 1.5, 1_700_000_000),
        ("a.b.c 1.5 1700000000\r", "a.b.c", 1.5, 1_700_000_000),           // CRLF, as write_graphite sends
        ("  \ta.b 2\t 1700000000.25  ", "a.b", 2, 1_700_000_000.25),        // blanks around and between
        ("a 3", "a", 3, nil),                                               // no timestamp: now
        ("a 3 -1", "a", 3, nil),                                            // -1: now
        ("a -0.000001 1", "a", -0.000001, 1),
        ("a 1e-300 1", "a", 1e-300, 1),
        ("a 18446744073709551001 1", "a", 18_446_744_073_709_551_616, 1),  // 2^64: the nearest Double
        ("a 99.969257 1", "a", 99.969257, 1),
        ("a.b;dc=eu;role=db 4 5", "a.b", 4, 5),
        ("température.日本 5 6", "température.日本", 5, 6),
    ]

    @Test("path value [timestamp] parses", arguments: good)
    func parsesGoodLines(line: String, path: String, value: Double, seconds: Double?) {
        guard case .success(let parsed)? = parseGraphite(line) else {
            Issue.record("\(line) did not parse")
            return
        }
        #expect(String(decoding: Array(line.utf8)[parsed.path], as: UTF8.self) == path)
        #expect(parsed.value == value)
        #expect(parsed.seconds == seconds)
    }

    static let bad: [(String, GraphiteRejectionReason)] = [
        ("a.b.c", .missingValue),
        ("a.b.c   ", .missingValue),
        ("a.b.c x 1", .invalidValue),
        ("a.b.c 0x10 1", .invalidValue),
        ("a.b.c 1 yesterday", .invalidTimestamp),
        ("a.b.c 1 1700000000000", .timestampOutOfRange),   // milliseconds
        ("a.b.c 1 2 3", .extraFields),
        ("a.b;dc 1 2", .invalidTag),
        ("a.b;=eu 1 2", .invalidTag),
        ("a.b;dc= 1 2", .invalidTag),
        ("a.b; 1 2", .invalidTag),
        (";dc=eu 1 2", .emptyPath),
        ("a nan 1", .nonFiniteValue),
        ("a -nan 1", .nonFiniteValue),
        ("a inf 1", .nonFiniteValue),
        ("a -inf 1", .nonFiniteValue),
        ("a 1.79769313486232e+308 1", .nonFiniteValue),   // beyond the largest double
    ]

    @Test("malformed lines are rejected with a reason", arguments: bad)
    func rejectsBadLines(line: String, reason: GraphiteRejectionReason) {
        guard case .failure(let got)? = parseGraphite(line) else {
            Issue.record("\(line) was accepted")
            return
        }
        #expect(got == reason)
    }

    @Test("blank lines are skipped without a rejection")
    func blankLines() {
        #expect(parseGraphite("") == nil)
        #expect(parseGraphite(" \t\r") == nil)
    }

    @Test("the decimal fast path agrees with the standard library (seeded)")
    func decimalParsing() {
        let seed = UInt64.random(in: 0...UInt64.max)
        var random = SplitMix64(seed: seed)
        for _ in 0..<propertyIterations(default: 20000) {
            let value: Double
            switch Int.random(in: 0...3, using: &random) {
            case 0: value = Double(Int64.random(in: -1_000_000_000...1_000_000_000, using: &random)) / 1000
            case 1: value = Double.random(in: -1e6...1e6, using: &random)
            case 2: value = Double(bitPattern: random.next() & 0x7FEF_FFFF_FFFF_FFFF)
            default: value = Double(Int64.random(in: Int64.min...Int64.max, using: &random))
            }
            for text in [value.description, String(Int64(exactly: value.rounded(.towardZero)) ?? 0)] {
                let parsed = Array(text.utf8).withUnsafeBytes { DecimalParsing.parseDouble($0) }
                #expect(parsed == Double(text), "\(text) seed \(seed)")
            }
        }
    }

    @Test("lines longer than the limit are rejected; the next line is still read")
    func lineLength() {
        let long = "a." + String(repeating: "x", count: 100) + " 1 1"
        let (points, rejections, _) = decodeGraphite(long + "\nb 2 3\n", decoder: graphiteDecoder(maxLineLength: 50))
        #expect(points.map(\.measurement) == ["b"])
        #expect(rejections == [GraphiteRejection(line: 1, reason: .lineTooLong(length: long.utf8.count, limit: 50))])
    }
}

@Suite("graphite decoding")
struct GraphiteDecoderTests {
    @Test("timestamps are seconds, fractional allowed; a missing timestamp takes now")
    func timestamps() {
        let (points, _, _) = decodeGraphite("a 1 1700000000\nb 2 1700000000.5\nc 3\n", decoder: graphiteDecoder(collectd: false),
                                            now: 123)
        #expect(points.map(\.timestamp) == [1_700_000_000_000_000_000, 1_700_000_000_500_000_000, 123])
    }

    @Test("without templates the whole path is the measurement and the field is value")
    func defaultTemplate() {
        let (points, _, _) = decodeGraphite("servers.web-1.cpu 0.5 10\n", decoder: graphiteDecoder(collectd: false))
        #expect(points == [Point(measurement: "servers.web-1.cpu", fields: [Field("value", .float(0.5))],
                                 timestamp: 10_000_000_000)])
    }

    @Test("Graphite 1.1 tags become tags, added to what the template gives")
    func graphiteTags() {
        let decoder = graphiteDecoder(collectd: false, templates: ["servers.* .host.measurement region=us"])
        let (points, _, _) = decodeGraphite("servers.web-1.cpu;dc=eu;region=eu 1 2\n", decoder: decoder)
        #expect(points.first?.measurement == "cpu")
        #expect(Set(points.first?.tags ?? []) == [Tag("host", "web-1"), Tag("dc", "eu"), Tag("region", "eu")])
    }

    @Test("collectd paths map to the series of the binary protocol; other paths go through the templates")
    func collectdAndOtherPaths() {
        let decoder = graphiteDecoder(options: WriteGraphiteOptions(prefix: "collectd."),
                                      templates: ["app.* .host.measurement.field"])
        let text = """
            collectd.web-1.interface-eth0.if_octets.rx 345.17 1700000000
            collectd.web-1.cpu-0.percent-idle 86.43 1700000000
            app.web-1.requests.count 5 1700000000
            """
        let (points, rejections, stats) = decodeGraphite(text, decoder: decoder)
        #expect(rejections.isEmpty)
        #expect(stats.collectdPaths == 2)
        #expect(stats.templatePaths == 1)
        #expect(LineProtocolEncoder().string(points) == """
            interface_rx,host=web-1,instance=eth0,type=if_octets value=345.17 1700000000000000000
            cpu_value,host=web-1,instance=0,type=percent,type_instance=idle value=86.43 1700000000000000000
            requests,host=web-1 count=5 1700000000000000000

            """)
    }

    @Test("join schema: one field per line, named by the data source, in measurement <plugin>")
    func joinSchema() {
        let (points, _, _) = decodeGraphite("h.load.load.shortterm 0.5 1\nh.load.load.midterm 0.25 1\n",
                                            decoder: graphiteDecoder(schema: .join))
        #expect(points.map(\.measurement) == ["load", "load"])
        #expect(points.map { $0.fields.map(\.key) } == [["shortterm"], ["midterm"]])
    }

    @Test("one bad line never loses the others")
    func badLinesAreIsolated() {
        let (points, rejections, _) = decodeGraphite("a 1 1\nbroken\nb nan 1\nc 3 1\n\nd x\n", decoder: graphiteDecoder(collectd: false))
        #expect(points.map(\.measurement) == ["a", "c"])
        #expect(rejections.map(\.line) == [2, 3, 6])
        #expect(rejections.map(\.reason.code) == ["missing_value", "non_finite", "invalid_value"])
    }

    @Test("write_graphite's real output decodes to the expected points (drop-in target)")
    func writeGraphiteCapture() {
        let (points, rejections, stats) = decodeGraphite(Fixtures.text(Fixtures.collectd + "/write_graphite-client-tcp.txt"))
        let expected = Fixtures.points(lineProtocol: Fixtures.collectd + "/expected/graphite-client-tcp.split.lp")
        let comparison = PointMultisetComparison(actual: points, expected: expected)
        #expect(comparison.matches, "\(comparison)")
        #expect(stats.templatePaths == 0)
        #expect(rejections.allSatisfy { $0.reason == .nonFiniteValue })
    }

    @Test("the write_graphite path and the binary protocol land in the same series")
    func sameSeriesAsBinary() {
        let graphite = decodeGraphite(Fixtures.text(Fixtures.collectd + "/write_graphite-client-tcp.txt")).points
        let files = Fixtures.files(in: Fixtures.collectd + "/capture/plain", suffix: ".bin")
        let binary = decodeCollectd(files).points
        // write_graphite escapes dots in names ("relay-client.example.org" -> "relay-client_example_org").
        func key(_ p: Point) -> String {
            p.measurement + p.tags.map { ",\($0.key)=\($0.value)" }.joined()
        }
        let graphiteSeries = Set(graphite.map(key))
        let binarySeries = Set(binary.map { point -> String in
            var p = point
            p.tags = p.tags.map { Tag($0.key, WriteGraphiteEscaping.escape($0.value, escape: UInt8(ascii: "_"))) }
            return key(p)
        })
        #expect(graphiteSeries.isSubset(of: binarySeries))
        #expect(graphiteSeries.count > 100)
    }
}

@Suite("graphite straight to line protocol")
struct GraphiteDirectEncodingTests {
    /// The writer must give the points of decodeLine + LineProtocolEncoder: the same lines, but
    /// for values, which the writer may copy as the sender wrote them (`-0`, `1.50`) where the
    /// encoder formats the double; so lines are compared as parsed points, exactly.
    func bothWays(_ text: String, decoder: GraphiteDecoder,
                  pathCacheCapacity: Int = GraphiteLineProtocolWriter.pathCacheCapacity) -> ([Point], [Point], GraphiteLineProtocolWriter) {
        let (points, rejections, stats) = decodeGraphite(text, decoder: decoder, now: 77)
        var writer = GraphiteLineProtocolWriter(decoder: decoder, pathCacheCapacity: pathCacheCapacity)
        var direct: [UInt8] = []
        Array(text.utf8).withUnsafeBytes { _ = writer.decode($0, now: 77, into: &direct) }
        #expect(writer.rejections == rejections)
        #expect(writer.stats == stats)
        let parser = LineProtocolParser()
        let viaPoints = parser.parse(LineProtocolEncoder().string(points))
        let viaWriter = parser.parse(String(decoding: direct, as: UTF8.self))
        #expect(viaPoints.errors.isEmpty && viaWriter.errors.isEmpty)
        return (viaPoints.points, viaWriter.points, writer)
    }

    @Test("a path seen again is written from the path cache: the same lines, also for paths that take the point path")
    func pathCacheRepeats() {
        let once = "web-1.cpu-0.percent-idle 97.5 1\nweb-1.load.load.shortterm 0.25 1\nweb-1.nosuch.thing 1 1\n"
            + "not_collectd 5 1\nweb-1.interface-eth0.if_octets.rx 1 1\nweb-1.memory.memory-used 5e3 1\n"
        let (viaPoints, direct, writer) = bothWays(String(repeating: once, count: 50), decoder: graphiteDecoder())
        #expect(direct == viaPoints)
        #expect(direct.count == 300)
        #expect(writer.pathCacheEnabled)
    }

    @Test("more distinct paths than the cache holds: it turns itself off, the lines stay the same, and it tries again later")
    func pathCacheOverflow() {
        let capacity = 1024
        let distinct = 2 * capacity
        var text = ""
        for round in 0..<3 {
            for host in 0..<distinct { text += "host\(host).load.load.shortterm \(round).5 1\n" }
        }
        let (viaPoints, direct, afterOverflow) = bothWays(text, decoder: graphiteDecoder(), pathCacheCapacity: capacity)
        #expect(direct == viaPoints)
        var writer = afterOverflow
        #expect(!writer.pathCacheEnabled, "every lookup missed, yet the cache is still on")
        // After its pause (PrefixCacheUse.pause lines), it is asked again.
        var bytes: [UInt8] = []
        let repeated = Array(String(repeating: "host1.load.load.shortterm 1 2\n", count: PrefixCacheUse.pause).utf8)
        repeated.withUnsafeBytes { _ = writer.decode($0, now: 0, into: &bytes) }
        #expect(writer.pathCacheEnabled)
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
        #expect(lines.count == PrefixCacheUse.pause && Set(lines).count == 1)
    }

    @Test("plain decimals are copied as sent; other forms are formatted")
    func valueText() {
        var writer = GraphiteLineProtocolWriter(decoder: graphiteDecoder())
        var bytes: [UInt8] = []
        let text = "h.load.load.shortterm 1.50 1\nh.load.load.midterm -0 1\nh.load.load.longterm 1e-400 1\nh.uptime.uptime 0x1p3 1\n"
        Array(text.utf8).withUnsafeBytes { _ = writer.decode($0, now: 0, into: &bytes) }
        let values = String(decoding: bytes, as: UTF8.self).split(separator: "\n").map { $0.split(separator: " ")[1] }
        #expect(values == ["value=1.50", "value=-0", "value=0"])  // hex floats are not graphite values at all
    }

    @Test("every write_graphite option set gives the same bytes both ways", arguments: WriteGraphiteVariantTests.variants)
    func referenceVariants(variant: WriteGraphiteVariantTests.Variant) {
        let text = Fixtures.text(Fixtures.collectd + "/reference/graphite-\(variant.name).txt")
        for schema in CollectdSchema.allCases {
            let (viaPoints, direct, writer) = bothWays(text, decoder: graphiteDecoder(options: variant.options, schema: schema))
            #expect(direct == viaPoints)
            if !variant.preserveSeparator && !variant.useTags { #expect(writer.stats.collectdPaths > 3000) }
        }
    }

    @Test("odd names, unknown types and non-collectd lines give the same bytes both ways (seeded)")
    func randomLines() {
        let seed = UInt64.random(in: 0...UInt64.max)
        var random = SplitMix64(seed: seed)
        let pieces = ["h", "web-1", "cpu-0", "percent-idle", "load", "load", "shortterm", "if_octets", "rx", "x,y", "a=b",
                      "time", "tail\\", "#x", "exec-a", "nosuch", "gauge", "", "value", "é", "memory", "used"]
        for _ in 0..<propertyIterations(default: 100) {
            var text = ""
            for _ in 0..<50 {
                let path = (0..<Int.random(in: 1...5, using: &random)).map { _ in pieces.randomElement(using: &random)! }
                    .joined(separator: ".")
                let tags = Int.random(in: 0...9, using: &random) == 0 ? ";dc=eu" : ""
                text += "\(path)\(tags) \(Double.random(in: -1e6...1e6, using: &random)) 1700000000\n"
            }
            for options in [WriteGraphiteOptions(), WriteGraphiteOptions(separateInstances: true, alwaysAppendDS: true),
                            WriteGraphiteOptions(dropDuplicateFields: true)] {
                for schema in CollectdSchema.allCases {
                    let decoder = graphiteDecoder(options: options, templates: ["h.* .host.measurement*"], schema: schema)
                    let (viaPoints, direct, _) = bothWays(text, decoder: decoder)
                    #expect(direct == viaPoints, "seed \(seed)")
                }
            }
        }
    }
}
