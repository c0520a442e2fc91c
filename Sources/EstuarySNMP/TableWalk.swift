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

    public init(columns: [SNMPObjectIdentifier]) {
        table = SNMPTable(columns: columns)
        continueFrom = columns.map(\.components)
        finished = Array(repeating: false, count: columns.count)
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
    public mutating func absorb<Response: SNMPResponseSource>(_ response: Response, skip: Int) -> Bool {
        let width = requested.count
        guard width > 0 else { return false }
        var position = 0
        var progressed = false
        // The last index taken per requested column in this response: one component (an
        // ifIndex) is kept without allocating.
        var lastSingle = [UInt](repeating: 0, count: width)
        var lastPath = [[UInt]?](repeating: nil, count: width)
        var taken = [Bool](repeating: false, count: width)
        response.forEachVarBind { name, value in
            defer { position += 1 }
            guard position >= skip else { return }
            let slot = (position - skip) % width
            let column = requested[slot]
            guard !finished[column] else { return }
            if case .endOfMibView = value {
                finished[column] = true
                progressed = true
                return
            }
            let columnOID = table.columns[column]
            guard columnOID.isStrictPrefix(of: name), !value.isException else {
                finished[column] = true
                progressed = true
                return
            }
            let suffix = UnsafeBufferPointer(rebasing: name[columnOID.components.count...])
            // Must come after what was asked for, or what this response gave before.
            let after: Bool
            if taken[slot] {
                if let path = lastPath[slot] {
                    after = path.withUnsafeBufferPointer { SNMPObjectIdentifier.compare(suffix, $0) > 0 }
                } else {
                    after = suffix[0] != lastSingle[slot] ? suffix[0] > lastSingle[slot] : suffix.count > 1
                }
            } else {
                after = continueFrom[column].withUnsafeBufferPointer { SNMPObjectIdentifier.compare(name, $0) > 0 }
            }
            guard after else {
                finished[column] = true
                nonIncreasing += 1
                progressed = true
                return
            }
            table.set(value, column: column, index: suffix)
            accepted += 1
            progressed = true
            taken[slot] = true
            if suffix.count == 1 {
                lastSingle[slot] = suffix[0]
                lastPath[slot] = nil
            } else {
                lastPath[slot] = Array(suffix)
            }
        }
        for slot in 0..<width where taken[slot] {
            let column = requested[slot]
            continueFrom[column] = table.columns[column].components + (lastPath[slot] ?? [lastSingle[slot]])
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
        finished += Array(repeating: false, count: more.count)
    }
}
