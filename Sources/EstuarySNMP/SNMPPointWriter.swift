import EstuaryModel
import EstuaryWire

/// What the point writer remembers about one device between polls: interface labels from
/// the last refresh, and the previous counters for rates. Confined to the writer's thread.
public final class SNMPDeviceState {
    /// ifIndex → names and speeds, from the last poll that walked them (a refresh).
    var labels: [UInt: InterfaceLabels] = [:]
    /// ifIndex → the interface's last counters (rates only).
    var history: [UInt: InterfaceHistory] = [:]
    var lastSysUpTime: UInt32?
    var lastMonotonic: UInt64?
    /// The ifIndex values the last label walk saw: an interface outside them needs a refresh.
    public private(set) var labelledIndexes: Set<UInt> = []
    /// The interface names of the last poll, kept while the device's rows stay the same
    /// (names only change with a refresh): routine polls reuse them and their escaped tags.
    var naming: NamingPlan?

    struct NamingPlan {
        var ifIndexes: [UInt]
        var names: [String]
        var instanceTags: [[UInt8]]
        var unlabelled: Bool
    }

    /// sysUpTime and ifNumber of the last poll, for the next poll's refresh trigger.
    public internal(set) var sysUpTime: UInt32?
    public internal(set) var ifNumber: Int64?

    public init() {}

    /// What a refresh walk says of an interface, kept for the routine polls between.
    struct InterfaceLabels {
        var name: String?
        var descr: String?
        var alias: String?
        var highSpeed: UInt64?
        var speed: UInt64?
    }

    struct InterfaceHistory {
        var name: String
        var quantities: [CounterQuantity?]
        var discontinuityTime: UInt32?
        var monotonic: UInt64
    }
}

/// What writing one poll produced.
public struct SNMPWriteReport: Sendable, Equatable {
    public var lines = 0
    public var interfaces = 0
    /// Rates not written, by reason (rates mode only).
    public var rateGaps: [RateDiscontinuity: Int] = [:]
    /// Points the line-protocol encoder could not write (no writable field).
    public var droppedPoints = 0
    /// The interface rows walked had some ifIndex the last label walk did not see: walk
    /// the labels again next time.
    public var needsRefresh = false

    public init() {}
}

/// Turns finished polls into line protocol in the configured schema: the interfaces
/// (collectd's interface plugin, or Telegraf's `interface` table), a status point per poll
/// (`snmp_device`), and the configured tables and scalars. Raw counters by default; with
/// `rates` the collectd schema carries per-second rates instead, never across a
/// discontinuity (`InterfaceRates`).
public struct SNMPPointWriter: Sendable {
    public var schema: SNMPSchema
    public var rates: Bool

    public init(schema: SNMPSchema = .collectd, rates: Bool = false) {
        self.schema = schema
        self.rates = rates
    }

    /// The status measurement.
    public static let statusMeasurement = "snmp_device"
    /// The collectd schema's extra interface measurement (states, speed, labels).
    public static let interfaceStatusMeasurement = "snmp_interface"

