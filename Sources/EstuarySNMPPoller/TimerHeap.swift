/// A min-heap of deadlines (monotonic ns of the engine's clock) for the poller's event loop: when each device is
/// next due, when its request times out, when its poll must end. Entries carry a token;
/// an entry whose token no longer matches its device's is stale and skipped when popped.
struct TimerHeap {
    enum Kind: UInt8 {
        /// End the poll (its interval is over). Sorted first at equal deadlines.
        case deadline = 0
        /// The session's request timed out or must be retransmitted.
        case requestTimeout = 1
        /// The device is due for its next poll.
        case due = 2
    }

    struct Entry {
        var at: UInt64
        var kind: Kind
        var slot: Int
        var token: UInt64

        @inline(__always)
        func before(_ other: Entry) -> Bool {
            at != other.at ? at < other.at : kind.rawValue < other.kind.rawValue
        }
    }

    private var entries: [Entry] = []

    var count: Int { entries.count }
    var next: UInt64? { entries.first?.at }

    mutating func push(_ entry: Entry) {
        entries.append(entry)
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard entries[child].before(entries[parent]) else { break }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the earliest entry if it is due at `now`.
    mutating func pop(dueAt now: UInt64) -> Entry? {
        guard let first = entries.first, first.at <= now else { return nil }
        let last = entries.removeLast()
        if !entries.isEmpty {
            entries[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                let right = left + 1
                var smallest = parent
                if left < entries.count && entries[left].before(entries[smallest]) { smallest = left }
                if right < entries.count && entries[right].before(entries[smallest]) { smallest = right }
                if smallest == parent { break }
                entries.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return first
    }

    mutating func removeAll() { entries.removeAll() }
}
