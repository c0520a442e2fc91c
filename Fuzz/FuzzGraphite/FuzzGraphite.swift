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

/// libFuzzer entry: decode the input as graphite plaintext with several option sets and
/// encode the points; nothing may trap or hang.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGraphite(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    var sink = 0
    for decoder in fuzzDecoders {
        var points: [Point] = []
        var rejections: [GraphiteRejection] = []
        var stats = GraphiteDecodeStats()
        decoder.decode(bytes, now: 1_700_000_000_000_000_000, into: &points, rejections: &rejections, stats: &stats)
        var buffer: [UInt8] = []
        sink &+= LineProtocolEncoder().encode(points, into: &buffer).points &+ rejections.count &+ buffer.count
    }
    return sink == -1 ? 1 : 0
}
