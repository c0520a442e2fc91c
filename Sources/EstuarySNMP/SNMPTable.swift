/// The rows a walk collected, for one or more columns, keyed by each row's index (the
/// components after the column's OID). Rows are assembled by index, never by position, so
/// sparse tables and columns that end at different rows come out right.
public struct SNMPTable: Sendable {
    /// The columns' OIDs, in the order of `cells`' stride.
    public let columns: [SNMPObjectIdentifier]
    /// Each row's index, in the order rows were first seen.
    public private(set) var indexes: [[UInt]] = []
    /// `columns.count` cells per row; nil where the agent had no value.
    public private(set) var cells: [SNMPValue?] = []
    /// Rows whose index is one component (ifIndex): looked up without allocating.
    private var singleRows: [UInt: Int] = [:]
    private var pathRows: [[UInt]: Int] = [:]
    /// The last one-component row set: GETBULK answers a row's columns one after another,
    /// so most lookups hit it.
    private var lastSingle: (index: UInt, row: Int) = (.max, -1)

    /// An empty table; `expectedRows` (what the last walk found) sizes its storage once.
    public init(columns: [SNMPObjectIdentifier], expectedRows: Int = 0) {
        self.columns = columns
        if expectedRows > 0 {
            indexes.reserveCapacity(expectedRows)
            cells.reserveCapacity(expectedRows * columns.count)
            singleRows.reserveCapacity(expectedRows)
        }
    }

    public var rowCount: Int { indexes.count }

    /// The value at `row` (0 ..< rowCount) and `column` (0 ..< columns.count).
    @inline(__always)
    public func value(row: Int, column: Int) -> SNMPValue? {
        cells[row * columns.count + column]
    }

    /// The value at `row` and `column` if it is a Counter64.
    @inline(__always)
    public func counter64(row: Int, column: Int) -> UInt64? {
        if case .counter64(let v)? = cells[row * columns.count + column] { return v }
        return nil
    }

    /// The value at `row` and `column` as an unsigned number (`SNMPValue.unsigned`).
    @inline(__always)
    public func unsigned(row: Int, column: Int) -> UInt64? {
        cells[row * columns.count + column]?.unsigned
    }

    /// The row with the one-component index `index` (an ifIndex), if any.
    public func row(index: UInt) -> Int? {
        singleRows[index]
    }

    /// The row with index `index`, if any.
    public func row(index: [UInt]) -> Int? {
        index.count == 1 ? singleRows[index[0]] : pathRows[index]
    }

    /// How many rows have a value in `column`.
    public func valueCount(column: Int) -> Int {
        var count = 0
        for row in 0..<rowCount where cells[row * columns.count + column] != nil { count += 1 }
        return count
    }

    /// Sets the cell of `column` in the row with index `index`, making the row if needed.
    @inline(__always)
    mutating func set(_ value: SNMPValue, column: Int, index: UnsafeBufferPointer<UInt>) {
        let row: Int
        if index.count == 1 {
            let key = index[0]
            if lastSingle.row >= 0 && lastSingle.index == key {
                row = lastSingle.row
            } else if let existing = singleRows[key] {
                row = existing
            } else {
                row = appendRow([key])
                singleRows[key] = row
            }
            lastSingle = (key, row)
        } else {
            let key = Array(index)
            if let existing = pathRows[key] {
                row = existing
            } else {
                row = appendRow(key)
                pathRows[key] = row
            }
        }
        cells[row * columns.count + column] = value
    }

    private mutating func appendRow(_ index: [UInt]) -> Int {
        indexes.append(index)
        cells.append(contentsOf: repeatElement(nil, count: columns.count))
        return indexes.count - 1
    }

    /// A table with the given rows, for tests and replays: `rows` maps an index to
    /// (column position, value) pairs.
    public static func make(columns: [SNMPObjectIdentifier], rows: [([UInt], [(Int, SNMPValue)])]) -> SNMPTable {
        var table = SNMPTable(columns: columns)
        for (index, values) in rows {
            for (column, value) in values {
                index.withUnsafeBufferPointer { table.set(value, column: column, index: $0) }
            }
        }
        return table
    }
}
