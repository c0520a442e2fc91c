import EstuaryModel
import EstuaryWire

/// libFuzzer entry: graphite templates from arbitrary text. The input is read as lines: the
/// first is the separator, the lines up to the first empty one are template entries (at
/// most 16), the rest are metric paths. The set is compiled (a bad entry must be refused
/// with an error, never trap); when it compiles, every path is applied, as bytes and as a
/// string, and the results must be the documented ones: the same both ways, tags sorted by
/// key with no empty value, and a point that encodes to line protocol.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTemplates(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { Array($0) }
    guard !lines.isEmpty else { return 0 }
    let separator = String(decoding: lines.removeFirst().prefix(4), as: UTF8.self)
    var entries: [String] = []
    while let line = lines.first, !line.isEmpty, entries.count < 16 {
        entries.append(String(decoding: line, as: UTF8.self))
        lines.removeFirst()
    }
    let set: GraphiteTemplateSet
    do {
        set = try GraphiteTemplateSet(entries, separator: separator)
    } catch {
        // A refusal names the entry it is about.
        guard error.index >= 0, error.index < max(entries.count, 1), !error.description.isEmpty else {
            fatalError("template error with a bad index \(error.index) for \(entries.count) entries: \(error)")
        }
        return 0
    }
    var sink = 0
    for path in lines.dropFirst() {
        let result = path.withUnsafeBytes { set.apply($0) }
        if let text = String(validating: path, as: UTF8.self) {
            let again = set.apply(text)
            guard again == result else { fatalError("bytes and string give different results for \(path): \(result) / \(again)") }
        }
        for (a, b) in zip(result.tags, result.tags.dropFirst()) where a.key > b.key {
            fatalError("tags not sorted by key: \(result.tags)")
        }
        if let empty = result.tags.first(where: { $0.value.isEmpty }) {
            fatalError("a tag with an empty value: \(empty) in \(result)")
        }
        let point = Point(measurement: result.measurement, tags: result.tags, fields: [Field(result.field, .float(1))],
                          timestamp: 1_700_000_000_000_000_000)
        var buffer: [UInt8] = []
        sink &+= LineProtocolEncoder().encode([point], into: &buffer).points &+ buffer.count
    }
    return sink == -1 ? 1 : 0
}
