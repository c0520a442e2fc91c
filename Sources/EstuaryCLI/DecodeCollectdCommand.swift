import ArgumentParser
import EstuaryCrypto
import EstuaryFiles
import EstuaryModel
import EstuaryWire
import Foundation

/// The types.db collectd installs; used when no `--types-db` is given.
let defaultTypesDBPath = "/usr/share/collectd/types.db"

extension CollectdSecurityLevel: ExpressibleByArgument {
    public init?(argument: String) {
        guard let level = try? CollectdSecurityLevel(parsing: argument) else { return nil }
        self = level
    }
}

extension CollectdSchema: ExpressibleByArgument {}

/// `estuary decode collectd`: decode captured collectd datagrams, one per file, in order.
struct DecodeCollectdCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collectd",
        abstract: "Decode collectd network datagrams (one per file) into line protocol.",
        discussion: """
            Prints the points on standard output, one line per rejected part or value on standard \
            error (file, byte offset, reason) and a count summary last. Exits 0 when it ran, even \
            if some input was rejected.
            """)

    @Option(name: .customLong("types-db"), help: "A types.db file or folder (repeatable; default \(defaultTypesDBPath)).")
    var typesDB: [String] = []

    @Option(name: .customLong("auth-file"), help: "collectd AuthFile (user: password lines) for signed and encrypted data.")
    var authFile: String?

    @Option(name: .customLong("security-level"), help: "none, sign or encrypt: what a value list must be to be accepted.")
    var securityLevel: CollectdSecurityLevel = .none

    @Option(help: "split (measurement <plugin>_<ds>) or join (measurement <plugin>, a field per data source).")
    var schema: CollectdSchema = .split

    @Flag(name: .customLong("store-rates"), help: "Convert COUNTER, DERIVE and ABSOLUTE values to per-second rates.")
    var storeRates = false

    @Argument(help: "Datagram files, decoded in the order given.")
    var files: [String]

    func validate() throws {
        if securityLevel != .none && authFile == nil {
            throw ValidationError("--security-level \(securityLevel.rawValue) needs --auth-file")
        }
        if files.isEmpty { throw ValidationError("no datagram files given") }
    }

    func run() throws {
        var stderr = OutputStream.standardError()
        var stdout = OutputStream.standardOutput()
        let types = try loadTypesDB(typesDB, stderr: &stderr)
        let auth = try authFile.map { try CollectdFiles.loadAuthFile(path: $0) }
        let decoder = try CollectdPacketDecoder(securityLevel: securityLevel, authFile: auth,
                                                cryptography: auth == nil ? nil : LibcryptoCollectdCryptography())
        // The receivers' path: walk each datagram and write line protocol from its bytes.
        var writer = CollectdLineProtocolWriter(mapper: CollectdPointMapper(typesDB: types, schema: schema,
                                                                            storeRates: storeRates))
        var rejected = ReasonCounts()
        var walkRejections: [CollectdRejection] = []
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw RuntimeError("\(file): cannot be read")
            }
            walkRejections.removeAll(keepingCapacity: true)
            writer.rejections.removeAll(keepingCapacity: true)
            writer.buffer.removeAll()
            writer.startDatagram()
            data.withUnsafeBytes { decoder.walk($0, visitor: &writer, rejections: &walkRejections) }
            for rejection in (walkRejections + writer.rejections).sorted(by: { $0.offset < $1.offset }) {
                rejected.add(rejection.reason.code)
                stderr.line("\(file): offset \(rejection.offset): \(rejection.reason) [\(rejection.reason.code)]")
            }
            stdout.write(writer.buffer.bytes)
        }
        stdout.flush()
        stderr.line("""
            decoded \(files.count) datagram(s): \(writer.valueLists) value list(s), \(writer.values) value(s), \
            \(writer.notifications) notification(s), \(writer.report.points) point(s); \
            unknown types \(writer.stats.unknownType); rejected: \(rejected.summary)
            """)
        stderr.flush()
    }
}

/// Loads the types.db files given, or collectd's default one when none is given.
func loadTypesDB(_ paths: [String], stderr: inout OutputStream) throws -> TypesDB {
    if paths.isEmpty {
        if FileManager.default.fileExists(atPath: defaultTypesDBPath) {
            return try CollectdFiles.loadTypesDB(paths: [defaultTypesDBPath])
        }
        stderr.line("warning: \(defaultTypesDBPath) not found and no --types-db given: every type is unknown")
        return TypesDB()
    }
    return try CollectdFiles.loadTypesDB(paths: paths)
}
