/// Why lines were rejected by the server: the `reason` tag of `estuary_output.rejected_lines`.
public enum RejectionReason: String, Sendable, CaseIterable {
    /// 400 `partial write`: the other lines were stored.
    case partialWrite = "partial_write"
    /// 400 without `partial write`: no line of the request was stored.
    case badRequest = "bad_request"
    /// `retention policy not found` (a 500 on InfluxDB 1.x): a configuration error.
    case retentionPolicy = "retention_policy"
    /// 413 for a single line: it cannot be split further.
    case tooLarge = "too_large"
}

/// What one answer of InfluxDB means for the request that got it, and so what the output does
/// next. Made by `classify`, a pure function of the status, body and headers (see the table in
/// Docs/outputs.md and notes/anchors-influxdb-collectd.md §2.3).
public enum InfluxWriteOutcome: Equatable, Sendable {
    /// 2xx: every line was stored.
    case accepted
    /// 400 (or 422, or a 5xx) `partial write`: the good lines were stored. Never resend; `rejectedLines` were
    /// not stored (`dropped=N` plus every unparsable line quoted in the message; at least 1).
    case partialWrite(rejectedLines: Int, message: String)
    /// Nothing was stored and resending cannot help (400, 422, `retention policy not found`):
    /// every line of the request is dropped, counted under `reason`. (The writer first cuts a
    /// request of several batches rejected with `badRequest` into halves, to keep the good ones.)
    case rejected(reason: RejectionReason, message: String)
    /// 401/403: keep the data, retry slowly, alert.
    case unauthorized(status: Int, message: String)
    /// v1 404 `database not found`: create it (once) when allowed, else keep and retry slowly.
    case databaseNotFound(message: String)
    /// Any other 404 (no such endpoint: a v2 write to InfluxDB < 1.8, a wrong path prefix):
    /// keep the data, retry slowly.
    case notFound(message: String)
    /// 413: the body is too large; split the request in halves.
    case tooLarge(message: String)
    /// 429/503: throttled or overloaded; back off to at least `retryAfter` seconds when given.
    case throttled(status: Int, retryAfter: Double?, message: String)
    /// Other 5xx: transient server trouble; retry with backoff (and at least `retryAfter`).
    case serverError(status: Int, retryAfter: Double?, message: String)
    /// Any other status (1xx, 3xx, other 4xx): keep the data, retry slowly.
    case unexpectedStatus(status: Int, message: String)
    /// No HTTP answer (connection refused or reset, timeout, TLS, DNS): retry with backoff.
    case transportFailure(message: String)

    /// The `reason` of this outcome in logs, status and `failed_requests` (nil for `accepted`).
    public var reason: String? {
        switch self {
        case .accepted: return nil
        case .partialWrite: return "partial_write"
        case .rejected(let reason, _): return reason.rawValue
        case .unauthorized: return "unauthorized"
        case .databaseNotFound: return "database_not_found"
        case .notFound: return "not_found"
        case .tooLarge: return "too_large"
        case .throttled: return "throttled"
        case .serverError: return "server_error"
        case .unexpectedStatus: return "unexpected_status"
        case .transportFailure: return "transport"
        }
    }

    /// The server's error text (or the transport error), empty for `accepted`.
    public var message: String {
        switch self {
        case .accepted: return ""
        case .partialWrite(_, let m), .rejected(_, let m), .unauthorized(_, let m), .databaseNotFound(let m),
             .notFound(let m), .tooLarge(let m), .throttled(_, _, let m), .serverError(_, _, let m),
             .unexpectedStatus(_, let m), .transportFailure(let m):
            return m
        }
    }