    /// Appends the lines of one poll to `buffer` and updates the device's state.
    public func write<Sink: ByteSink>(_ sample: SNMPPollSample, state: SNMPDeviceState, into buffer: inout Sink) -> SNMPWriteReport {
        var report = SNMPWriteReport()
        let poll = sample.poll
        let sysName = poll.scalars.indices.contains(IFMIB.sysNameScalar) ? poll.scalars[IFMIB.sysNameScalar]?.text : nil
        let host = sample.device.name ?? (sysName?.isEmpty == false ? sysName! : sample.device.agent)
        let hostname = sysName?.isEmpty == false ? sysName : nil
        let sysUpTime: UInt32? = {
            if poll.scalars.indices.contains(IFMIB.sysUpTimeScalar), case .timeTicks(let t)? = poll.scalars[IFMIB.sysUpTimeScalar] { return t }
            return nil
        }()

        if poll.main.isFinished && poll.main.table.rowCount > 0 {
            let rows = InterfaceRows(table: poll.main.table, state: state)
            report.interfaces = rows.names.count
            switch schema {
            case .collectd:
                writeCollectd(rows, sample: sample, host: host, sysUpTime: sysUpTime, state: state, into: &buffer, report: &report)
            case .telegraf:
                writeTelegraf(rows, sample: sample, hostname: hostname, state: state, into: &buffer, report: &report)
            }
            report.needsRefresh = rows.unlabelled
            state.lastSysUpTime = sysUpTime
            state.lastMonotonic = sample.monotonic
        }
        if poll.scalars.indices.contains(IFMIB.ifNumberScalar), case .integer(let n)? = poll.scalars[IFMIB.ifNumberScalar] {
            state.ifNumber = n
        }
        if let sysUpTime { state.sysUpTime = sysUpTime }

        var points: [Point] = []
        points.append(statusPoint(sample, host: host, hostname: hostname, interfaces: report.interfaces))
        points += tablePoints(sample, host: host, hostname: hostname)
        points += scalarPoints(sample, host: host, hostname: hostname)
        var encoded = LineProtocolEncodeReport()
        let encoder = LineProtocolEncoder()
        for point in points { encoder.encode(point, into: &buffer, report: &encoded) }
        report.lines += encoded.points
        report.droppedPoints += encoded.droppedPoints
        return report
    }

    // MARK: - collectd schema

    private static let rxMeasurement = LineProtocolPieces.escaped("interface_rx", kind: .measurement)
    private static let txMeasurement = LineProtocolPieces.escaped("interface_tx", kind: .measurement)
    private static let typeNames = ["if_octets", "if_packets", "if_errors", "if_dropped"].map { Array(",type=\($0) value=".utf8) }
    private static let interfaceStatusBytes = LineProtocolPieces.escaped(interfaceStatusMeasurement, kind: .measurement)
    private static let ifIndexField = Array(" ifindex=".utf8)
    private static let adminField = Array(",admin_status=".utf8)
    private static let operField = Array(",oper_status=".utf8)
    private static let speedField = Array(",speed=".utf8)
    private static let descrField = Array(",descr=".utf8)
    private static let aliasField = Array(",alias=".utf8)

