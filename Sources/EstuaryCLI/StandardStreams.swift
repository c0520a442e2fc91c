import Foundation

/// Buffered writes to standard output and standard error for the tools' output.
struct OutputStream {
    private let handle: FileHandle
    private var buffer: [UInt8] = []

    static func standardOutput() -> OutputStream { OutputStream(handle: .standardOutput) }
    static func standardError() -> OutputStream { OutputStream(handle: .standardError) }

    private init(handle: FileHandle) {
        self.handle = handle
    }

    mutating func write(_ bytes: [UInt8]) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 16 { flush() }
    }

    mutating func write(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= 1 << 16 { flush() }
    }

    mutating func line(_ text: String) {
        write(text)
        write("\n")
    }

    mutating func flush() {
        guard !buffer.isEmpty else { return }
        handle.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }
}

/// Counts by reason, printed in a stable order.
struct ReasonCounts {
    private(set) var counts: [String: Int] = [:]

    mutating func add(_ code: String, _ count: Int = 1) {
        counts[code, default: 0] += count
    }

    var total: Int { counts.values.reduce(0, +) }

    var summary: String {
        counts.isEmpty ? "none" : counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }
}

/// A failure while a command runs (not a usage mistake): printed as `Error: ...` without the
/// usage text, exit code 1.
struct RuntimeError: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}