    /// Classifies an HTTP answer to a write of `lines` lines.
    ///
    /// - Parameters:
    ///   - status: the HTTP status code.
    ///   - body: the response body (InfluxDB 1.x: `{"error":"…"}`; 2.x: `{"code":…,"message":"…"}`;
    ///     a throttled 1.x answers plain text).
    ///   - headers: response headers; names are matched case-insensitively (`Retry-After`,
    ///     `X-Influxdb-Error`).
    ///   - lines: the number of lines in the request, the upper bound of `rejectedLines`.
    public static func classify(status: Int, body: [UInt8], headers: [String: String], lines: Int) -> InfluxWriteOutcome {
        let message = errorMessage(body: body, headers: headers)
        let lower = message.lowercased()
        let retryAfter = retryAfterSeconds(header(headers, "retry-after"))

        switch status {
        case 200..<300:
            return .accepted
        case 400, 422:
            // 422 is InfluxDB 2.x's answer for points it refuses for their content (beyond the
            // retention period: "failure writing points to database: partial write: …").
            if lower.contains("partial write") {
                return .partialWrite(rejectedLines: partialWriteRejectedLines(message, lines: lines), message: message)
            }
            if lower.contains("retention policy not found") {
                return .rejected(reason: .retentionPolicy, message: message)
            }
            return .rejected(reason: .badRequest, message: message)
        case 401, 403:
            return .unauthorized(status: status, message: message)
        case 404:
            if lower.contains("database not found") {
                return .databaseNotFound(message: message)
            }
            return .notFound(message: message)
        case 413:
            return .tooLarge(message: message)
        case 429:
            return .throttled(status: status, retryAfter: retryAfter, message: message)
        case 500..<600:
            if lower.contains("retention policy not found") {
                return .rejected(reason: .retentionPolicy, message: message)
            }
            // Some versions answer a partial write with a 5xx; the good lines were stored all
            // the same, and resending would loop forever on the bad ones.
            if lower.contains("partial write") {
                return .partialWrite(rejectedLines: partialWriteRejectedLines(message, lines: lines), message: message)
            }
            if status == 503 {
                return .throttled(status: status, retryAfter: retryAfter, message: message)
            }
            return .serverError(status: status, retryAfter: retryAfter, message: message)
        default:
            return .unexpectedStatus(status: status, message: message)
        }
    }

    /// How many lines a `partial write` message says were not stored: `dropped=N` (points the
    /// engine refused) plus each unparsable line quoted as `unable to parse '…'`, at least 1
    /// (the server said some line failed) and at most `lines`.
    static func partialWriteRejectedLines(_ message: String, lines: Int) -> Int {
        var count = 0
        if let dropped = droppedCount(message) { count += dropped }
        count += occurrences(of: "unable to parse '", in: message)
        return min(max(count, 1), max(lines, 1))
    }

    /// The N of the last `dropped=N` in a message.
    static func droppedCount(_ message: String) -> Int? {
        let utf8 = Array(message.utf8)
        let needle = Array("dropped=".utf8)
        guard utf8.count >= needle.count else { return nil }
        var i = utf8.count - needle.count
        while i >= 0 {
            if utf8[i..<(i + needle.count)].elementsEqual(needle) {
                var j = i + needle.count
                var value = 0
                var digits = 0
                while j < utf8.count, utf8[j] >= 0x30, utf8[j] <= 0x39, digits < 18 {
                    value = value * 10 + Int(utf8[j] - 0x30)
                    j += 1
                    digits += 1
                }
                return digits > 0 ? value : nil
            }
            i -= 1
        }
        return nil
    }

    static func occurrences(of needle: String, in text: String) -> Int {
        let hay = Array(text.utf8)
        let pattern = Array(needle.utf8)
        guard !pattern.isEmpty, hay.count >= pattern.count else { return 0 }
        var count = 0
        var i = 0
        while i <= hay.count - pattern.count {
            if hay[i..<(i + pattern.count)].elementsEqual(pattern) {
                count += 1
                i += pattern.count
            } else {
                i += 1
            }
        }
        return count
    }

    /// The error text of an answer: the JSON `error` (1.x) or `message` (2.x) string, else the
    /// `X-Influxdb-Error` header, else the body as text (trimmed, at most 4 KiB).
    static func errorMessage(body: [UInt8], headers: [String: String]) -> String {
        if let text = JSONErrorText.extract(body) { return text }
        if let text = header(headers, "x-influxdb-error"), !text.isEmpty { return text }
        var end = min(body.count, 4096)
        var start = 0
        while start < end, isSpace(body[start]) { start += 1 }
        while end > start, isSpace(body[end - 1]) { end -= 1 }
        return String(decoding: body[start..<end], as: UTF8.self)
    }

    private static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 }

    static func header(_ headers: [String: String], _ name: String) -> String? {
        if let exact = headers[name] { return exact }
        for (key, value) in headers where key.lowercased() == name { return value }
        return nil
    }

    /// `Retry-After` as seconds: a non-negative number (integer per RFC 9110, decimals
    /// tolerated). An HTTP-date is ignored (InfluxDB sends seconds), as is anything else.
    static func retryAfterSeconds(_ value: String?) -> Double? {
        guard let value else { return nil }
        let trimmed = value.trimmingSpaces()
        guard !trimmed.isEmpty, let seconds = Double(trimmed), seconds.isFinite, seconds >= 0 else { return nil }
        return seconds
    }
}

