import EstuaryIO
import EstuaryRuntime
import EstuaryWire
import Logging

/// The collectd receiver's per-socket work: walk each datagram and write line protocol
/// straight into the batch being assembled; count and log what was rejected.
final class CollectdInputHandler: DatagramHandler, @unchecked Sendable {  // confined to one reader queue
    private let decoder: CollectdPacketDecoder
    private var writer: CollectdLineProtocolWriter
    private let assembler: BatchAssembler
    private let log: RejectionLog
    private var walkRejections: [CollectdRejection] = []
    private let datagrams: Counter
    private let bytes: Counter
    private let values: Counter
    private let points: Counter
    private let notifications: Counter
    private let unknownTypes: Counter
    private var reported = CollectdMappingStats()

    init(name: String, decoder: CollectdPacketDecoder, mapper: CollectdPointMapper, router: Router, batchLines: Int,
         batchInterval: Double, metrics: SelfMetrics, logger: Logger) {
        self.decoder = decoder
        assembler = BatchAssembler(router: router, source: name, batchLines: batchLines, batchInterval: batchInterval)
        writer = CollectdLineProtocolWriter(mapper: mapper, buffer: assembler.buffer)
        log = RejectionLog(listener: name, logger: logger, metrics: metrics)
        let tags = [("instance", name)]
        datagrams = metrics.counter("estuary_input", "datagrams", tags)
        bytes = metrics.counter("estuary_input", "bytes", tags)
        values = metrics.counter("estuary_input", "values", tags)
        points = metrics.counter("estuary_input", "points", tags)
        notifications = metrics.counter("estuary_input", "notifications", tags)
        unknownTypes = metrics.counter("estuary_input", "unknown_types", tags)
    }

    func handle(_ datagram: UnsafeRawBufferPointer, from peer: PeerAddress) {
        datagrams.add()
        bytes.add(datagram.count)
        let pointsBefore = writer.report.points
        let valuesBefore = writer.values
        let notificationsBefore = writer.notifications
        writer.startDatagram()
        decoder.walk(datagram, visitor: &writer, rejections: &walkRejections)
        if !walkRejections.isEmpty || !writer.rejections.isEmpty {
            for rejection in walkRejections + writer.rejections {
                log.record(reason: rejection.reason.code, lost: rejection.values, detail: "offset \(rejection.offset): \(rejection.reason)",
                           peer: peer.address?.description ?? "?")
            }
            walkRejections.removeAll(keepingCapacity: true)
            writer.rejections.removeAll(keepingCapacity: true)
        }
        values.add(writer.values - valuesBefore)
        notifications.add(writer.notifications - notificationsBefore)
        let written = writer.report.points - pointsBefore
        points.add(written)
        assembler.wrote(lines: written)
    }

    func denied(from peer: PeerAddress) {
        log.record(reason: "not_allowed", detail: "datagram dropped: the sender is not on the allow list",
                   peer: peer.address?.description ?? "?")
    }

    func tick() {
        assembler.tick()
        log.tick()
        if writer.stats.unknownType != reported.unknownType {
            unknownTypes.add(writer.stats.unknownType - reported.unknownType)
            reported = writer.stats
        }
    }

    func finish() {
        assembler.seal()
        log.tick()
    }
}

/// The graphite receiver's work, for TCP connections (complete lines) and UDP datagrams
/// (lines): collectd write_graphite paths and templates, written straight into the batch.
final class GraphiteInputHandler: DatagramHandler, StreamHandler, @unchecked Sendable {  // confined to one queue
    private var writer: GraphiteLineProtocolWriter
    private let assembler: BatchAssembler
    private let log: RejectionLog
    private let lines: Counter
    private let bytes: Counter
    private let points: Counter
    private let datagrams: Counter
    private var connectionCounters: [ConnectionEvent: Counter] = [:]
    private let metrics: SelfMetrics
    private let name: String
    private let logger: Logger

    init(name: String, decoder: GraphiteDecoder, router: Router, batchLines: Int, batchInterval: Double,
         metrics: SelfMetrics, logger: Logger) {
        self.name = name
        self.metrics = metrics
        self.logger = logger
        assembler = BatchAssembler(router: router, source: name, batchLines: batchLines, batchInterval: batchInterval)
        writer = GraphiteLineProtocolWriter(decoder: decoder)
        log = RejectionLog(listener: name, logger: logger, metrics: metrics)
        let tags = [("instance", name)]
        lines = metrics.counter("estuary_input", "lines", tags)
        bytes = metrics.counter("estuary_input", "bytes", tags)
        points = metrics.counter("estuary_input", "points", tags)
        datagrams = metrics.counter("estuary_input", "datagrams", tags)
    }

