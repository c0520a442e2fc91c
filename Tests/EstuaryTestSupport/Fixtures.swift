import EstuaryModel
import EstuaryWire
import Foundation

/// The golden fixtures under Tests/EstuaryWireTests/Fixtures, found from this file's path
/// (tests run from the source tree; they never read anything outside the repository).
public enum Fixtures {
    /// Line protocol for throughput measurements: `batches` texts of `lines` lines each, every
    /// line its own point (hosts and types cycling through 97 and 101 names, four fields, its
    /// own nanosecond).
    public static func benchLineProtocol(batches: Int, lines: Int) -> [[UInt8]] {
        (0..<batches).map { i in
            var text = ""
            for j in 0..<lines {
                let n = i * lines + j
                text += "bench,host=h\(n % 97),type=t\(n % 101) a=\(n),b=\(Double(n) / 3),c=\(n % 7)i,d=\(n * 2) \(1_700_000_000_000_000_000 + n)\n"
            }
            return Array(text.utf8)
        }
    }

    public static let root: String = {
        let here = URL(fileURLWithPath: #filePath)
        return here.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("EstuaryWireTests/Fixtures").path
    }()

    public static let collectd = root + "/collectd"

    /// A recorded walk (snmpsim's .snmprec) of a 48-port switch with 2 uplinks, a VLAN and a
    /// port-channel: system group, ifTable and ifXTable.
    public static var switch48: SNMPRecording {
        let here = URL(fileURLWithPath: #filePath)
        let path = here.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("EstuarySNMPIntegrationTests/Fixtures/switch48.snmprec").path
        return SNMPRecording(text: text(path))
    }

    public static func bytes(_ path: String) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            fatalError("fixture missing: \(path)")
        }
        return [UInt8](data)
    }

    public static func text(_ path: String) -> String {
        String(decoding: bytes(path), as: UTF8.self)
    }

    /// The files of a folder with a given suffix, sorted by name (full paths).
    public static func files(in folder: String, suffix: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.filter { $0.hasSuffix(suffix) }.sorted().map { folder + "/" + $0 }
    }

    /// Points of a line-protocol golden file; fails loudly on a line that does not parse.
    public static func points(lineProtocol path: String) -> [Point] {
        let (points, errors) = LineProtocolParser().parse(text(path))
        precondition(errors.isEmpty, "golden file \(path) does not parse: \(errors.prefix(3))")
        return points
    }

    public static let typesDB: TypesDB = {
        do {
            return try TypesDB(parsing: text(collectd + "/types.db"))
        } catch {
            fatalError("fixture types.db does not parse: \(error)")
        }
    }()

    public static let authFile: CollectdAuthFile = {
        do {
            return try CollectdAuthFile(parsing: text(collectd + "/authfile"))
        } catch {
            fatalError("fixture authfile does not parse: \(error)")
        }
    }()
}
