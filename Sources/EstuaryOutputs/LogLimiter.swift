/// Rate-limits log lines by key (a reason): the first one is logged, the next ones within
/// `window` are only counted, and the first one after the window is logged with that count.
/// A server that fails the same way 100 times a second gives one log line a minute.
struct LogLimiter: Sendable {
    let windowNanoseconds: UInt64
    private var entries: [String: Entry] = [:]

    private struct Entry: Sendable {
        var lastLogged: UInt64
        var suppressed: Int
    }

    init(windowSeconds: Double = 60) {
        windowNanoseconds = UInt64(max(windowSeconds, 0) * 1e9)
    }

    /// nil: do not log (counted). A number: log now, mentioning that many suppressed lines.
    mutating func admit(_ key: String, now: UInt64) -> Int? {
        guard var entry = entries[key] else {
            entries[key] = Entry(lastLogged: now, suppressed: 0)
            return 0
        }
        if now &- entry.lastLogged >= windowNanoseconds {
            let suppressed = entry.suppressed
            entry.lastLogged = now
            entry.suppressed = 0
            entries[key] = entry
            return suppressed
        }
        entry.suppressed += 1
        entries[key] = entry
        return nil
    }

    /// Forgets a key, so that its next occurrence is logged at once (after a recovery).
    mutating func reset(_ key: String) {
        entries[key] = nil
    }

    /// Forgets every key.
    mutating func resetAll() {
        entries.removeAll()
    }
}
