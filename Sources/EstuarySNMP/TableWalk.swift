/// Walks several table columns at once, one request after another (GETBULK on v2c/v3, one
/// row per GETNEXT on v1), and assembles what comes back into an `SNMPTable`.
///
/// A column ends when the agent answers with a name outside the column, with
/// `endOfMibView`, or with a name that does not increase (a broken agent that would
/// otherwise loop forever: counted in `nonIncreasing`). Responses are matched to columns by
/// position (GETBULK repeats the requested columns in order), values to rows by index.
public struct TableWalk: Sendable {
    public private(set) var table: SNMPTable
    /// Per column: the name to continue from (the column itself before the first request).
    private var continueFrom: [[UInt]]
    private var finished: [Bool]
    /// The columns of the request in flight, in request order.
    public private(set) var requested: [Int] = []
    /// Columns that ended on a name that did not increase.
    public private(set) var nonIncreasing = 0
    /// Variable bindings taken into the table.
    public private(set) var accepted = 0
    /// Every column's OID, one after another, and where each starts (one more entry at the
    /// end): prefix checks read these without touching the table's arrays per binding.
    private var prefixes: [UInt] = []
    private var prefixStarts: [Int] = [0]

    /// A walk of `columns`; `expectedRows` sizes the table (see `SNMPTable.init`).
    public init(columns: [SNMPObjectIdentifier], expectedRows: Int = 0) {
        table = SNMPTable(columns: columns, expectedRows: expectedRows)
        continueFrom = columns.map(\.components)
        finished = Array(repeating: false, count: columns.count)
        addPrefixes(columns)
    }

    private mutating func addPrefixes(_ columns: [SNMPObjectIdentifier]) {
        for column in columns {
            prefixes += column.components
            prefixStarts.append(prefixes.count)
        }
    }

    public var columns: [SNMPObjectIdentifier] { table.columns }

    /// Every column has ended.
    public var isFinished: Bool { !finished.contains(false) }

    /// Whether `column` has ended.
    public func isFinished(column: Int) -> Bool { finished[column] }

    /// Ends `column` without more requests (v1's noSuchName at the end of the MIB).
    public mutating func finish(column: Int) {
        finished[column] = true
    }

    /// Ends every column (the walk gives up).
    public mutating func finishAll() {
        for i in finished.indices { finished[i] = true }
    }

    /// Chooses the next request's columns (at most `limit` of those not finished, in column
    /// order) and returns the names to ask for.
    public mutating func nextRequest(limit: Int) -> [SNMPObjectIdentifier] {
        requested.removeAll(keepingCapacity: true)
        for column in finished.indices where !finished[column] {
            requested.append(column)
            if requested.count >= max(1, limit) { break }
        }
        return requested.map { SNMPObjectIdentifier(continueFrom[$0]) }
    }

    /// Takes the answer to the last request. `skip` variable bindings at the front belong to
    /// something else (GETBULK non-repeaters). Returns whether the walk moved on (a value
    /// taken or a column ended); a response that does neither would repeat forever.
    @discardableResult
    public mutating func absorb<Response: SNMPResponseReading>(_ response: Response, skip: Int) -> Bool {
        let width = requested.count
        guard width > 0 else { return false }
        var progressed = false
        // Per requested column, in this response: whether a value was taken, and the last
        // index taken (one component, an ifIndex, kept without allocating; longer ones in
        // `lastPaths`). On the stack: a response allocates nothing here.
        withUnsafeTemporaryAllocation(of: UInt.self, capacity: width) { lastSingle in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: width) { state in
                // state: 0 nothing yet, 1 taken, 2 ended in this response
                state.initialize(repeating: 0)
                lastSingle.initialize(repeating: 0)
                var lastPaths: [Int: [UInt]] = [:]
                var position = 0
                prefixes.withUnsafeBufferPointer { oids in
                    response.forEachVarBind { name, value in
                        defer { position += 1 }
                        guard position >= skip else { return }
                        let slot = (position - skip) % width
                        if state[slot] == 2 { return }
                        let column = requested[slot]
                        if finished[column] { return }
                        if case .endOfMibView = value {
                            state[slot] = 2
                            progressed = true
                            return
                        }
                        // In the column: the column's OID, then at least one more component.
                        let start = prefixStarts[column], length = prefixStarts[column + 1] - start
                        var inColumn = name.count > length && !value.isException
                        var i = 0
                        while inColumn && i < length {
                            if oids[start + i] != name[i] { inColumn = false }
                            i += 1
                        }
                        guard inColumn else {
                            state[slot] = 2
                            progressed = true
                            return
                        }
                        let suffix = UnsafeBufferPointer(rebasing: name[length...])
                        // After what was asked for, or what this response gave before.
                        let after: Bool
                        if state[slot] == 1 {
                            if !lastPaths.isEmpty, let path = lastPaths[slot] {
                                after = path.withUnsafeBufferPointer { SNMPObjectIdentifier.compare(suffix, $0) > 0 }
                            } else {
                                after = suffix[0] != lastSingle[slot] ? suffix[0] > lastSingle[slot] : suffix.count > 1
                            }
                        } else {
                            after = continueFrom[column].withUnsafeBufferPointer { SNMPObjectIdentifier.compare(name, $0) > 0 }
                        }
                        guard after else {
                            state[slot] = 2
                            nonIncreasing += 1
                            progressed = true
                            return
                        }
                        table.set(value, column: column, index: suffix)
                        accepted += 1
                        progressed = true
                        if state[slot] == 0 { state[slot] = 1 }
                        if suffix.count == 1 {
                            lastSingle[slot] = suffix[0]
                            if !lastPaths.isEmpty { lastPaths[slot] = nil }
                        } else {
                            lastPaths[slot] = Array(suffix)
                        }
                    }
                }
                for slot in 0..<width {
                    let column = requested[slot]
                    if state[slot] == 2 {
                        finished[column] = true
                    } else if state[slot] == 1 {
                        continueFrom[column] = table.columns[column].components + (lastPaths[slot] ?? [lastSingle[slot]])
                    }
                }
            }
        }
        return progressed
    }

    /// Adds columns to a walk in progress (index columns wanted after all).
    public mutating func add(columns more: [SNMPObjectIdentifier]) {
        guard !more.isEmpty else { return }
        var bigger = SNMPTable(columns: table.columns + more)
        let oldWidth = table.columns.count
        for row in 0..<table.rowCount {
            for column in 0..<oldWidth {
                if let value = table.value(row: row, column: column) {
                    table.indexes[row].withUnsafeBufferPointer { bigger.set(value, column: column, index: $0) }
                }
            }
        }
        table = bigger
        continueFrom += more.map(\.components)
        addPrefixes(more)
        finished += Array(repeating: false, count: more.count)
    }
}
