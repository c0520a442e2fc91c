import EstuaryWire
import Foundation

/// A file named in the configuration could not be read.
public struct FileReadError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String

    public var description: String { "\(path): \(message)" }
}

/// Reads the collectd files a configuration names: types.db files or folders of them
/// (merged in the order given, a folder's files in name order, as InfluxDB reads a
/// types.db folder) and AuthFiles.
public enum CollectdFiles {
    /// Loads and merges types.db files and folders. A later definition of a type wins.
    public static func loadTypesDB(paths: [String]) throws -> TypesDB {
        var db = TypesDB()
        for path in paths {
            for file in try expand(path) {
                try db.merge(parsing: readText(file), file: file)
            }
        }
        return db
    }

    /// Loads an AuthFile (`user: password` lines).
    public static func loadAuthFile(path: String) throws -> CollectdAuthFile {
        try CollectdAuthFile(parsing: readText(path))
    }

    /// A file itself, or every regular file below a folder, sorted by path.
    static func expand(_ path: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw FileReadError(path: path, message: "no such file or folder")
        }
        guard isDirectory.boolValue else { return [path] }
        guard let enumerator = FileManager.default.enumerator(atPath: path) else {
            throw FileReadError(path: path, message: "cannot list the folder")
        }
        var files: [String] = []
        for case let relative as String in enumerator {
            let full = (path as NSString).appendingPathComponent(relative)
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: full, isDirectory: &isFolder), !isFolder.boolValue {
                files.append(full)
            }
        }
        return files.sorted()
    }

    static func readText(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FileReadError(path: path, message: "cannot be read")
        }
        return String(decoding: data, as: UTF8.self)
    }
}
