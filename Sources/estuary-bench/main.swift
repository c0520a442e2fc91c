// Decode-to-line-protocol throughput on one core (`make bench`).
//
// usage: estuary-bench FIXTURES_DIR [SECONDS]
// FIXTURES_DIR holds capture/plain/*.bin, write_graphite-client-tcp.txt and types.db
// (Tests/EstuaryWireTests/Fixtures/collectd). Each workload runs for SECONDS (default 3)
// on the calling thread, after a warm-up pass, and prints values (or lines) per second.
import EstuaryFiles
import EstuaryModel
import EstuaryWire
import Foundation

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    FileHandle.standardError.write(Data("usage: estuary-bench FIXTURES_DIR [SECONDS]\n".utf8))
    exit(2)
}
let fixtures = arguments[1]
let seconds = arguments.count > 2 ? Double(arguments[2]) ?? 3 : 3

let types = try CollectdFiles.loadTypesDB(paths: [fixtures + "/types.db"])
let captureDir = fixtures + "/capture/plain"
let datagrams: [[UInt8]] = try FileManager.default.contentsOfDirectory(atPath: captureDir).sorted()
    .filter { $0.hasSuffix(".bin") }
    .map { [UInt8](try Data(contentsOf: URL(fileURLWithPath: captureDir + "/" + $0))) }
let graphiteText = [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixtures + "/write_graphite-client-tcp.txt")))

func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
}

/// Runs `pass` repeatedly for `seconds` of wall time; returns units per CPU-second and the bytes written.
func measure(_ name: String, unit: String, _ pass: () -> (units: Int, bytes: Int)) {
    _ = pass()  // warm-up
    let startWall = Date()
    let startCPU = cpuSeconds()
    var units = 0
    var bytes = 0
    while Date().timeIntervalSince(startWall) < seconds {
        let r = pass()
        units += r.units
        bytes += r.bytes
    }
    let cpu = cpuSeconds() - startCPU
    let rate = Double(units) / cpu
    print(String(format: "%-44@ %12.0f %@/CPU-s  (%.2f M/s, %d %@, %.1f MB line protocol, %.2f CPU-s)",
                 name as NSString, rate, unit as NSString, rate / 1e6, units, unit as NSString, Double(bytes) / 1e6, cpu))
}

// collectd: decode, map (split), encode, per datagram, as a receiver would.
let collectdDecoder = try CollectdPacketDecoder()
let encoder = LineProtocolEncoder()
var output = CollectdDecodeOutput()
var points: [Point] = []
var rejections: [CollectdRejection] = []
var buffer: [UInt8] = []
buffer.reserveCapacity(1 << 20)
for schema in CollectdSchema.allCases {
    var mapper = CollectdPointMapper(typesDB: types, schema: schema)
    measure("collectd plain capture -> line protocol (\(schema.rawValue))", unit: "values") {
        var values = 0
        var bytes = 0
        var stats = CollectdMappingStats()
        var report = LineProtocolEncodeReport()
        for datagram in datagrams {
            output.removeAll()
            points.removeAll(keepingCapacity: true)
            rejections.removeAll(keepingCapacity: true)
            datagram.withUnsafeBytes { collectdDecoder.decode($0, into: &output) }
            for list in output.valueLists {
                values += list.values.count
                mapper.map(list, into: &points, rejections: &rejections, stats: &stats)
            }
            for point in points { encoder.encode(point, into: &buffer, report: &report) }
            if buffer.count > 1 << 19 {
                bytes += buffer.count
                buffer.removeAll(keepingCapacity: true)
            }
        }
        return (values, bytes + buffer.count)
    }
}

// graphite: the write_graphite capture through the collectd path mapping, and through templates.
let templates = try GraphiteTemplateSet([".host.measurement.field*"])
for collectdPaths in [true, false] {
    let decoder = GraphiteDecoder(
        configuration: GraphiteDecoderConfiguration(collectdPaths: collectdPaths, templates: templates), typesDB: types)
    let label = collectdPaths ? "write_graphite mapping" : "template"
    measure("graphite write_graphite capture -> lp (\(label))", unit: "lines") {
        var graphitePoints: [Point] = []
        var graphiteRejections: [GraphiteRejection] = []
        var stats = GraphiteDecodeStats()
        var report = LineProtocolEncodeReport()
        graphitePoints.reserveCapacity(4096)
        let lines = graphiteText.withUnsafeBytes {
            decoder.decode($0, now: 0, into: &graphitePoints, rejections: &graphiteRejections, stats: &stats)
        }
        buffer.removeAll(keepingCapacity: true)
        for point in graphitePoints { encoder.encode(point, into: &buffer, report: &report) }
        return (lines, buffer.count)
    }
}
