/// One data source of a types.db entry: its name, type and the range a value (or rate) may take.
public struct CollectdDataSource: Sendable, Hashable {
    public var name: String
    public var type: CollectdDSType
    /// Lower bound, or nil for `U` (unbounded).
    public var min: Double?
    /// Upper bound, or nil for `U` (unbounded).
    public var max: Double?

    public init(name: String, type: CollectdDSType, min: Double? = nil, max: Double? = nil) {
        self.name = name
        self.type = type
        self.min = min
        self.max = max
    }
}

/// collectd's types.db: for each type name, its data sources in order. The data-source
/// names are not on the wire; they come from here, and so does the number of values a
/// value list of that type must carry.
///
/// Format (collectd's `types.db(5)`): one type per line, `name ds[, ds...]` where each ds
/// is `ds_name:GAUGE|DERIVE|COUNTER|ABSOLUTE:min:max`, separated by commas or white space,
/// and min/max are numbers or `U`.
/// `#` starts a comment. Several files merge; a later definition of a type replaces an earlier one.
public struct TypesDB: Sendable {
    public private(set) var types: [String: [CollectdDataSource]] = [:]

    public init() {}

    /// Parses one types.db text; `file` names it in errors.
    public init(parsing text: String, file: String = "types.db") throws(CollectdConfigurationError) {
        try merge(parsing: text, file: file)
    }

    /// Adds the types of another types.db text, replacing types defined again.
    public mutating func merge(parsing text: String, file: String = "types.db") throws(CollectdConfigurationError) {
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = rawLine
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            line = line.trimmingWhitespace()
            if line.isEmpty { continue }
            guard let nameEnd = line.firstIndex(where: { $0 == " " || $0 == "\t" }) else {
                throw .typesDBSyntax(file: file, line: lineNumber, message: "type '\(line)' has no data sources")
            }
            let name = String(line[..<nameEnd])
            var sources: [CollectdDataSource] = []
            // Data sources are separated by commas and/or white space (collectd splits on both).
            for spec in line[nameEnd...].split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" }) {
                let trimmed = spec.trimmingWhitespace()
                if trimmed.isEmpty { continue }
                let pieces = trimmed.split(separator: ":", omittingEmptySubsequences: false)
                guard pieces.count == 4, !pieces[0].isEmpty else {
                    throw .typesDBSyntax(file: file, line: lineNumber,
                                         message: "data source '\(trimmed)' of type '\(name)' is not name:TYPE:min:max")
                }
                guard let type = CollectdDSType.allCases.first(where: { $0.description == pieces[1].uppercased() }) else {
                    throw .typesDBSyntax(file: file, line: lineNumber,
                                         message: "unknown data source type '\(pieces[1])' in type '\(name)'")
                }
                let min = try Self.bound(pieces[2], file: file, line: lineNumber, type: name)
                let max = try Self.bound(pieces[3], file: file, line: lineNumber, type: name)
                sources.append(CollectdDataSource(name: String(pieces[0]), type: type, min: min, max: max))
            }
            guard !sources.isEmpty else {
                throw .typesDBSyntax(file: file, line: lineNumber, message: "type '\(name)' has no data sources")
            }
            types[name] = sources
        }
    }

    /// Adds (or replaces) the types of another database.
    public mutating func merge(_ other: TypesDB) {
        types.merge(other.types) { _, new in new }
    }

    /// The data sources of a type, or nil when types.db does not define it.
    @inlinable
    public subscript(type: String) -> [CollectdDataSource]? { types[type] }

    private static func bound(_ text: Substring, file: String, line: Int, type: String) throws(CollectdConfigurationError) -> Double? {
        if text == "U" || text == "u" { return nil }
        guard let value = Double(text) else {
            throw .typesDBSyntax(file: file, line: line, message: "bad bound '\(text)' in type '\(type)' (a number or U)")
        }
        return value
    }
}
