/// A bounded table from a key of one or two byte strings to a value, for the hot paths
/// that look up the same few names over and over (types, measurements) without making
/// strings: FNV-1a hash, one slot per hash, the oldest entry evicted when full. A hash
/// collision costs a rebuild, never a wrong answer (keys are compared byte for byte).
struct BytesKeyedCache<Value> {
    private struct Entry {
        var hash: UInt64
        /// First part, a 0xFF separator, second part.
        var key: [UInt8]
        var value: Value
    }

    private var entries: [Entry] = []
    private var slots: [Int]
    private let capacity: Int
    private var nextVictim = 0
    private var lastHash: UInt64 = 0
    private var lastIndex = -1

    init(capacity: Int = 256, slots: Int = 1024) {
        precondition(slots & (slots - 1) == 0, "slots must be a power of two")
        self.capacity = capacity
        self.slots = [Int](repeating: -1, count: slots)
    }

    /// FNV-1a of the parts, with a separator between them and `salt` last.
    @inline(__always)
    static func hash(_ first: UnsafeBufferPointer<UInt8>, _ second: UnsafeBufferPointer<UInt8>, salt: UInt64) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in first { h = (h ^ UInt64(byte)) &* 0x100_0000_01B3 }
        h = (h ^ 0x1FF) &* 0x100_0000_01B3
        for byte in second { h = (h ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return (h ^ salt) &* 0x100_0000_01B3
    }

    /// The value for (`first`, `second`, `salt`), made by `make` the first time.
    @inline(__always)
    mutating func value(_ first: UnsafeBufferPointer<UInt8>, _ second: UnsafeBufferPointer<UInt8> = .init(start: nil, count: 0),
                        salt: UInt64 = 0, make: () -> Value) -> Value {
        if let value = lookup(first, second, salt: salt) { return value }
        let value = make()
        insert(value, first, second, salt: salt)
        return value
    }

    /// The value held for (`first`, `second`, `salt`), if any.
    @inline(__always)
    mutating func lookup(_ first: UnsafeBufferPointer<UInt8>, _ second: UnsafeBufferPointer<UInt8> = .init(start: nil, count: 0),
                         salt: UInt64 = 0) -> Value? {
        let hash = Self.hash(first, second, salt: salt)
        if hash == lastHash && lastIndex >= 0 && matches(lastIndex, hash, first, second) {
            return entries.withUnsafeBufferPointer { $0[lastIndex].value }
        }
        let candidate = slots[Int(truncatingIfNeeded: hash) & (slots.count - 1)]
        if candidate >= 0 && matches(candidate, hash, first, second) {
            lastHash = hash
            lastIndex = candidate
            return entries.withUnsafeBufferPointer { $0[candidate].value }
        }
        return nil
    }

    /// Holds `value` for (`first`, `second`, `salt`), evicting the oldest entry when full
    /// (after `lookup` found nothing).
    mutating func insert(_ value: Value, _ first: UnsafeBufferPointer<UInt8>,
                         _ second: UnsafeBufferPointer<UInt8> = .init(start: nil, count: 0), salt: UInt64 = 0) {
        let hash = Self.hash(first, second, salt: salt)
        let slot = Int(truncatingIfNeeded: hash) & (slots.count - 1)
        var key = [UInt8]()
        key.reserveCapacity(first.count + 1 + second.count)
        key.append(contentsOf: first)
        key.append(0xFF)
        key.append(contentsOf: second)
        let entry = Entry(hash: hash, key: key, value: value)
        let index: Int
        if entries.count < capacity {
            entries.append(entry)
            index = entries.count - 1
        } else {
            let oldSlot = Int(truncatingIfNeeded: entries[nextVictim].hash) & (slots.count - 1)
            if slots[oldSlot] == nextVictim { slots[oldSlot] = -1 }
            entries[nextVictim] = entry
            index = nextVictim
            nextVictim = (nextVictim + 1) % capacity
        }
        slots[slot] = index
        lastHash = hash
        lastIndex = index
    }

    @inline(__always)
    private func matches(_ index: Int, _ hash: UInt64, _ first: UnsafeBufferPointer<UInt8>,
                         _ second: UnsafeBufferPointer<UInt8>) -> Bool {
        entries.withUnsafeBufferPointer { entries in
            // Borrowed in place: copying the entry would retain its arrays.
            let entry = entries[index]
            guard entry.hash == hash, entry.key.count == first.count + 1 + second.count else { return false }
            return entry.key.withUnsafeBufferPointer { key in
                (first.isEmpty || memoryEqual(key.baseAddress!, first.baseAddress!, first.count))
                    && key[first.count] == 0xFF
                    && (second.isEmpty || memoryEqual(key.baseAddress! + first.count + 1, second.baseAddress!, second.count))
            }
        }
    }
}
