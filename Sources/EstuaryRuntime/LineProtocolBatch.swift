/// A sealed batch of line protocol: what receivers hand to the pipeline and the pipeline
/// hands to every output. Encoded once; the outputs share the same bytes (the array is
/// never mutated after the batch is made).
public final class LineProtocolBatch: Sendable {
    /// Complete lines, each ending in `\n`.
    public let bytes: [UInt8]
    /// The number of lines (points) in `bytes`.
    public let lines: Int
    /// Where the batch came from (listener name, `self-metrics`), for logs.
    public let source: String
    /// When the first line of the batch was received (monotonic ns of the receiver's `Clock`;
    /// `MonotonicClock` by default).
    public let receivedAt: UInt64

    public init(bytes: [UInt8], lines: Int, source: String, receivedAt: UInt64 = MonotonicClock.now()) {
        self.bytes = bytes
        self.lines = lines
        self.source = source
        self.receivedAt = receivedAt
    }

    public var byteCount: Int { bytes.count }
}