    private func writeCollectd<Sink: ByteSink>(_ rows: InterfaceRows, sample: SNMPPollSample, host: String, sysUpTime: UInt32?,
                                               state: SNMPDeviceState, into sink: inout Sink, report: inout SNMPWriteReport) {
        // The hot path: the lines go straight into the sink when it is a `ByteBuffer` (the
        // poller's batches), else into one handed to the sink at once; no array appends.
        let direct = sink as? ByteBuffer
        var out = direct ?? ByteBuffer(capacity: rows.rowNumbers.count * 1000)
        defer { if direct == nil { sink.appendBytes(out.unsafeBytes) } }
        let hostBytes = Array(",host=".utf8) + LineProtocolPieces.escaped(host, kind: .tagValue)
        let timestamp = sample.timestamp
        let end = Array(" \(timestamp)\n".utf8)
        var restart = false
        var seconds = 0.0
        if rates, let previous = state.lastMonotonic {
            seconds = Double(sample.monotonic &- previous) / 1e9
            if let before = state.lastSysUpTime, let now = sysUpTime,
               InterfaceRates.agentRestarted(previous: before, current: now, seconds: seconds) {
                restart = true
            }
        }
        var seen: [UInt: SNMPDeviceState.InterfaceHistory] = [:]
        // The constants in locals: statics are checked for initialization at every use.
        let typeNames = Self.typeNames, rxMeasurement = Self.rxMeasurement, txMeasurement = Self.txMeasurement
        let statusMeasurement = Self.interfaceStatusBytes, kinds = InterfaceRows.quantityKinds.count
        for (position, row) in rows.rowNumbers.enumerated() {
            let name = rows.names[position]
            let ifIndex = rows.ifIndexes[position]
            let instance = rows.instanceTags[position]
            if rates {
                let quantities = InterfaceRows.quantityKinds.map { rows.quantity(row: row, $0) }
                let discontinuity = rows.unsigned(row: row, .ifCounterDiscontinuityTime).map { UInt32(truncatingIfNeeded: $0) }
                let history = state.history[ifIndex]
                let speed = rows.speed(row: row)
                for (kind, quantity) in quantities.enumerated() {
                    guard let quantity else { continue }
                    let gap: RateDiscontinuity?
                    var value = 0.0
                    if restart {
                        gap = .agentRestart
                    } else if let history {
                        if history.name != name {
                            gap = .sourceChanged
                        } else if let d = discontinuity, let before = history.discontinuityTime, d != before {
                            gap = .countersCleared
                        } else if let previous = history.quantities[kind] {
                            let bound = speed.map { kind < 2 ? $0 / 8 * 1.2 + 1000 : $0 / 512 * 1.2 + 100 }
                            let interval = Double(sample.monotonic &- history.monotonic) / 1e9
                            switch InterfaceRates.rate(from: previous, to: quantity, seconds: interval, bound: bound) {
                            case .success(let rate): value = rate; gap = nil
                            case .failure(let why): gap = why
                            }
                        } else {
                            gap = .firstSample
                        }
                    } else {
                        gap = .firstSample
                    }
                    if let gap {
                        report.rateGaps[gap, default: 0] += 1
                    } else {
                        appendInterfaceLine(measurement: kind & 1 == 0 ? rxMeasurement : txMeasurement, host: hostBytes,
                                            instance: instance, type: typeNames[kind >> 1], value: value, end: end, into: &out)
                        report.lines += 1
                    }
                }
                seen[ifIndex] = SNMPDeviceState.InterfaceHistory(name: name, quantities: quantities,
                                                                 discontinuityTime: discontinuity, monotonic: sample.monotonic)
            } else {
                for kind in 0..<kinds {
                    guard let total = rows.total(row: row, kind) else { continue }
                    appendInterfaceLine(measurement: kind & 1 == 0 ? rxMeasurement : txMeasurement, host: hostBytes,
                                        instance: instance, type: typeNames[kind >> 1], value: total, end: end, into: &out)
                    report.lines += 1
                }
            }
            // States, speed and labels, under the same host and instance.
            out.appendBytes(statusMeasurement)
            out.appendBytes(hostBytes)
            out.appendBytes(instance)
            out.appendBytes(Self.ifIndexField)
            LineProtocolPieces.appendInteger(Int64(ifIndex), into: &out)
            if let admin = rows.unsigned(row: row, .ifAdminStatus) {
                out.appendBytes(Self.adminField)
                LineProtocolPieces.appendInteger(Int64(truncatingIfNeeded: admin), into: &out)
            }
            if let oper = rows.unsigned(row: row, .ifOperStatus) {
                out.appendBytes(Self.operField)
                LineProtocolPieces.appendInteger(Int64(truncatingIfNeeded: oper), into: &out)
            }
            if let speed = rows.speed(row: row) {
                out.appendBytes(Self.speedField)
                LineProtocolPieces.appendInteger(Int64(speed), into: &out)
            }
            // Labels change rarely: written with the polls that walk them (refreshes).
            if rows.labelsWalked, let descr = rows.descr(row: row, ifIndex: ifIndex), !descr.isEmpty {
                out.appendBytes(Self.descrField)
                LineProtocolPieces.appendString(descr, into: &out)
            }
            if rows.labelsWalked, let alias = rows.alias(row: row, ifIndex: ifIndex), !alias.isEmpty {
                out.appendBytes(Self.aliasField)
                LineProtocolPieces.appendString(alias, into: &out)
            }
            out.appendBytes(end)
            report.lines += 1
        }
        if rates { state.history = seen }
    }

