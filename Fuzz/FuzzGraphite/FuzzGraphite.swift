import EstuaryModel
import EstuaryWire

let fuzzTypes = try! TypesDB(parsing: """
    load shortterm:GAUGE:0:5000, midterm:GAUGE:0:5000, longterm:GAUGE:0:5000
    if_octets rx:DERIVE:0:U, tx:DERIVE:0:U
    cpu value:DERIVE:0:U
    percent value:GAUGE:0:100.1
    memory value:GAUGE:0:281474976710656
    """)
let fuzzTemplates = try! GraphiteTemplateSet([
    "servers.* .host.measurement*",
    "cpu.*.idle .measurement.host.field env=prod",
    "*.*.*.* .host.measurement.field*",
    "measurement.measurement.region",
])
let fuzzDecoders: [GraphiteDecoder] = [
    WriteGraphiteOptions(),
    WriteGraphiteOptions(prefix: "collectd.", postfix: ".x", separateInstances: true, alwaysAppendDS: true),
    WriteGraphiteOptions(escapeCharacter: UInt8(ascii: "-"), reverseHost: true, dropDuplicateFields: true),
].map {
    GraphiteDecoder(configuration: GraphiteDecoderConfiguration(collectdPaths: true, writeGraphite: $0,
                                                                templates: fuzzTemplates, maxLineLength: 512),
                    typesDB: fuzzTypes)
} + [GraphiteDecoder(configuration: GraphiteDecoderConfiguration(templates: fuzzTemplates), typesDB: fuzzTypes)]

/// The receivers' writers, one per option set, kept from input to input as a receiver keeps
/// them from read to read (their caches of types, names and paths included).
nonisolated(unsafe) var fuzzWriters = fuzzDecoders.map { GraphiteLineProtocolWriter(decoder: $0) }

/// libFuzzer entry: decode the input as graphite plaintext with several option sets and
/// encode the points, and write it straight to line protocol as the receivers do; nothing
/// may trap or hang, and both ways must give the same number of lines.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGraphite(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    var sink = 0
    for (index, decoder) in fuzzDecoders.enumerated() {
        var points: [Point] = []
        var rejections: [GraphiteRejection] = []
        var stats = GraphiteDecodeStats()
        decoder.decode(bytes, now: 1_700_000_000_000_000_000, into: &points, rejections: &rejections, stats: &stats)
        var buffer: [UInt8] = []
        let encoded = LineProtocolEncoder().encode(points, into: &buffer).points
        sink &+= encoded &+ rejections.count &+ buffer.count

        let before = fuzzWriters[index].report.points
        var direct: [UInt8] = []
        fuzzWriters[index].decode(bytes, now: 1_700_000_000_000_000_000, into: &direct)
        fuzzWriters[index].rejections.removeAll(keepingCapacity: true)
        let written = fuzzWriters[index].report.points - before
        if written != encoded {
            fatalError("option set \(index): the writer wrote \(written) lines, decoder and encoder \(encoded)")
        }
        sink &+= direct.count
    }
    return sink == -1 ? 1 : 0
}
