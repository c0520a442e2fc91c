// Decode-to-line-protocol throughput on one core (`make bench`).
//
// usage: estuary-bench FIXTURES_DIR [SECONDS [ONLY]]
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
// SECONDS may also be `xN`: exactly N passes (for instruction counts under callgrind).
let seconds = arguments.count > 2 ? Double(arguments[2]) ?? 3 : 3
let fixedPasses = arguments.count > 2 && arguments[2].hasPrefix("x") ? Int(arguments[2].dropFirst()) : nil
/// Only workloads whose name contains this run (for profiling one of them).
let only = arguments.count > 3 ? arguments[3] : ""

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
    if !only.isEmpty && !name.contains(only) { return }
    _ = pass()  // warm-up
    let startWall = Date()
    let startCPU = cpuSeconds()
    var units = 0
    var bytes = 0
    var passes = 0
    while fixedPasses.map({ passes < $0 }) ?? (Date().timeIntervalSince(startWall) < seconds) {
        let r = pass()
        units += r.units
        bytes += r.bytes
        passes += 1
    }
    let cpu = cpuSeconds() - startCPU
    let rate = Double(units) / cpu
    print(String(format: "%-44@ %12.0f %@/CPU-s  (%.2f M/s, %d %@, %.1f MB line protocol, %.2f CPU-s)",
                 name as NSString, rate, unit as NSString, rate / 1e6, units, unit as NSString, Double(bytes) / 1e6, cpu))
}

// Each workload keeps its state in locals of a function: globals would add Swift's
// run-time exclusivity checks to every access.

/// collectd stages alone: decode only, then decode and map, to see where the time goes.
func collectdStages() throws {
    let decoder = try CollectdPacketDecoder()
    var output = CollectdDecodeOutput()
    measure("collectd plain capture: decode only", unit: "values") {
        var values = 0
        for datagram in datagrams {
            output.removeAll()
            datagram.withUnsafeBytes { decoder.decode($0, into: &output) }
            for list in output.valueLists { values += list.values.count }
        }
        return (values, 0)
    }
    var mapper = CollectdPointMapper(typesDB: types)
    var points: [Point] = []
    var rejections: [CollectdRejection] = []
    measure("collectd plain capture: decode + map to points (split)", unit: "values") {
        var values = 0
        var stats = CollectdMappingStats()
        for datagram in datagrams {
            output.removeAll()
            points.removeAll(keepingCapacity: true)
            rejections.removeAll(keepingCapacity: true)
            datagram.withUnsafeBytes { decoder.decode($0, into: &output) }
            for list in output.valueLists {
                values += list.values.count
                mapper.map(list, into: &points, rejections: &rejections, stats: &stats)
            }
        }
        return (values, 0)
    }
}

/// collectd: decode and write line protocol, per datagram, as a receiver does.
func collectdToLineProtocol(schema: CollectdSchema) throws {
    let decoder = try CollectdPacketDecoder()
    var writer = CollectdLineProtocolWriter(mapper: CollectdPointMapper(typesDB: types, schema: schema))
    var rejections: [CollectdRejection] = []
    measure("collectd plain capture -> line protocol (\(schema.rawValue))", unit: "values") {
        let valuesBefore = writer.values
        var bytes = 0
        for datagram in datagrams {
            rejections.removeAll(keepingCapacity: true)
            writer.rejections.removeAll(keepingCapacity: true)
            writer.startDatagram()
            datagram.withUnsafeBytes { decoder.walk($0, visitor: &writer, rejections: &rejections) }
            if writer.buffer.count > 1 << 19 {
                bytes += writer.buffer.count
                writer.buffer.removeAll()
            }
        }
        bytes += writer.buffer.count
        writer.buffer.removeAll()
        return (writer.values - valuesBefore, bytes)
    }
}

/// graphite: the write_graphite capture through the collectd path mapping, or through templates.
func graphiteToLineProtocol(collectdPaths: Bool, text: @autoclosure () -> [UInt8] = graphiteText, label extra: String = "") throws {
    let templates = try GraphiteTemplateSet([".host.measurement.field*"])
    let decoder = GraphiteDecoder(
        configuration: GraphiteDecoderConfiguration(collectdPaths: collectdPaths, templates: templates), typesDB: types)
    var writer = GraphiteLineProtocolWriter(decoder: decoder)
    let buffer = ByteBuffer(capacity: 1 << 20)
    let label = (collectdPaths ? "write_graphite mapping" : "template") + extra
    let name = "graphite write_graphite capture -> lp (\(label))"
    if !only.isEmpty && !name.contains(only) { return }
    let text = text()
    measure(name, unit: "lines") {
        writer.rejections.removeAll(keepingCapacity: true)
        var lines = 0, bytes = 0
        var start = 0
        // In slices of about 1 MiB, as a receiver's reads would come.
        text.withUnsafeBytes { all in
            while start < all.count {
                var end = min(all.count, start + (1 << 20))
                while end < all.count && all[end - 1] != UInt8(ascii: "\n") { end += 1 }
                buffer.removeAll()
                lines += writer.decode(UnsafeRawBufferPointer(rebasing: all[start..<end]), now: 0, into: buffer)
                bytes += buffer.count
                start = end
            }
        }
        return (lines, bytes)
    }
}

/// One interval of the capture (each of its paths once) as if `hosts` hosts had sent it
/// (`<host>-<n>.plugin...`): far more distinct paths than the writer's path cache holds,
/// visited in a cycle, so that it misses: its worst case.
func manyHosts(_ hosts: Int) -> [UInt8] {
    // The last line of each path (the first ones of counters are `nan`, which is skipped).
    var order: [ArraySlice<UInt8>] = []
    var last: [ArraySlice<UInt8>: ArraySlice<UInt8>] = [:]
    for line in graphiteText.split(separator: UInt8(ascii: "\n")) {
        guard let space = line.firstIndex(of: UInt8(ascii: " ")) else { continue }
        if last.updateValue(line, forKey: line[..<space]) == nil { order.append(line[..<space]) }
    }
    let interval = order.compactMap { path -> (host: ArraySlice<UInt8>, rest: ArraySlice<UInt8>)? in
        guard let line = last[path], let dot = line.firstIndex(of: UInt8(ascii: ".")) else { return nil }
        return (line[..<dot], line[dot...])
    }
    var text: [UInt8] = []
    for host in 0..<hosts {
        let suffix = Array("-\(host)".utf8)
        for (name, rest) in interval {
            text.append(contentsOf: name)
            text.append(contentsOf: suffix)
            text.append(contentsOf: rest)
            text.append(UInt8(ascii: "\n"))
        }
    }
    return text
}

try collectdStages()
for schema in CollectdSchema.allCases { try collectdToLineProtocol(schema: schema) }
for collectdPaths in [true, false] { try graphiteToLineProtocol(collectdPaths: collectdPaths) }
try graphiteToLineProtocol(collectdPaths: true, text: manyHosts(2000), label: ", 2,000 hosts: every path new to the cache")