    /// `interface_rx,host=…,instance=…,type=if_octets value=… <ts>`: the measurement, the
    /// host and instance tags, `type` the type tag and the field key (`typeNames`), `end` the
    /// timestamp and newline.
    @inline(__always)
    private func appendInterfaceLine(measurement: [UInt8], host: [UInt8], instance: [UInt8], type: [UInt8], value: Double,
                                     end: [UInt8], into out: inout ByteBuffer) {
        out.appendBytes(measurement)
        out.appendBytes(host)
        out.appendBytes(instance)
        out.appendBytes(type)
        LineProtocolPieces.appendFloat(value, into: &out)
        out.appendBytes(end)
    }

    // MARK: - Telegraf schema

    private func writeTelegraf<Sink: ByteSink>(_ rows: InterfaceRows, sample: SNMPPollSample, hostname: String?,
                                               state: SNMPDeviceState, into buffer: inout Sink, report: inout SNMPWriteReport) {
        let table = sample.poll.main.table
        let encoder = LineProtocolEncoder()
        var encoded = LineProtocolEncodeReport()
        for (position, row) in rows.rowNumbers.enumerated() {
            let ifIndex = rows.ifIndexes[position]
            var tags = [Tag("agent_host", sample.device.agent), Tag("ifIndex", String(ifIndex)), Tag("ifName", rows.names[position])]
            if let hostname { tags.append(Tag("hostname", hostname)) }
            var fields: [Field] = []
            for column in IFMIB.Column.allCases where column != .ifName && column != .ifDescr && column != .ifAlias {
                let position = rows.position[column.rawValue]
                guard position >= 0, let value = table.value(row: row, column: position), let field = Self.fieldValue(value) else { continue }
                fields.append(Field(column.name, field))
            }
            if let descr = rows.descr(row: row, ifIndex: ifIndex) { fields.append(Field("ifDescr", .string(descr))) }
            if let alias = rows.alias(row: row, ifIndex: ifIndex) { fields.append(Field("ifAlias", .string(alias))) }
            encoder.encode(Point(measurement: "interface", tags: tags, fields: fields, timestamp: sample.timestamp),
                           into: &buffer, report: &encoded)
        }
        report.lines += encoded.points
        report.droppedPoints += encoded.droppedPoints
    }

    // MARK: - Status, tables, scalars

    private func deviceTags(_ sample: SNMPPollSample, host: String, hostname: String?) -> [Tag] {
        switch schema {
        case .collectd:
            return [Tag("host", host), Tag("agent_host", sample.device.agent)]
        case .telegraf:
            var tags = [Tag("agent_host", sample.device.agent)]
            if let hostname { tags.append(Tag("hostname", hostname)) }
            return tags
        }
    }

    private func statusPoint(_ sample: SNMPPollSample, host: String, hostname: String?, interfaces: Int) -> Point {
        let poll = sample.poll
        var fields: [Field] = [
            Field("up", .integer(poll.answered ? 1 : 0)),
            Field("duration", .float(sample.duration)),
            Field("start_delay", .float(sample.startDelay)),
            Field("late", .integer(sample.late ? 1 : 0)),
            Field("requests", .integer(Int64(poll.requests))),
            Field("varbinds", .integer(Int64(poll.varbinds))),
            Field("interfaces", .integer(Int64(interfaces))),
            Field("max_repetitions", .integer(Int64(poll.maxRepetitions))),
        ]
        var timeouts: Int64 = 0
        var errors: Int64 = 0
        switch poll.outcome {
        case .timeout?:
            timeouts = 1
            fields.append(Field("error", .string("timeout")))
        case .failed(let why)?:
            errors = 1
            fields.append(Field("error", .string(why)))
        default:
            break
        }
        fields.append(Field("timeouts", .integer(timeouts)))
        fields.append(Field("errors", .integer(errors)))
        return Point(measurement: Self.statusMeasurement, tags: deviceTags(sample, host: host, hostname: hostname),
                     fields: fields, timestamp: sample.timestamp)
    }