extension String {
    /// Without leading and trailing spaces, tabs, CRs and LFs (by scalar: "\r\n" is one
    /// Character, which a Character comparison with "\r" or "\n" would miss).
    func trimmingSpaces() -> String {
        var scalars = Substring(self).unicodeScalars[...]
        func isSpace(_ s: Unicode.Scalar) -> Bool { s == " " || s == "\t" || s == "\r" || s == "\n" }
        while let first = scalars.first, isSpace(first) { scalars = scalars.dropFirst() }
        while let last = scalars.last, isSpace(last) { scalars = scalars.dropLast() }
        return String(String.UnicodeScalarView(scalars))
    }
}

/// Reads the string value of a top-level `"error"` or `"message"` key from a JSON object,
/// without a JSON library (the bodies are small and only this one value matters). Anything
/// that is not such an object gives nil.
enum JSONErrorText {
    static func extract(_ body: [UInt8]) -> String? {
        var parser = Parser(bytes: body)
        return parser.object(keys: ["error", "message"])
    }

    struct Parser {
        let bytes: [UInt8]
        var i = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func skipSpace() {
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
        }

        /// Parses `{ "k": v, ... }` and returns the first wanted key's string value.
        mutating func object(keys: [String]) -> String? {
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "{") else { return nil }
            i += 1
            var found: [String: String] = [:]
            while true {
                skipSpace()
                guard i < bytes.count else { return nil }
                if bytes[i] == UInt8(ascii: "}") { break }
                guard let key = string() else { return nil }
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { return nil }
                i += 1
                skipSpace()
                guard i < bytes.count else { return nil }
                if bytes[i] == UInt8(ascii: "\"") {
                    guard let value = string() else { return nil }
                    if keys.contains(key), found[key] == nil { found[key] = value }
                } else {
                    guard skipValue() else { return nil }
                }
                skipSpace()
                guard i < bytes.count else { return nil }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { break }
                return nil
            }
            for key in keys { if let value = found[key] { return value } }
            return nil
        }

        /// Skips a non-string value (number, literal, nested object or array) by bracket depth.
        mutating func skipValue() -> Bool {
            var depth = 0
            while i < bytes.count {
                let b = bytes[i]
                if b == UInt8(ascii: "\"") {
                    guard string() != nil else { return false }
                    if depth == 0 { return true }
                    continue
                }
                if b == UInt8(ascii: "{") || b == UInt8(ascii: "[") { depth += 1 }
                if b == UInt8(ascii: "}") || b == UInt8(ascii: "]") {
                    if depth == 0 { return true }
                    depth -= 1
                    i += 1
                    if depth == 0 { return true }
                    continue
                }
                if depth == 0, b == UInt8(ascii: ",") { return true }
                i += 1
            }
            return depth == 0
        }

        /// Parses a JSON string at `i` (which must be a quote) with its escapes.
        mutating func string() -> String? {
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { return nil }
            i += 1
            var out: [UInt8] = []
            while i < bytes.count {
                let b = bytes[i]
                i += 1
                if b == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
                if b != UInt8(ascii: "\\") { out.append(b); continue }
                guard i < bytes.count else { return nil }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    guard var scalar = hex4() else { return nil }
                    if (0xD800..<0xDC00).contains(scalar), i + 1 < bytes.count,
                       bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") {
                        let save = i
                        i += 2
                        if let low = hex4(), (0xDC00..<0xE000).contains(low) {
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            i = save
                        }
                    }
                    let value = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                    out.append(contentsOf: Array(String(Character(value)).utf8))
                default:
                    return nil
                }
            }
            return nil
        }

        mutating func hex4() -> UInt32? {
            guard i + 4 <= bytes.count else { return nil }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[i]
                let d: UInt32
                switch c {
                case 0x30...0x39: d = UInt32(c - 0x30)
                case 0x41...0x46: d = UInt32(c - 0x41 + 10)
                case 0x61...0x66: d = UInt32(c - 0x61 + 10)
                default: return nil
                }
                v = v << 4 | d
                i += 1
            }
            return v
        }
    }
}
