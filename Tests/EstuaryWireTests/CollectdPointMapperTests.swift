import EstuaryModel
import EstuaryTestSupport
@testable import EstuaryWire
import Testing

func mapLists(_ lists: [CollectdValueList], schema: CollectdSchema = .split, storeRates: Bool = false,
              typesDB: TypesDB = Fixtures.typesDB)
    -> (points: [Point], rejections: [CollectdRejection], stats: CollectdMappingStats) {
    var mapper = CollectdPointMapper(typesDB: typesDB, schema: schema, storeRates: storeRates)
    var points: [Point] = []
    var rejections: [CollectdRejection] = []
    var stats = CollectdMappingStats()
    for list in lists { mapper.map(list, into: &points, rejections: &rejections, stats: &stats) }
    return (points, rejections, stats)
}

func list(plugin: String = "interface", pi: String = "eth0", type: String = "if_octets", ti: String = "",
          host: String = "web-1", seconds: Double = 100, interval: Double = 10, _ values: [CollectdValue]) -> CollectdValueList {
    CollectdValueList(host: host, plugin: plugin, pluginInstance: pi, type: type, typeInstance: ti,
                      time: UInt64(seconds * 1_073_741_824), interval: UInt64(interval * 1_073_741_824), values: values)
}

@Suite("collectd value lists to points")
struct CollectdPointMapperTests {
    @Test("split: one point per data source named <plugin>_<ds>, tags host/instance/type/type_instance, field value")
    func splitSchema() {
        let (points, rejections, _) = mapLists([list([.derive(2_296_850), .derive(1_000)])])
        #expect(rejections.isEmpty)
        #expect(LineProtocolEncoder().string(points) == """
            interface_rx,host=web-1,instance=eth0,type=if_octets value=2296850 100000000000
            interface_tx,host=web-1,instance=eth0,type=if_octets value=1000 100000000000

            """)
    }

    @Test("join: one point per value list named <plugin>, a field per data source")
    func joinSchema() {
        let (points, _, _) = mapLists([list(plugin: "load", pi: "", type: "load", [.gauge(0.5), .gauge(0.25), .gauge(0.125)])],
                                      schema: .join)
        #expect(LineProtocolEncoder().string(points)
                == "load,host=web-1,type=load shortterm=0.5,midterm=0.25,longterm=0.125 100000000000\n")
    }

    @Test("NaN and infinite values give no point and are counted; in join only that field goes")
    func nonFinite() {
        let lists = [list(plugin: "load", pi: "", type: "load", [.gauge(.nan), .gauge(1), .gauge(-.infinity)])]
        let split = mapLists(lists)
        #expect(split.points.map(\.measurement) == ["load_midterm"])
        #expect(split.rejections.map(\.reason.code) == ["non_finite", "non_finite"])
        let join = mapLists(lists, schema: .join)
        #expect(join.points.map(\.fields) == [[Field("midterm", .float(1))]])
    }

    @Test("a type missing from types.db is kept: DS name value, or 0, 1, ... for several values")
    func unknownType() {
        let (points, _, stats) = mapLists([list(plugin: "exec", pi: "", type: "nosuchtype", [.gauge(1)]),
                                           list(plugin: "exec", pi: "", type: "pair", [.gauge(1), .gauge(2)])])
        #expect(points.map(\.measurement) == ["exec_value", "exec_0", "exec_1"])
        #expect(stats.unknownType == 2)
    }

    @Test("a value count that disagrees with types.db drops the value list, with a reason")
    func countMismatch() {
        let (points, rejections, _) = mapLists([list([.derive(1)])])
        #expect(points.isEmpty)
        #expect(rejections.map(\.reason) == [.valueCountMismatch(type: "if_octets", expected: 2, received: 1)])
    }

    @Test("slashes become _, one leading slash goes, and a field that is just / becomes root (collectd's server)")
    func slashes() {
        let (points, _, _) = mapLists([list(plugin: "df", pi: "/", type: "df_complex", ti: "a/b", host: "/crafted/host", [.gauge(1)])])
        #expect(points.first?.tags == [Tag("host", "crafted_host"), Tag("instance", "root"), Tag("type", "df_complex"),
                                      Tag("type_instance", "a_b")])
    }

    @Test("empty instances leave their tags out")
    func emptyInstances() {
        let (points, _, _) = mapLists([list(plugin: "uptime", pi: "", type: "uptime", [.gauge(3)])])
        #expect(points.first?.tags == [Tag("host", "web-1"), Tag("type", "uptime")])
    }

    // MARK: store_rates

    @Test("store_rates: the first COUNTER/DERIVE sample gives no rate, later ones the difference per second")
    func deriveRates() {
        let (points, rejections, stats) = mapLists([
            list(plugin: "exec", pi: "", type: "derive", seconds: 100, [.derive(1000)]),
            list(plugin: "exec", pi: "", type: "derive", seconds: 110, [.derive(1500)]),
        ], storeRates: true)
        #expect(stats.firstSamples == 1)
        #expect(rejections.isEmpty)
        #expect(points.map { $0.field("value") } == [.float(50)])
    }

    @Test("store_rates: COUNTER wraps at 2^32 when the old value fits in 32 bits, else at 2^64")
    func counterWraps() {
        let wrap32 = mapLists([
            list(plugin: "exec", pi: "", type: "counter", seconds: 100, [.counter(4_294_967_100)]),
            list(plugin: "exec", pi: "", type: "counter", seconds: 101, [.counter(100)]),
        ], storeRates: true)
        #expect(wrap32.points.first?.field("value") == .float(296))
        let wrap64 = mapLists([
            list(plugin: "exec", pi: "", type: "counter", seconds: 100, [.counter(UInt64.max - 9)]),
            list(plugin: "exec", pi: "", type: "counter", seconds: 102, [.counter(10)]),
        ], storeRates: true)
        #expect(wrap64.points.first?.field("value") == .float(10))
    }

    @Test("store_rates: DERIVE is signed; a rate below the types.db minimum gives no point")
    func deriveNegative() {
        let lists = [
            list(plugin: "exec", pi: "", type: "derive", seconds: 100, [.derive(1000)]),
            list(plugin: "exec", pi: "", type: "derive", seconds: 101, [.derive(-3)]),
        ]
        let bounded = mapLists(lists, storeRates: true)
        #expect(bounded.points.isEmpty)
        #expect(bounded.rejections.map(\.reason) == [.rateOutOfRange(type: "derive", dsName: "value")])
        let unbounded = mapLists(lists, storeRates: true, typesDB: try! TypesDB(parsing: "derive value:DERIVE:U:U"))
        #expect(unbounded.points.first?.field("value") == .float(-1003))
    }

    @Test("store_rates: ABSOLUTE is divided by the interval at first, then by the time since the previous sample")
    func absoluteRates() {
        let (points, _, _) = mapLists([
            list(plugin: "exec", pi: "", type: "absolute", seconds: 100, interval: 2, [.absolute(10)]),
            list(plugin: "exec", pi: "", type: "absolute", seconds: 104, interval: 2, [.absolute(10)]),
        ], storeRates: true)
        #expect(points.map { $0.field("value") } == [.float(5), .float(2.5)])
    }

    @Test("store_rates: a sample not newer than the previous gives no rate; gauges stay as they are")
    func notNewerAndGauges() {
        let (points, rejections, _) = mapLists([
            list(plugin: "exec", pi: "", type: "derive", seconds: 100, [.derive(1)]),
            list(plugin: "exec", pi: "", type: "derive", seconds: 100, [.derive(5)]),
            list(plugin: "exec", pi: "", type: "gauge", seconds: 100, [.gauge(7)]),
        ], storeRates: true)
        #expect(points.map { $0.field("value") } == [.float(7)])
        #expect(rejections.map(\.reason) == [.rateNotNewer(type: "derive")])
    }

    @Test("store_rates: series are separate, and prune forgets series not seen since a time")
    func rateSeriesArePerIdentifier() {
        var mapper = CollectdPointMapper(typesDB: Fixtures.typesDB, storeRates: true)
        var points: [Point] = []
        var rejections: [CollectdRejection] = []
        var stats = CollectdMappingStats()
        for (ti, seconds, value) in [("a", 100.0, Int64(0)), ("b", 100, 0), ("a", 101, 10), ("b", 102, 10)] {
            mapper.map(list(plugin: "exec", pi: "", type: "derive", ti: ti, seconds: seconds, [.derive(value)]),
                       into: &points, rejections: &rejections, stats: &stats)
        }
        #expect(points.map { $0.field("value") } == [.float(10), .float(5)])
        #expect(mapper.rateSeriesCount == 2)
        #expect(mapper.pruneRates(before: UInt64(102 * 1_073_741_824)) == 1)
        #expect(mapper.rateSeriesCount == 1)
    }
}

@Suite("types.db")
struct TypesDBTests {
    @Test("entries list data sources separated by commas or white space, with U for unbounded")
    func parsing() throws {
        let db = try TypesDB(parsing: """
            # comment
            if_octets  rx:DERIVE:0:U, tx:DERIVE:0:U
            ib_octets  rx:DERIVE:0:U tx:DERIVE:0:U   # trailing comment
            percent    value:GAUGE:0:100.1

            """)
        #expect(db["if_octets"]?.map(\.name) == ["rx", "tx"])
        #expect(db["ib_octets"]?.map(\.name) == ["rx", "tx"])
        #expect(db["percent"] == [CollectdDataSource(name: "value", type: .gauge, min: 0, max: 100.1)])
        #expect(db["if_octets"]?.first?.max == nil)
        #expect(db["nosuch"] == nil)
    }

    @Test("several files merge; a type defined again is replaced")
    func merging() throws {
        var db = try TypesDB(parsing: "a value:GAUGE:U:U\nb value:GAUGE:U:U")
        try db.merge(parsing: "b x:DERIVE:0:U, y:DERIVE:0:U\nc value:COUNTER:U:U", file: "custom.db")
        #expect(db["a"]?.count == 1)
        #expect(db["b"]?.map(\.name) == ["x", "y"])
        #expect(db["c"]?.first?.type == .counter)
    }

    @Test("syntax errors name the file and line", arguments: [
        ("lonely", "type 'lonely' has no data sources"),
        ("t value:GAUGE:0", "data source 'value:GAUGE:0' of type 't' is not name:TYPE:min:max"),
        ("t value:FLOAT:0:U", "unknown data source type 'FLOAT' in type 't'"),
        ("t value:GAUGE:zero:U", "bad bound 'zero' in type 't' (a number or U)"),
    ])
    func syntaxErrors(line: String, message: String) {
        #expect(throws: CollectdConfigurationError.typesDBSyntax(file: "my.db", line: 2, message: message)) {
            try TypesDB(parsing: "ok value:GAUGE:U:U\n" + line, file: "my.db")
        }
    }

    @Test("collectd's own types.db parses completely")
    func collectdTypesDB() {
        #expect(Fixtures.typesDB.types.count > 300)
        #expect(Fixtures.typesDB["load"]?.map(\.name) == ["shortterm", "midterm", "longterm"])
        #expect(Fixtures.typesDB["mysql_qcache"]?.map(\.type) == [.counter, .counter, .counter, .counter, .gauge])
    }
}

@Suite("collectd straight to line protocol")
struct CollectdDirectEncodingTests {
    /// Walking datagrams with CollectdLineProtocolWriter must write exactly what
    /// LineProtocolEncoder writes for the points of decode + map.
    func bothWays(_ datagrams: [[UInt8]], schema: CollectdSchema, storeRates: Bool = false) -> (String, String) {
        let decoder = try! CollectdPacketDecoder()
        var viaPoints = CollectdPointMapper(typesDB: Fixtures.typesDB, schema: schema, storeRates: storeRates)
        var writer = CollectdLineProtocolWriter(
            mapper: CollectdPointMapper(typesDB: Fixtures.typesDB, schema: schema, storeRates: storeRates))
        var points: [Point] = []
        var r1: [CollectdRejection] = [], walkRejections: [CollectdRejection] = []
        var s1 = CollectdMappingStats()
        for datagram in datagrams {
            let output = decoder.decode(datagram)
            r1 += output.rejections
            for list in output.valueLists { viaPoints.map(list, into: &points, rejections: &r1, stats: &s1) }
            writer.startDatagram()
            datagram.withUnsafeBytes { decoder.walk($0, visitor: &writer, rejections: &walkRejections) }
        }
        #expect(Set(r1) == Set(walkRejections + writer.rejections))
        #expect(s1 == writer.stats)
        var viaPointsBytes: [UInt8] = []
        let viaPointsReport = LineProtocolEncoder().encode(points, into: &viaPointsBytes)
        #expect(writer.report.points == viaPointsReport.points)
        return (String(decoding: viaPointsBytes, as: UTF8.self), String(decoding: writer.buffer.bytes, as: UTF8.self))
    }

    @Test("the corpus gives the same bytes both ways", arguments: CollectdSchema.allCases, [false, true])
    func corpus(schema: CollectdSchema, storeRates: Bool) {
        let datagrams = Fixtures.files(in: Fixtures.collectd + "/capture/plain", suffix: ".bin").map(Fixtures.bytes)
            + Fixtures.files(in: Fixtures.collectd + "/bad", suffix: ".bin").map(Fixtures.bytes)
        let (viaPoints, direct) = bothWays(datagrams, schema: schema, storeRates: storeRates)
        #expect(direct == viaPoints)
        #expect(direct.utf8.count > 100_000)
    }

    @Test("names that need rewrites or escapes, unknown types, wrong counts and repeats give the same bytes (seeded)")
    func randomLists() {
        let seed = UInt64.random(in: 0...UInt64.max)
        var random = SplitMix64(seed: seed)
        let names = ["cpu", "a b", "x,y", "k=v", "time", "tail\\", "new\nline", "#hash", "", "/", "/a/b", "if_octets", "load",
                     "gauge", "é", "\t"]
        for _ in 0..<propertyIterations(default: 200) {
            let lists = (0..<40).map { _ -> CollectdValueList in
                let type = ["if_octets", "load", "gauge", "nosuch", "time", "a b"].randomElement(using: &random)!
                return CollectdValueList(
                    host: names.randomElement(using: &random)!, plugin: names.randomElement(using: &random)!,
                    pluginInstance: names.randomElement(using: &random)!, type: type,
                    typeInstance: names.randomElement(using: &random)!, time: UInt64.random(in: 1...(1 << 60), using: &random),
                    values: (0..<Int.random(in: 1...3, using: &random)).map { _ in
                        switch Int.random(in: 0...3, using: &random) {
                        case 0: return .gauge(Double.random(in: -1e9...1e9, using: &random))
                        case 1: return .gauge([Double.nan, .infinity, 0.1, -0.0].randomElement(using: &random)!)
                        case 2: return .counter(random.next())
                        default: return .derive(Int64.random(in: -1000...1000, using: &random))
                        }
                    })
            }
            let datagrams = CollectdPacketEncoder(maxPacketSize: 600).encode(lists)
            for schema in CollectdSchema.allCases {
                let (viaPoints, direct) = bothWays(datagrams, schema: schema)
                #expect(direct == viaPoints, "seed \(seed)")
            }
        }
    }

    @Test("a forged datagram is taken back out of the writer's buffer")
    func discardedDatagram() {
        let decoder = try! CollectdPacketDecoder(authFile: relayAuth, cryptography: crypto)
        var writer = CollectdLineProtocolWriter(mapper: CollectdPointMapper(typesDB: Fixtures.typesDB))
        var rejections: [CollectdRejection] = []
        let good = simpleDatagram(value: 1)
        let forged = simpleDatagram(value: 2)
            + CollectdPacketEncoder.signed(simpleDatagram(value: 3), user: "relay", password: "wrong", cryptography: crypto)
        for datagram in [good, forged] {
            writer.startDatagram()
            datagram.withUnsafeBytes { decoder.walk($0, visitor: &writer, rejections: &rejections) }
        }
        #expect(String(decoding: writer.buffer.bytes, as: UTF8.self) == "p_value,host=h,type=gauge value=1 1700000000000000000\n")
        #expect(writer.report.points == 1)
        #expect(writer.valueLists == 1)
        #expect(rejections.map(\.reason) == [.signatureMismatch(user: "relay")])
        #expect(rejections.first?.values == 1)
    }
}

/// Each receiver thread's writer starts as a copy of its input's one mapper (`readers = N`):
/// the copies must not share the tag segments they rewrite for every value list.
@Suite("collectd mapper copies on several threads")
struct CollectdMapperCopyTests {
    /// A datagram of one value list from `host`.
    static func datagram(host: String, value: Double) -> [UInt8] {
        var writer = CollectdPacketWriter()
        writer.host(host)
        writer.time(seconds: 1_700_000_000)
        writer.plugin("p")
        writer.pluginInstance(host + "-instance")
        writer.type("gauge")
        writer.typeInstance(host + "-ti")
        writer.values([.gauge(value)])
        return writer.bytes
    }

    @Test("a copy of a mapper takes its own tag segments at its first write")
    func copiesStopSharing() {
        let original = CollectdPointMapper(typesDB: Fixtures.typesDB)
        var first = CollectdLineProtocolWriter(mapper: original)
        var second = CollectdLineProtocolWriter(mapper: original)
        #expect(first.mapper.cache.sharesTagSegments(with: second.mapper.cache))
        let decoder = try! CollectdPacketDecoder()
        var rejections: [CollectdRejection] = []
        Self.datagram(host: "a", value: 1).withUnsafeBytes { decoder.walk($0, visitor: &first, rejections: &rejections) }
        Self.datagram(host: "b", value: 2).withUnsafeBytes { decoder.walk($0, visitor: &second, rejections: &rejections) }
        #expect(!first.mapper.cache.sharesTagSegments(with: second.mapper.cache))
        #expect(!first.mapper.cache.sharesTagSegments(with: original.cache))
        #expect(String(decoding: first.buffer.bytes, as: UTF8.self)
                == "p_value,host=a,instance=a-instance,type=gauge,type_instance=a-ti value=1 1700000000000000000\n")
        #expect(String(decoding: second.buffer.bytes, as: UTF8.self)
                == "p_value,host=b,instance=b-instance,type=gauge,type_instance=b-ti value=2 1700000000000000000\n")
    }

    @Test("two threads writing through copies of one mapper each get only their own series")
    func concurrentCopies() async {
        let mapper = CollectdPointMapper(typesDB: Fixtures.typesDB)
        let rounds = 20_000
        // Each thread alternates between two hosts of its own, so every value list rewrites the segments.
        let outputs = await withTaskGroup(of: (String, String).self) { group in
            for name in ["left", "right"] {
                group.addTask {
                    let datagrams = [Self.datagram(host: name + "-1", value: 1), Self.datagram(host: name + "-2", value: 2)]
                    let decoder = try! CollectdPacketDecoder()
                    var writer = CollectdLineProtocolWriter(mapper: mapper)
                    var rejections: [CollectdRejection] = []
                    for round in 0..<rounds {
                        writer.startDatagram()
                        datagrams[round % 2].withUnsafeBytes { decoder.walk($0, visitor: &writer, rejections: &rejections) }
                    }
                    return (name, String(decoding: writer.buffer.bytes, as: UTF8.self))
                }
            }
            var all: [(String, String)] = []
            for await output in group { all.append(output) }
            return all
        }
        for (name, text) in outputs {
            let lines = text.split(separator: "\n")
            #expect(lines.count == rounds)
            let foreign = lines.filter { line in
                let host = line.split(separator: ",")[1]
                let suffix = host.hasSuffix("-1") ? "1" : "2"
                return line != "p_value,\(host),instance=\(host.dropFirst(5))-instance,type=gauge,type_instance=\(host.dropFirst(5))-ti value=\(suffix) 1700000000000000000"
                    || !host.hasPrefix("host=\(name)-")
            }
            #expect(foreign.count == 0, "\(name): \(foreign.count) lines with another thread's pieces, such as \(foreign.prefix(3))")
        }
    }
}