    private func tablePoints(_ sample: SNMPPollSample, host: String, hostname: String?) -> [Point] {
        let walk = sample.poll.extra
        guard walk.isFinished, !sample.tables.isEmpty else { return [] }
        var points: [Point] = []
        var offset = 0
        let table = walk.table
        let base = deviceTags(sample, host: host, hostname: hostname)
        for spec in sample.tables {
            let width = spec.tags.count + spec.fields.count
            defer { offset += width }
            for row in 0..<table.rowCount {
                var fields: [Field] = []
                for (i, field) in spec.fields.enumerated() {
                    if let value = table.value(row: row, column: offset + spec.tags.count + i), let v = Self.fieldValue(value) {
                        fields.append(Field(field.name, v))
                    }
                }
                guard !fields.isEmpty else { continue }
                var tags = base
                if let indexTag = spec.indexTag {
                    tags.append(Tag(indexTag, table.indexes[row].map(String.init).joined(separator: ".")))
                }
                for (i, tag) in spec.tags.enumerated() {
                    if let value = table.value(row: row, column: offset + i) { tags.append(Tag(tag.name, value.text)) }
                }
                points.append(Point(measurement: spec.measurement, tags: tags, fields: fields, timestamp: sample.timestamp))
            }
        }
        return points
    }

    private func scalarPoints(_ sample: SNMPPollSample, host: String, hostname: String?) -> [Point] {
        let values = sample.poll.gets
        guard !sample.scalars.isEmpty else { return [] }
        var points: [Point] = []
        var offset = 0
        let base = deviceTags(sample, host: host, hostname: hostname)
        for spec in sample.scalars {
            defer { offset += spec.tags.count + spec.fields.count }
            var fields: [Field] = []
            for (i, field) in spec.fields.enumerated() {
                let at = offset + spec.tags.count + i
                if at < values.count, let value = values[at], let v = Self.fieldValue(value) { fields.append(Field(field.name, v)) }
            }
            guard !fields.isEmpty else { continue }
            var tags = base
            for (i, tag) in spec.tags.enumerated() where offset + i < values.count {
                if let value = values[offset + i] { tags.append(Tag(tag.name, value.text)) }
            }
            points.append(Point(measurement: spec.measurement, tags: tags, fields: fields, timestamp: sample.timestamp))
        }
        return points
    }

    /// A value as a field: numbers as integers (a Counter64 above 2^63-1 is clamped, as
    /// Telegraf does, so the field's type never changes), text for strings, OIDs and
    /// addresses; nothing for null and exceptions.
    public static func fieldValue(_ value: SNMPValue) -> FieldValue? {
        switch value {
        case .integer(let v): return .integer(v)
        case .counter32(let v), .gauge32(let v), .timeTicks(let v): return .integer(Int64(v))
        case .counter64(let v): return .integer(v > UInt64(Int64.max) ? Int64.max : Int64(v))
        case .octets, .objectIdentifier, .ipAddress, .opaque: return .string(value.text)
        case .null, .noSuchObject, .noSuchInstance, .endOfMibView: return nil
        }
    }
}

/// The interface rows of one poll, with the names series are keyed by.
struct InterfaceRows {
    let table: SNMPTable
    /// Table column position per `IFMIB.Column.rawValue`, -1 when not walked.
    var position: [Int]
    /// See `quantityColumns(position:)`.
    let quantityColumns: [Int?]
    var rowNumbers: [Int] = []
    var ifIndexes: [UInt] = []
    /// The `instance` / `ifName` of each row: ifName, else ifDescr, else `ifIndex<N>`;
    /// names used twice get `-<ifIndex>` appended.
    var names: [String] = []
    let labels: [UInt: SNMPDeviceState.InterfaceLabels]
    /// Some row's ifIndex was not in the last label walk.
    var unlabelled = false
    /// This poll walked the labels (ifDescr, ifAlias): a refresh.
    var labelsWalked = false
    /// `,instance=<escaped name>` per row, in `rowNumbers` order.
    var instanceTags: [[UInt8]] = []

