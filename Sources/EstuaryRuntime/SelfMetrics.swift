import Synchronization

/// A monotonically increasing count, safe to bump from any thread.
public final class Counter: Sendable {
    public let name: String
    public let tags: [(String, String)]
    private let value = Atomic<Int>(0)

    init(name: String, tags: [(String, String)]) {
        self.name = name
        self.tags = tags
    }

    @inline(__always)
    public func add(_ n: Int = 1) {
        if n != 0 { value.wrappingAdd(n, ordering: .relaxed) }
    }

    public var count: Int { value.load(ordering: .relaxed) }
}

/// A value that goes up and down (queue depths, bytes waiting), safe from any thread.
public final class Gauge: Sendable {
    public let name: String
    public let tags: [(String, String)]
    private let value = Atomic<Int>(0)

    init(name: String, tags: [(String, String)]) {
        self.name = name
        self.tags = tags
    }

    public func set(_ n: Int) { value.store(n, ordering: .relaxed) }
    public func add(_ n: Int) { value.wrappingAdd(n, ordering: .relaxed) }
    public var current: Int { value.load(ordering: .relaxed) }
}

/// Estuary's self-observation: every counter and gauge, registered under a measurement
/// (`estuary_<component>`), a field name and tags (`instance`, `reason`, ...). Written as
/// points to the outputs every interval and summarized in the log.
///
/// One registry per daemon; components register their metrics at start and then only
/// touch the atomics.
public final class SelfMetrics: Sendable {
    public struct Key: Hashable, Sendable {
        public var measurement: String
        public var field: String
        public var tags: [String]  // flattened key, value, key, value ... sorted by key

        public init(measurement: String, field: String, tags: [(String, String)]) {
            self.measurement = measurement
            self.field = field
            self.tags = tags.sorted { $0.0 < $1.0 }.flatMap { [$0.0, $0.1] }
        }
    }

    private let counters = Mutex<[Key: Counter]>([:])
    private let gauges = Mutex<[Key: Gauge]>([:])

    public init() {}

    /// The counter for (measurement, field, tags), made on first use.
    public func counter(_ measurement: String, _ field: String, _ tags: [(String, String)] = []) -> Counter {
        let key = Key(measurement: measurement, field: field, tags: tags)
        return counters.withLock { table in
            if let existing = table[key] { return existing }
            let made = Counter(name: field, tags: tags)
            table[key] = made
            return made
        }
    }

    /// The gauge for (measurement, field, tags), made on first use.
    public func gauge(_ measurement: String, _ field: String, _ tags: [(String, String)] = []) -> Gauge {
        let key = Key(measurement: measurement, field: field, tags: tags)
        return gauges.withLock { table in
            if let existing = table[key] { return existing }
            let made = Gauge(name: field, tags: tags)
            table[key] = made
            return made
        }
    }

    /// Whether a metric only increases or goes up and down.
    public enum Kind: Sendable {
        case counter, gauge
    }

    /// One metric and its current value.
    public struct Entry: Sendable {
        public var key: Key
        public var kind: Kind
        public var value: Int

        /// The tags as (key, value) pairs, sorted by key.
        public var tags: [(String, String)] {
            stride(from: 0, to: key.tags.count - 1, by: 2).map { (key.tags[$0], key.tags[$0 + 1]) }
        }
    }

    /// Every metric with its kind and current value, sorted by measurement, field and tags
    /// (for the Prometheus exposition).
    public func entries() -> [Entry] {
        var all = counters.withLock { $0 }.map { Entry(key: $0.key, kind: .counter, value: $0.value.count) }
        all += gauges.withLock { $0 }.map { Entry(key: $0.key, kind: .gauge, value: $0.value.current) }
        return all.sorted {
            ($0.key.measurement, $0.key.field, $0.key.tags.joined(separator: "\u{0}"))
                < ($1.key.measurement, $1.key.field, $1.key.tags.joined(separator: "\u{0}"))
        }
    }

    /// The gauge for (measurement, field, tags) if something registered it (none is made).
    public func existingGauge(_ measurement: String, _ field: String, _ tags: [(String, String)] = []) -> Gauge? {
        let key = Key(measurement: measurement, field: field, tags: tags)
        return gauges.withLock { $0[key] }
    }

    /// Every metric's current value, grouped by measurement and tags (one point each).
    public func snapshot() -> [Sample] {
        var grouped: [SeriesKey: [(String, Int)]] = [:]
        for (key, counter) in counters.withLock({ $0 }) {
            grouped[SeriesKey(measurement: key.measurement, tags: key.tags), default: []].append((key.field, counter.count))
        }
        for (key, gauge) in gauges.withLock({ $0 }) {
            grouped[SeriesKey(measurement: key.measurement, tags: key.tags), default: []].append((key.field, gauge.current))
        }
        return grouped.map { key, fields in
            var tags: [(String, String)] = []
            var i = 0
            while i + 1 < key.tags.count {
                tags.append((key.tags[i], key.tags[i + 1]))
                i += 2
            }
            return Sample(measurement: key.measurement, tags: tags, fields: fields.sorted { $0.0 < $1.0 })
        }.sorted { ($0.measurement, $0.tags.map { $0.1 }.joined(separator: ",")) < ($1.measurement, $1.tags.map { $0.1 }.joined(separator: ",")) }
    }

    struct SeriesKey: Hashable {
        var measurement: String
        var tags: [String]
    }

    /// One series of self-metrics: a measurement, its tags and integer fields.
    public struct Sample: Sendable {
        public var measurement: String
        public var tags: [(String, String)]
        public var fields: [(String, Int)]
    }
}
