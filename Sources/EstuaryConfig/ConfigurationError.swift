/// One mistake in a configuration file: where it is and what is wrong.
///
/// `description` reads like a compiler message, so editors and terminals can jump to it:
///
///     estuary.toml:12: inputs.collectd[0].security_level: unknown value 'encrpyt' (expected none, sign or encrypt)
///     estuary.toml:7:14: syntax error: expected value, saw '\n'
///     estuary.toml: outputs: no output configured; add at least one [[outputs.influxdb]]
public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file as it was named to `load(path:)` or `parse(_:file:)`.
    public var file: String
    /// The line (from 1) the mistake is on, when it can be found.
    public var line: Int?
    /// The column (from 1); known for syntax errors only.
    public var column: Int?
    /// The key the mistake is about, as a path: `inputs.collectd[0].security_level`,
    /// `inputs.graphite[1].templates[2]`; empty for syntax errors and unreadable files.
    public var keyPath: String
    /// What is wrong, and what would be accepted.
    public var message: String

    public init(file: String, line: Int? = nil, column: Int? = nil, keyPath: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.keyPath = keyPath
        self.message = message
    }

    public var description: String {
        var location = file
        if let line {
            location += ":\(line)"
            if let column { location += ":\(column)" }
        }
        return keyPath.isEmpty ? "\(location): \(message)" : "\(location): \(keyPath): \(message)"
    }
}

/// Every mistake found in a configuration file, not just the first, in line order (mistakes
/// without a line, such as a missing section, come last).
public struct ConfigurationErrors: Error, Sendable, Hashable, CustomStringConvertible {
    public var errors: [ConfigurationError]

    public init(errors: [ConfigurationError]) {
        self.errors = errors
    }

    /// One error per line.
    public var description: String {
        errors.map(\.description).joined(separator: "\n")
    }
}