    private func decode(_ text: UnsafeRawBufferPointer, peer: @autoclosure () -> String) {
        bytes.add(text.count)
        let pointsBefore = writer.report.points
        lines.add(writer.decode(text, now: WallClock.now(), into: assembler.buffer))
        if !writer.rejections.isEmpty {
            for rejection in writer.rejections {
                log.record(reason: rejection.reason.code,
                           detail: "\(rejection.reason): \(Self.line(rejection.line, of: text))", peer: peer())
            }
            writer.rejections.removeAll(keepingCapacity: true)
        }
        let written = writer.report.points - pointsBefore
        points.add(written)
        assembler.wrote(lines: written)
    }

    /// Line `number` (1-based) of `text`, cut to 200 bytes, for a log line.
    private static func line(_ number: Int, of text: UnsafeRawBufferPointer) -> String {
        var current = 1
        var start = 0
        for (index, byte) in text.enumerated() where byte == UInt8(ascii: "\n") {
            if current == number { return quote(UnsafeRawBufferPointer(rebasing: text[start..<index])) }
            current += 1
            start = index + 1
        }
        return quote(UnsafeRawBufferPointer(rebasing: text[start...]))
    }

    private static func quote(_ bytes: UnsafeRawBufferPointer) -> String {
        let cut = bytes.count > 200 ? UnsafeRawBufferPointer(rebasing: bytes[0..<200]) : bytes
        return "'" + String(decoding: cut, as: UTF8.self) + (bytes.count > 200 ? "…'" : "'")
    }

    func handle(_ datagram: UnsafeRawBufferPointer, from peer: PeerAddress) {
        datagrams.add()
        decode(datagram, peer: peer.address?.description ?? "?")
    }

    func denied(from peer: PeerAddress) {
        log.record(reason: "not_allowed", detail: "datagram dropped: the sender is not on the allow list",
                   peer: peer.address?.description ?? "?")
    }

    func handle(lines text: UnsafeRawBufferPointer, from connection: ConnectionInfo) {
        decode(text, peer: connection.peer?.description ?? "?")
    }

    func lineTooLong(length: Int, from connection: ConnectionInfo) {
        log.record(reason: "line_too_long", detail: "line of \(length) bytes thrown away (max_line_length)",
                   peer: connection.peer?.description ?? "?")
    }

    func unfinishedLineThrownAway(length: Int, because event: ConnectionEvent, from connection: ConnectionInfo) {
        if event == .closedAtStop {
            log.record(reason: "unterminated_at_stop",
                       detail: "unfinished line of \(length) bytes thrown away: the connection was still open when Estuary stopped",
                       peer: connection.peer?.description ?? "?")
        } else {
            log.record(reason: "unterminated_at_idle_close",
                       detail: "unfinished line of \(length) bytes thrown away: the connection was closed for idleness (idle_timeout)",
                       peer: connection.peer?.description ?? "?")
        }
    }

    func connectionEvent(_ event: ConnectionEvent, _ connection: ConnectionInfo) {
        let counter: Counter
        if let existing = connectionCounters[event] {
            counter = existing
        } else {
            counter = metrics.counter("estuary_input", "connections_" + event.rawValue, [("instance", name)])
            connectionCounters[event] = counter
        }
        counter.add()
        if event == .refused {
            log.record(reason: "connection_refused", detail: "connection refused: max_connections reached (or no file descriptor left)",
                       peer: connection.peer?.description ?? "?")
        } else if event == .denied {
            log.record(reason: "not_allowed", detail: "connection closed: the peer is not on the allow list",
                       peer: connection.peer?.description ?? "?")
        } else if event == .readTimeout {
            log.record(reason: "read_timeout", detail: "connection closed: a line was begun and not finished within read_timeout; "
                       + "the unfinished line was thrown away", peer: connection.peer?.description ?? "?")
        } else if event != .opened && event != .closed && event != .closedAtStop {
            logger.debug("connection \(event.rawValue)", metadata: ["listener.name": "\(name)",
                                                                   "peer.address": "\(connection.peer?.description ?? "?")"])
        }
    }

    func tick() {
        assembler.tick()
        log.tick()
    }

    func finish() {
        assembler.seal()
        log.tick()
    }
}