    init(table: SNMPTable, state: SNMPDeviceState) {
        self.table = table
        position = Array(repeating: -1, count: IFMIB.Column.allCases.count)
        for (i, oid) in table.columns.enumerated() {
            if let column = IFMIB.Column(oid: oid) { position[column.rawValue] = i }
        }
        quantityColumns = Self.quantityColumns(position: position)
        // A walk of the labels replaces what the device state remembers.
        let nameAt = position[IFMIB.Column.ifName.rawValue]
        let descrAt = position[IFMIB.Column.ifDescr.rawValue]
        let aliasAt = position[IFMIB.Column.ifAlias.rawValue]
        if descrAt >= 0 && (aliasAt >= 0 || nameAt < 0) {
            labelsWalked = true
            let highAt = position[IFMIB.Column.ifHighSpeed.rawValue]
            let speedAt = position[IFMIB.Column.ifSpeed.rawValue]
            var fresh: [UInt: SNMPDeviceState.InterfaceLabels] = [:]
            for row in 0..<table.rowCount where table.indexes[row].count == 1 {
                func text(_ at: Int) -> String? { at >= 0 ? table.value(row: row, column: at)?.text : nil }
                func number(_ at: Int) -> UInt64? { at >= 0 ? table.value(row: row, column: at)?.unsigned : nil }
                fresh[table.indexes[row][0]] = SNMPDeviceState.InterfaceLabels(
                    name: text(nameAt), descr: text(descrAt), alias: text(aliasAt), highSpeed: number(highAt), speed: number(speedAt))
            }
            state.labels = fresh
            state.labelledIndexesReplace(Set(fresh.keys))
        }
        labels = state.labels
        for row in 0..<table.rowCount where table.indexes[row].count == 1 {
            rowNumbers.append(row)
            ifIndexes.append(table.indexes[row][0])
        }
        if !labelsWalked, nameAt < 0, let plan = state.naming, plan.ifIndexes == ifIndexes {
            names = plan.names
            instanceTags = plan.instanceTags
            unlabelled = plan.unlabelled
            return
        }
        var counts: [String: Int] = [:]
        for (position, row) in rowNumbers.enumerated() {
            let ifIndex = ifIndexes[position]
            var name = ""
            if nameAt >= 0, let value = table.value(row: row, column: nameAt) {
                name = value.text
            } else if let known = labels[ifIndex]?.name {
                name = known
            }
            if name.isEmpty { name = descr(row: row, ifIndex: ifIndex) ?? "" }
            if name.isEmpty { name = "ifIndex\(ifIndex)" }
            if !state.labelledIndexes.contains(ifIndex) { unlabelled = true }
            names.append(name)
            counts[name, default: 0] += 1
        }
        for i in names.indices where counts[names[i], default: 0] > 1 {
            names[i] += "-\(ifIndexes[i])"
        }
        instanceTags = names.map { name in
            var tag = Array(",instance=".utf8)
            LineProtocolPieces.appendName(name, kind: .tagValue, into: &tag)
            return tag
        }
        state.naming = SNMPDeviceState.NamingPlan(ifIndexes: ifIndexes, names: names, instanceTags: instanceTags,
                                                  unlabelled: unlabelled)
    }

    func value(row: Int, _ column: IFMIB.Column) -> SNMPValue? {
        let at = position[column.rawValue]
        return at >= 0 ? table.value(row: row, column: at) : nil
    }

    func unsigned(row: Int, _ column: IFMIB.Column) -> UInt64? {
        value(row: row, column)?.unsigned
    }

    /// The ifIndex of `row` (rows of this type have one-component indexes).
    func ifIndex(row: Int) -> UInt { table.indexes[row][0] }

    func descr(row: Int, ifIndex: UInt) -> String? {
        if let value = value(row: row, .ifDescr) { return value.text }
        return labels[ifIndex]?.descr ?? nil
    }

    func alias(row: Int, ifIndex: UInt) -> String? {
        if let value = value(row: row, .ifAlias) { return value.text }
        return labels[ifIndex]?.alias ?? nil
    }

