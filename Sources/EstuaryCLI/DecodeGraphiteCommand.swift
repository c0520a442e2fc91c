import ArgumentParser
import EstuaryFiles
import EstuaryModel
import EstuaryWire
import Foundation

/// `estuary decode graphite`: decode graphite plaintext lines from standard input.
struct DecodeGraphiteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graphite",
        abstract: "Decode graphite plaintext lines (standard input) into line protocol.",
        discussion: """
            With --collectd, paths that start with the prefix are read as collectd write_graphite \
            paths and become the same series the binary protocol gives; other paths go through the \
            templates. Rejected lines go to standard error (line number, reason), then a summary.
            """)

    @Flag(help: "Read collectd write_graphite paths back into collectd series.")
    var collectd = false

    @Option(name: .customLong("types-db"), help: "A types.db file or folder (repeatable; default \(defaultTypesDBPath)).")
    var typesDB: [String] = []

    @Option(help: "write_graphite Prefix (stuck before the host).")
    var prefix: String = ""

    @Option(help: "write_graphite Postfix (stuck after the host).")
    var postfix: String = ""

    @Option(name: .customLong("escape-character"), help: "write_graphite EscapeCharacter (one character; default _).")
    var escapeCharacter: String = "_"

    @Flag(name: .customLong("separate-instances"), help: "write_graphite SeparateInstances true.")
    var separateInstances = false

    @Flag(name: .customLong("always-append-ds"), help: "write_graphite AlwaysAppendDS true.")
    var alwaysAppendDS = false

    @Flag(name: .customLong("reverse-host"), help: "write_graphite ReverseHost true.")
    var reverseHost = false

    @Flag(name: .customLong("drop-duplicate-fields"), help: "write_graphite DropDuplicateFields true.")
    var dropDuplicateFields = false

    @Option(help: "split or join: the schema collectd paths map to.")
    var schema: CollectdSchema = .split

    @Option(name: .customLong("template"), help: "A graphite template, InfluxDB syntax: '[filter] template [tags]' (repeatable).")
    var templates: [String] = []

    @Option(help: "Separator joining several measurement or tag parts of a template.")
    var separator: String = "."

    @Option(name: .customLong("max-line-length"), help: "Longer lines are rejected.")
    var maxLineLength: Int = 16384

    func validate() throws {
        if escapeCharacter.utf8.count != 1 {
            throw ValidationError("--escape-character must be a single ASCII character, got '\(escapeCharacter)'")
        }
        if maxLineLength < 1 { throw ValidationError("--max-line-length must be positive") }
    }

    func run() throws {
        var stderr = OutputStream.standardError()
        var stdout = OutputStream.standardOutput()
        let types = collectd ? try loadTypesDB(typesDB, stderr: &stderr) : TypesDB()
        let templateSet: GraphiteTemplateSet
        do {
            templateSet = try GraphiteTemplateSet(templates, separator: separator)
        } catch {
            throw RuntimeError("--template: \(error)")
        }
        let options = WriteGraphiteOptions(prefix: prefix, postfix: postfix, escapeCharacter: escapeCharacter.utf8.first!,
                                           separateInstances: separateInstances, alwaysAppendDS: alwaysAppendDS,
                                           reverseHost: reverseHost, dropDuplicateFields: dropDuplicateFields)
        let decoder = GraphiteDecoder(
            configuration: GraphiteDecoderConfiguration(collectdPaths: collectd, writeGraphite: options, schema: schema,
                                                        templates: templateSet, maxLineLength: maxLineLength),
            typesDB: types)
        let input = FileHandle.standardInput.readDataToEndOfFile()
        let now = Int64((Date().timeIntervalSince1970 * 1e9).rounded())
        var writer = GraphiteLineProtocolWriter(decoder: decoder)
        var buffer: [UInt8] = []
        let lines = input.withUnsafeBytes { writer.decode($0, now: now, into: &buffer) }
        var rejected = ReasonCounts()
        for rejection in writer.rejections {
            rejected.add(rejection.reason.code)
            stderr.line("line \(rejection.line): \(rejection.reason) [\(rejection.reason.code)]")
        }
        stdout.write(buffer)
        stdout.flush()
        stderr.line("""
            decoded \(lines) line(s): \(writer.report.points) point(s) (collectd paths \(writer.stats.collectdPaths), \
            templates \(writer.stats.templatePaths)); unknown types \(writer.stats.unknownType); rejected: \(rejected.summary)
            """)
        stderr.flush()
    }
}
