import EstuaryModel
import EstuaryTestSupport
@testable import EstuaryWire
import Testing

func lp(_ point: Point) -> String {
    LineProtocolEncoder().string([point])
}

@Suite("line protocol encoder")
struct LineProtocolEncoderTests {
    static let escapes: [(String, Point, String)] = [
        ("plain", Point(measurement: "cpu", tags: [Tag("host", "a")], fields: [Field("value", .float(1.5))], timestamp: 7),
         "cpu,host=a value=1.5 7\n"),
        ("measurement: comma and space escaped, = kept",
         Point(measurement: "a b,c=d", fields: [Field("v", .integer(1))], timestamp: 1), "a\\ b\\,c=d v=1i 1\n"),
        ("tag keys and values: comma, = and space escaped",
         Point(measurement: "m", tags: [Tag("k y", "v,a=l ue")], fields: [Field("v", .boolean(true))], timestamp: 1),
         "m,k\\ y=v\\,a\\=l\\ ue v=true 1\n"),
        ("field keys: comma, = and space escaped",
         Point(measurement: "m", fields: [Field("f,=x y", .boolean(false))], timestamp: 1), "m f\\,\\=x\\ y=false 1\n"),
        ("strings: quote and backslash escaped",
         Point(measurement: "m", fields: [Field("s", .string("say \"hi\" \\o/"))], timestamp: 1), "m s=\"say \\\"hi\\\" \\\\o/\" 1\n"),
        ("tags sorted by key bytes",
         Point(measurement: "m", tags: [Tag("type", "t"), Tag("host", "h"), Tag("Zeta", "z"), Tag("instance", "i")],
               fields: [Field("v", .float(1))], timestamp: 1), "m,Zeta=z,host=h,instance=i,type=t v=1 1\n"),
        ("integers, unsigned and negative timestamps",
         Point(measurement: "m", fields: [Field("i", .integer(Int64.min)), Field("u", .unsigned(5)),
                                          Field("big", .unsigned(UInt64.max))], timestamp: -5),
         "m i=-9223372036854775808i,u=5i,big=1.8446744073709552e+19 -5\n"),
        ("floats in shortest round-trip form",
         Point(measurement: "m", fields: [Field("a", .float(0.1)), Field("b", .float(1e-300)), Field("c", .float(-2)),
                                          Field("d", .float(1.7976931348623157e308)), Field("e", .float(123456789.125))],
               timestamp: 1),
         "m a=0.1,b=1e-300,c=-2,d=1.7976931348623157e+308,e=123456789.125 1\n"),
        ("UTF-8 and tabs pass through",
         Point(measurement: "m", tags: [Tag("t", "tab\there°C📈")], fields: [Field("v", .float(1))], timestamp: 1),
         "m,t=tab\there°C📈 v=1 1\n"),
    ]

    @Test("escaping per the InfluxDB spec", arguments: escapes)
    func escaping(name: String, point: Point, line: String) {
        #expect(lp(point) == line, "\(name)")
    }

    static let rewrites: [(String, Point, String?)] = [
        ("empty tag values and keys are left out",
         Point(measurement: "m", tags: [Tag("a", ""), Tag("", "b"), Tag("c", "d")], fields: [Field("v", .float(1))], timestamp: 1),
         "m,c=d v=1 1\n"),
        ("NaN and infinite fields are left out",
         Point(measurement: "m", fields: [Field("a", .float(.nan)), Field("b", .float(2)), Field("c", .float(-.infinity))],
               timestamp: 1), "m b=2 1\n"),
        ("a point without a writable field is not written",
         Point(measurement: "m", fields: [Field("a", .float(.nan))], timestamp: 1), nil),
        ("a point without fields is not written", Point(measurement: "m", fields: [], timestamp: 1), nil),
        ("an empty measurement is not written", Point(measurement: "", fields: [Field("v", .float(1))], timestamp: 1), nil),
        ("keys named time become time_",
         Point(measurement: "time", tags: [Tag("time", "x")], fields: [Field("time", .float(1))], timestamp: 1),
         "time,time_=x time_=1 1\n"),
        ("trailing backslashes become _",
         Point(measurement: "m\\", tags: [Tag("k\\", "v\\\\")], fields: [Field("f\\", .float(1))], timestamp: 1),
         "m_,k_=v__ f_=1 1\n"),
        ("inner backslashes stay; one before an escaped byte stays literal",
         Point(measurement: "m", tags: [Tag("k", "a\\b\\,c")], fields: [Field("v", .float(1))], timestamp: 1),
         "m,k=a\\b\\\\,c v=1 1\n"),
        ("newlines in names become _, in strings \\n",
         Point(measurement: "m\nx", tags: [Tag("k", "a\r\nb")], fields: [Field("s", .string("l1\nl2"))], timestamp: 1),
         "m_x,k=a__b s=\"l1\\nl2\" 1\n"),
        ("a measurement starting with # is not a comment",
         Point(measurement: "#m", fields: [Field("v", .float(1))], timestamp: 1), "_m v=1 1\n"),
        ("a leading tab in a measurement or field key would be skipped by InfluxDB",
         Point(measurement: "\tm", fields: [Field("\tv", .float(1))], timestamp: 1), "_m _v=1 1\n"),
        ("duplicate tag keys and field keys: the last wins",
         Point(measurement: "m", tags: [Tag("a", "1"), Tag("b", "x"), Tag("a", "2")],
               fields: [Field("v", .float(1)), Field("w", .float(5)), Field("v", .float(2))], timestamp: 1),
         "m,a=2,b=x v=2,w=5 1\n"),
        ("a rewrite that collides with another key resolves to the last",
         Point(measurement: "m", tags: [Tag("time_", "1"), Tag("time", "2")], fields: [Field("v", .float(1))], timestamp: 1),
         "m,time_=2 v=1 1\n"),
    ]

