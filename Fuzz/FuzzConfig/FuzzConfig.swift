import EstuaryConfig

/// libFuzzer entry: `EstuaryConfiguration.parse` on arbitrary text. Nothing may trap or hang;
/// a refused file has at least one error, each on a line of the file (when it names one);
/// an accepted one has an input and an output, as the parser promises.
///
/// Inputs naming `targets_file` are skipped: the parser reads that file, and a fuzzer that
/// names `/dev/zero` or a FIFO measures the file system, not the parser.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let text = String(decoding: bytes, as: UTF8.self)
    if text.contains("targets_fil") || text.contains("\\u") || text.contains("\\U") { return 0 }
    let lines = text.utf8.count(where: { $0 == UInt8(ascii: "\n") }) + 1
    do {
        let configuration = try EstuaryConfiguration.parse(text, file: "fuzz.toml")
        let inputs = configuration.collectdInputs.count + configuration.graphiteInputs.count + configuration.snmpInputs.count
        guard inputs > 0, !configuration.influxDBOutputs.isEmpty else {
            fatalError("accepted a configuration without an input or an output: \(text)")
        }
    } catch {
        guard !error.errors.isEmpty else { fatalError("refused with no error: \(text)") }
        for mistake in error.errors {
            if let line = mistake.line, line < 1 || line > lines {
                fatalError("error on line \(line) of a \(lines)-line file: \(mistake)")
            }
            guard !mistake.message.isEmpty else { fatalError("an error without a message: \(mistake)") }
        }
    }
    return 0
}
