#if canImport(Glibc)
import Glibc
#endif
import EstuaryCompression
import EstuaryRuntime
import Logging

/// When the spool's writes reach stable storage.
public enum SpoolFsync: Sendable, Equatable {
    /// `fdatasync` after every append (one per spill, not per record).
    case batch
    /// `fdatasync` at most this many seconds after an append (the owner calls `maintain`).
    case interval(Double)
}

/// How a spool is laid out and bounded.
public struct SpoolOptions: Sendable, Equatable {
    /// The spool's own directory (`<data_dir>/spool/<output name>`); made if missing.
    public var directory: String
    /// The most bytes its segment files may take on disk (`spool_size`). Beyond it the oldest
    /// records not yet read are dropped. While a request made from the oldest segment is in
    /// flight, that segment cannot be deleted yet, so the files may pass the bound by up to
    /// one segment for that long.
    public var maxBytes: Int
    /// Records whose oldest line was received longer ago than this many seconds are dropped
    /// instead of sent (`spool_max_age`); 0 keeps records of any age.
    public var maxAge: Double
    /// A segment file is closed and a new one started once it holds this many bytes.
    public var segmentBytes: Int
    public var fsync: SpoolFsync
    /// zlib level of record payloads (1: fastest).
    public var compressionLevel: Int32

    public init(directory: String, maxBytes: Int = 1 << 30, maxAge: Double = 72 * 3600, segmentBytes: Int = 16 << 20,
                fsync: SpoolFsync = .interval(1), compressionLevel: Int32 = 1) {
        self.directory = directory
        self.maxBytes = maxBytes
        self.maxAge = maxAge
        self.segmentBytes = segmentBytes
        self.fsync = fsync
        self.compressionLevel = compressionLevel
    }
}

/// The spool's self-metrics, in the `estuary_output` measurement of the output it belongs to.
public struct SpoolMetrics: Sendable {
    /// Bytes of segment files on disk.
    public let bytes: Gauge
    /// Segment files on disk.
    public let segments: Gauge
    /// Records on disk not yet delivered (read back or not).
    public let records: Gauge
    /// Lines written to the spool.
    public let spooledLines: Counter
    /// Lines read back from the spool to be sent.
    public let replayedLines: Counter
    /// Lines dropped because the spool was full (`dropped_lines{reason=spool_full}`).
    public let droppedFull: Counter
    /// Lines dropped for being older than the spool's age bound (`dropped_lines{reason=spool_expired}`).
    public let droppedExpired: Counter
    /// Lines lost in damaged records (`dropped_lines{reason=spool_corrupt}`), where known.
    public let droppedCorrupt: Counter
    /// Segment files in which damage was found (the damaged part set aside as `*.corrupt`).
    public let corruptSegments: Counter
    /// Damaged records (each lost; their lines where the header could still be read).
    public let corruptRecords: Counter
    /// Failed system calls (writes, syncs, reads) other than damage.
    public let errors: Counter

    public init(registry: SelfMetrics, measurement: String, instance: String) {
        let tags = [("instance", instance)]
        bytes = registry.gauge(measurement, "spool_bytes", tags)
        segments = registry.gauge(measurement, "spool_segments", tags)
        records = registry.gauge(measurement, "spool_records", tags)
        spooledLines = registry.counter(measurement, "spooled_lines", tags)
        replayedLines = registry.counter(measurement, "replayed_lines", tags)
        droppedFull = registry.counter(measurement, "dropped_lines", tags + [("reason", "spool_full")])
        droppedExpired = registry.counter(measurement, "dropped_lines", tags + [("reason", "spool_expired")])
        droppedCorrupt = registry.counter(measurement, "dropped_lines", tags + [("reason", "spool_corrupt")])
        corruptSegments = registry.counter(measurement, "spool_corrupt_segments", tags)
        corruptRecords = registry.counter(measurement, "spool_corrupt_records", tags)
        errors = registry.counter(measurement, "spool_errors", tags)
    }
}

/// Records and lines a spool call dropped, by reason (also counted in `SpoolMetrics`).
public struct SpoolLoss: Sendable, Equatable {
    public var fullRecords = 0
    public var fullLines = 0
    public var expiredRecords = 0
    public var expiredLines = 0
    public var corruptRecords = 0
    public var corruptLines = 0

    public init() {}

    public var isEmpty: Bool { fullRecords == 0 && expiredRecords == 0 && corruptRecords == 0 }
    public var lines: Int { fullLines + expiredLines + corruptLines }

    static func += (lhs: inout SpoolLoss, rhs: SpoolLoss) {
        lhs.fullRecords += rhs.fullRecords
        lhs.fullLines += rhs.fullLines
        lhs.expiredRecords += rhs.expiredRecords
        lhs.expiredLines += rhs.expiredLines
        lhs.corruptRecords += rhs.corruptRecords
        lhs.corruptLines += rhs.corruptLines
    }
}

/// What `append` did.
public struct SpoolAppendResult {
    /// Records and lines written.
    public var records = 0
    public var lines = 0
    /// Batches not written because of `error` (in order): the caller still holds them.
    public var notWritten: [LineProtocolBatch] = []
    /// The write error that stopped the append, if any.
    public var error: SpoolError?
    /// What was dropped to make room (or the new records themselves when they could not fit).
    public var loss = SpoolLoss()
    /// The ordinals of the records written, in order.
    public var ordinals: [Int] = []
}

/// A record read back from the spool: its line protocol as a batch, and its place in the spool
/// (`ordinal`, for `acknowledge(through:)`).
public struct SpoolReadRecord {
    public var ordinal: Int
    public var batch: LineProtocolBatch
    /// The receive time of the record's oldest line (wall clock, ns since the epoch).
    public var receivedAt: Int64
}