    @Test("what InfluxDB 1.6.7 would reject is rewritten or left out, and counted", arguments: rewrites)
    func rewritesAndDrops(name: String, point: Point, line: String?) {
        var buffer: [UInt8] = []
        var report = LineProtocolEncodeReport()
        LineProtocolEncoder().encode(point, into: &buffer, report: &report)
        #expect(String(decoding: buffer, as: UTF8.self) == (line ?? ""), "\(name)")
        #expect(report.points == (line == nil ? 0 : 1))
        #expect(report.droppedPoints == (line == nil ? 1 : 0))
    }

    @Test("the report counts each kind of change")
    func reportCounts() {
        let points = [
            Point(measurement: "m", tags: [Tag("a", "")], fields: [Field("v", .float(.nan)), Field("w", .float(1))], timestamp: 1),
            Point(measurement: "m", tags: [Tag("time", "x")], fields: [Field("v", .float(1))], timestamp: 1),
            Point(measurement: "", fields: [Field("v", .float(1))], timestamp: 1),
        ]
        var buffer: [UInt8] = []
        let report = LineProtocolEncoder().encode(points, into: &buffer)
        #expect(report.points == 2)
        #expect(report.droppedPoints == 1)
        #expect(report.droppedTags == 1)
        #expect(report.droppedFields == 1)
        #expect(report.rewrittenNames == 1)
    }

    @Test("parse(encode(p)) == written(p) for random points full of escape-worthy bytes (seeded)")
    func roundTrip() {
        let seed = UInt64.random(in: 0...UInt64.max)
        var random = SplitMix64(seed: seed)
        let alphabet: [String] = ["a", "Z", "=", ",", " ", "\\", "\"", "\n", "\r", "\t", "#", "time", "é", "📈", "_", "0", "\0"]
        func name(_ random: inout SplitMix64) -> String {
            (0..<Int.random(in: 0...5, using: &random)).map { _ in alphabet.randomElement(using: &random)! }.joined()
        }
        let encoder = LineProtocolEncoder()
        let parser = LineProtocolParser()
        for _ in 0..<propertyIterations(default: 5000) {
            let point = Point(
                measurement: name(&random),
                tags: (0..<Int.random(in: 0...4, using: &random)).map { _ in Tag(name(&random), name(&random)) },
                fields: (0..<Int.random(in: 0...4, using: &random)).map { _ -> Field in
                    let value: FieldValue
                    switch Int.random(in: 0...4, using: &random) {
                    case 0: value = .float(Double(bitPattern: random.next()))
                    case 1: value = .integer(Int64(bitPattern: random.next()))
                    case 2: value = .unsigned(random.next())
                    case 3: value = .boolean(Bool.random(using: &random))
                    default: value = .string(name(&random))
                    }
                    return Field(name(&random), value)
                },
                timestamp: Int64(bitPattern: random.next()))
            let text = encoder.string([point])
            let expected = encoder.written(point)
            if text.isEmpty {
                #expect(expected == nil, "seed \(seed): \(point)")
                continue
            }
            let (points, errors) = parser.parse(text)
            #expect(errors.isEmpty, "seed \(seed): \(text) \(errors)")
            #expect(points == [expected].compactMap { $0 }, "seed \(seed): \(text)")
        }
    }
}

@Suite("line protocol parser")
struct LineProtocolParserTests {
    @Test("types, escapes, comments and a missing timestamp")
    func parses() {
        let text = """
            # a comment
            cpu,host=a\\ b,dc=eu value=1.5,n=3i,u=4u,ok=t,s="x \\"y\\"" 1700000000000000000

            m\\,x f=F
            """
        let (points, errors) = LineProtocolParser().parse(text, defaultTimestamp: 99)
        #expect(errors.isEmpty)
        #expect(points == [
            Point(measurement: "cpu", tags: [Tag("host", "a b"), Tag("dc", "eu")],
                  fields: [Field("value", .float(1.5)), Field("n", .integer(3)), Field("u", .unsigned(4)),
                           Field("ok", .boolean(true)), Field("s", .string("x \"y\""))],
                  timestamp: 1_700_000_000_000_000_000),
            Point(measurement: "m,x", fields: [Field("f", .boolean(false))], timestamp: 99),
        ])
    }

    static let bad: [(String, LineProtocolParseError.Reason)] = [
        ("cpu", .missingFields),
        ("cpu,host= v=1", .missingTagValue),
        ("cpu,host v=1", .invalidTag),
        ("cpu v=", .missingFieldValue),
        ("cpu v=1x", .invalidNumber),
        ("cpu v=abc", .invalidBoolean),
        ("cpu v=\"open", .unterminatedString),
        ("cpu v=1 12ab", .invalidTimestamp),
        ("cpu v=1 1\r", .invalidTimestamp),
        ("cpu v=1 1 2", .trailingData),
        (",host=a v=1", .missingMeasurement),
    ]

    @Test("bad lines are reported with their line number and reason", arguments: bad)
    func rejects(line: String, reason: LineProtocolParseError.Reason) {
        let (points, errors) = LineProtocolParser().parse("ok v=1 1\n" + line)
        #expect(points.count == 1)
        #expect(errors.map(\.reason) == [reason])
        #expect(errors.first?.line == 2)
    }
}
