import EstuaryModel
import EstuaryWire

/// Compares two collections of points as multisets, the way the golden files are specified:
/// same measurement, tags and field keys; floats equal to a relative tolerance; timestamps
/// equal to a tolerance in nanoseconds.
public struct PointMultisetComparison: CustomStringConvertible {
    public var onlyInActual: [Point] = []
    public var onlyInExpected: [Point] = []

    public var matches: Bool { onlyInActual.isEmpty && onlyInExpected.isEmpty }

    public init(actual: [Point], expected: [Point], relativeTolerance: Double = 1e-12, timestampTolerance: Int64 = 1000) {
        var expectedBySeries: [SeriesKey: [Point]] = [:]
        for point in expected { expectedBySeries[SeriesKey(point), default: []].append(point) }
        var actualBySeries: [SeriesKey: [Point]] = [:]
        for point in actual { actualBySeries[SeriesKey(point), default: []].append(point) }

        for (key, actualPoints) in actualBySeries {
            var remaining = (expectedBySeries.removeValue(forKey: key) ?? []).sorted { $0.timestamp < $1.timestamp }
            for point in actualPoints.sorted(by: { $0.timestamp < $1.timestamp }) {
                if let index = remaining.firstIndex(where: {
                    abs($0.timestamp - point.timestamp) <= timestampTolerance
                        && Self.fieldsMatch($0.fields, point.fields, relativeTolerance)
                }) {
                    remaining.remove(at: index)
                } else {
                    onlyInActual.append(point)
                }
            }
            onlyInExpected.append(contentsOf: remaining)
        }
        for (_, rest) in expectedBySeries { onlyInExpected.append(contentsOf: rest) }
    }

    static func fieldsMatch(_ a: [Field], _ b: [Field], _ tolerance: Double) -> Bool {
        let sortedA = a.sorted { $0.key < $1.key }
        let sortedB = b.sorted { $0.key < $1.key }
        guard sortedA.count == sortedB.count else { return false }
        for (x, y) in zip(sortedA, sortedB) {
            guard x.key == y.key else { return false }
            switch (x.value, y.value) {
            case (.string(let s), .string(let t)):
                if s != t { return false }
            case (.boolean(let s), .boolean(let t)):
                if s != t { return false }
            default:
                guard let u = x.value.doubleValue, let v = y.value.doubleValue else { return false }
                if u == v { continue }
                if abs(u - v) > tolerance * max(abs(u), abs(v)) { return false }
            }
        }
        return true
    }

    /// Measurement, sorted tags and field keys: what must be equal exactly.
    struct SeriesKey: Hashable {
        var measurement: String
        var tags: [Tag]
        var fieldKeys: [String]

        init(_ point: Point) {
            measurement = point.measurement
            tags = point.tags.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            fieldKeys = point.fields.map(\.key).sorted()
        }
    }

    public var description: String {
        let encoder = LineProtocolEncoder()
        var lines = ["\(onlyInActual.count) point(s) only in actual, \(onlyInExpected.count) only in expected"]
        for point in onlyInActual.prefix(5) { lines.append("  actual:   " + encoder.string([point]).dropLast()) }
        for point in onlyInExpected.prefix(5) { lines.append("  expected: " + encoder.string([point]).dropLast()) }
        return lines.joined(separator: "\n")
    }
}