    /// The interface speed in bits per second: ifHighSpeed, else ifSpeed below its 32-bit
    /// ceiling; nil when unknown or zero.
    func speed(row: Int) -> Double? {
        // What the last refresh saw only when this poll did not walk the column.
        if let high = unsigned(row: row, .ifHighSpeed) {
            if high > 0 { return Double(high) * 1e6 }
        } else if let high = labels[ifIndex(row: row)]?.highSpeed, high > 0 {
            return Double(high) * 1e6
        }
        if let speed = unsigned(row: row, .ifSpeed) ?? labels[ifIndex(row: row)]?.speed, speed > 0, speed < UInt64(UInt32.max) {
            return Double(speed)
        }
        return nil
    }

    /// The eight quantities of collectd's interface plugin, in writing order.
    static let quantityKinds: [(hc: [IFMIB.Column], legacy: [IFMIB.Column])] = [
        ([.ifHCInOctets], [.ifInOctets]),
        ([.ifHCOutOctets], [.ifOutOctets]),
        ([.ifHCInUcastPkts, .ifHCInMulticastPkts, .ifHCInBroadcastPkts], [.ifInUcastPkts, .ifInNUcastPkts]),
        ([.ifHCOutUcastPkts, .ifHCOutMulticastPkts, .ifHCOutBroadcastPkts], [.ifOutUcastPkts, .ifOutNUcastPkts]),
        ([], [.ifInErrors]),
        ([], [.ifOutErrors]),
        ([], [.ifInDiscards]),
        ([], [.ifOutDiscards]),
    ]

    /// The raw value of quantity `kind` (the sum of its counters), without building a
    /// `CounterQuantity`: the hot path of raw polling.
    func total(row: Int, _ kind: Int) -> Double? {
        let base = kind * Self.quantitySlots
        if let first = quantityColumns[base].flatMap({ table.counter64(row: row, column: $0) }) {
            var sum = Double(first)
            for slot in base + 1 ..< base + Self.hcSlots {
                if let at = quantityColumns[slot], let v = table.counter64(row: row, column: at) { sum += Double(v) }
            }
            return sum
        }
        let legacy = base + Self.hcSlots
        guard let first = quantityColumns[legacy].flatMap({ table.unsigned(row: row, column: $0) }) else { return nil }
        var sum = Double(first)
        for slot in legacy + 1 ..< base + Self.quantitySlots {
            if let at = quantityColumns[slot], let v = table.unsigned(row: row, column: at) { sum += Double(v) }
        }
        return sum
    }

    /// `quantityColumns` holds, per quantity kind, this many table positions: the 64-bit
    /// counters (`hcSlots`), then the 32-bit ones.
    static let hcSlots = 3
    static let quantitySlots = 5

    /// `quantityKinds` resolved to this table's column positions (nil: not walked), so the
    /// per-row sums look nothing up.
    static func quantityColumns(position: [Int]) -> [Int?] {
        var slots = [Int?](repeating: nil, count: quantityKinds.count * quantitySlots)
        for (kind, columns) in quantityKinds.enumerated() {
            let base = kind * quantitySlots
            for (i, column) in columns.hc.enumerated() where position[column.rawValue] >= 0 {
                slots[base + i] = position[column.rawValue]
            }
            for (i, column) in columns.legacy.enumerated() where position[column.rawValue] >= 0 {
                slots[base + hcSlots + i] = position[column.rawValue]
            }
        }
        return slots
    }

    /// A quantity from 64-bit counters when the row has them, else from 32-bit ones.
    func quantity(row: Int, _ kind: (hc: [IFMIB.Column], legacy: [IFMIB.Column])) -> CounterQuantity? {
        if let first = kind.hc.first, case .counter64? = value(row: row, first) {
            let parts = kind.hc.compactMap { column -> UInt64? in
                if case .counter64(let v)? = value(row: row, column) { return v }
                return nil
            }
            return CounterQuantity(components: parts, width: 64)
        }
        guard let first = kind.legacy.first, value(row: row, first)?.unsigned != nil else { return nil }
        let parts = kind.legacy.compactMap { unsigned(row: row, $0) }
        return CounterQuantity(components: parts, width: 32)
    }
}

extension SNMPDeviceState {
    func labelledIndexesReplace(_ indexes: Set<UInt>) {
        labelledIndexes = indexes
    }
}
