#if canImport(Glibc)
import CLinuxDescriptors
import Glibc
#endif
import EstuaryCompression
import EstuaryRuntime
import Foundation

/// A loopback HTTP/1.1 server whose answers a test scripts, request by request, and which
/// records every request (headers, raw body, body un-gzipped). For fault tests of HTTP
/// clients: error statuses, `Retry-After`, a socket that never answers, a connection reset.
///
/// One accept thread and one thread per connection (keep-alive is honoured). Every wait is
/// bounded: the server stops by itself after `lifetime` seconds, and `stop()` (also run by
/// `deinit`) closes everything and waits at most a few seconds for its threads.
///
/// ```swift
/// let server = try ScriptedHTTPServer(script: [.respond(status: 503, headers: ["Retry-After": "1"])])
/// defer { server.stop() }
/// // ... point a client at server.url; after the script, every request gets 204 ...
/// #expect(server.requests.count == 2)
/// ```
public final class ScriptedHTTPServer: @unchecked Sendable {
    /// What to do with one request.
    public enum Action: Sendable {
        /// Answer with this status, headers and body (Content-Length is added).
        case respond(status: Int, headers: [String: String] = [:], body: String = "")
        /// Read the request and never answer; close after `seconds` (or when the client does).
        case hang(seconds: Double)
        /// Read the request, then reset the connection (RST, SO_LINGER 0).
        case reset
        /// Read the request, then close the connection without answering.
        case close
    }

    /// One request as received.
    public struct Request: Sendable {
        /// 0-based order of arrival.
        public var index: Int
        public var method: String
        /// Path and query as sent (`/write?db=x&precision=ns`).
        public var target: String
        public var path: String
        /// Query parameters, percent-decoded.
        public var query: [String: String]
        /// Header names lowercased.
        public var headers: [String: String]
        /// The body as received.
        public var body: [UInt8]
        /// The body, un-gzipped when `Content-Encoding: gzip` (empty if that failed; see `decodeError`).
        public var decodedBody: [UInt8]
        public var decodeError: String?
        /// When the request was complete (MonotonicClock-compatible ns, CLOCK_MONOTONIC).
        public var receivedAt: UInt64
        /// The connection it came on (0, 1, 2, … by accept order).
        public var connection: Int

        /// The decoded body's lines (without newlines; empty lines left out).
        public var lines: [String] {
            String(decoding: decodedBody, as: UTF8.self).split(separator: "\n").map(String.init)
        }
    }

    public let port: UInt16
    public var url: String { "http://127.0.0.1:\(port)" }

    private let listener: Int32
    private let responder: @Sendable (Request) -> Action
    private let deadline: UInt64
    private let lock = NSCondition()
    private var recorded: [Request] = []
    private var stopping = false
    private var activeThreads = 0
    private var connections = 0
    private var openFDs: Set<Int32> = []

    /// A server that asks `responder` what to do with each request.
    public init(lifetime: Double = 60, responder: @escaping @Sendable (Request) -> Action) throws {
        let (fd, port) = try LoopbackSockets.listenTCP()
        listener = fd
        self.port = port
        self.responder = responder
        deadline = Self.monotonicNow() + UInt64(max(lifetime, 0) * 1e9)
        startThread { [self] in acceptLoop() }
    }

    /// A server that answers the n-th request with `script[n]`, and every later one with `then`.
    public convenience init(script: [Action], then fallback: Action = .respond(status: 204), lifetime: Double = 60) throws {
        try self.init(lifetime: lifetime) { request in
            request.index < script.count ? script[request.index] : fallback
        }
    }

    deinit {
        stop()
    }

    /// Every request received so far, in order.
    public var requests: [Request] {
        lock.lock()
        defer { lock.unlock() }
        return recorded
    }

    /// Waits (at most `timeout` seconds) until at least `count` requests have arrived.
    @discardableResult
    public func waitForRequests(_ count: Int, timeout: Double) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        lock.lock()
        defer { lock.unlock() }
        while recorded.count < count {
            if !lock.wait(until: end) { return recorded.count >= count }
        }
        return true
    }

    /// Closes the listener and every connection, and waits (at most 3 s) for the threads.
    public func stop() {
        lock.lock()
        if stopping {
            lock.unlock()
            return
        }
        stopping = true
        for fd in openFDs { shutdown(fd, Int32(SHUT_RDWR)) }
        lock.broadcast()
        lock.unlock()
        shutdown(listener, Int32(SHUT_RDWR))
        let end = Date().addingTimeInterval(3)
        lock.lock()
        while activeThreads > 0, lock.wait(until: end) {}
        let threadsLeft = activeThreads
        lock.unlock()
        // A thread still running could accept on the listener's number after it went to
        // another test's socket: then the (shut down) listener is left open instead.
        if threadsLeft == 0 { close(listener) }
    }

    // MARK: - Threads

    private static func monotonicNow() -> UInt64 { MonotonicClock.now() }

    private var shouldStop: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopping || Self.monotonicNow() >= deadline
    }

    private func startThread(_ body: @escaping @Sendable () -> Void) {
        lock.lock()
        activeThreads += 1
        lock.unlock()
        let thread = Thread { [self] in
            body()
            lock.lock()
            activeThreads -= 1
            lock.broadcast()
            lock.unlock()
        }
        thread.start()
    }

    private func acceptLoop() {
        while !shouldStop {
            guard LoopbackSockets.waitReadable(listener, seconds: 0.1) else { continue }
            let fd = estuary_accept_cloexec(listener, nil, nil, 0)
            if fd < 0 { continue }
            lock.lock()
            if stopping {
                lock.unlock()
                close(fd)
                break
            }
            let number = connections
            connections += 1
            openFDs.insert(fd)
            lock.unlock()
            startThread { [self] in serve(fd, connection: number) }
        }
        // Past the lifetime: close the connections too.
        lock.lock()
        for fd in openFDs { shutdown(fd, Int32(SHUT_RDWR)) }
        lock.unlock()
    }

    /// Reads until `predicate` holds for the buffer; false on EOF, error, stop or lifetime.
    private func fill(_ fd: Int32, _ buffer: inout [UInt8], until predicate: ([UInt8]) -> Bool) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while !predicate(buffer) {
            if shouldStop { return false }
            guard LoopbackSockets.waitReadable(fd, seconds: 0.1) else { continue }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return false }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                return false
            }
            buffer.append(contentsOf: chunk[0..<n])
        }
        return true
    }

    /// Forgets and closes a connection under the lock, so `stop()` never shuts down a
    /// descriptor number the process has reused since.
    private func closeConnection(_ fd: Int32, reset: Bool = false) {
        lock.lock()
        openFDs.remove(fd)
        if reset { LoopbackSockets.reset(fd) } else { close(fd) }
        lock.unlock()
    }

    private func serve(_ fd: Int32, connection: Int) {
        var buffer: [UInt8] = []
        let separator: [UInt8] = [13, 10, 13, 10]
        while true {
            guard fill(fd, &buffer, until: { SimpleHTTPClient.indexOf(separator, in: $0) != nil }),
                  let headEnd = SimpleHTTPClient.indexOf(separator, in: buffer) else {
                closeConnection(fd)
                return
            }
            let head = String(decoding: buffer[..<headEnd], as: UTF8.self)
            buffer.removeSubrange(..<(headEnd + 4))
            var lines = head.components(separatedBy: "\r\n")
            let requestLine = lines.removeFirst().split(separator: " ").map(String.init)
            var headers: [String: String] = [:]
            for line in lines {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            if headers["expect"]?.lowercased() == "100-continue" {
                try? LoopbackSockets.writeAll(fd, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
            }
            let length = Int(headers["content-length"] ?? "0") ?? 0
            guard fill(fd, &buffer, until: { $0.count >= length }) else {
                closeConnection(fd)
                return
            }
            let body = Array(buffer[..<length])
            buffer.removeSubrange(..<length)

            let target = requestLine.count > 1 ? requestLine[1] : "/"
            var decoded = body
            var decodeError: String? = nil
            if headers["content-encoding"]?.lowercased() == "gzip" {
                do {
                    decoded = try Gzip.decompress(body)
                } catch {
                    decoded = []
                    decodeError = "\(error)"
                }
            }
            lock.lock()
            let request = Request(index: recorded.count, method: requestLine.first ?? "", target: target,
                                  path: String(target.split(separator: "?", maxSplits: 1).first ?? ""),
                                  query: Self.parseQuery(target), headers: headers, body: body, decodedBody: decoded,
                                  decodeError: decodeError, receivedAt: Self.monotonicNow(), connection: connection)
            recorded.append(request)
            lock.broadcast()
            lock.unlock()

            switch responder(request) {
            case .respond(let status, let extra, let text):
                let bodyBytes = Array(text.utf8)
                var response = "HTTP/1.1 \(status) \(Self.reasonPhrase(status))\r\nContent-Length: \(bodyBytes.count)\r\n"
                for (name, value) in extra { response += "\(name): \(value)\r\n" }
                response += "\r\n"
                do {
                    try LoopbackSockets.writeAll(fd, Array(response.utf8) + bodyBytes)
                } catch {
                    closeConnection(fd)
                    return
                }
                if headers["connection"]?.lowercased() == "close" {
                    closeConnection(fd)
                    return
                }
            case .hang(let seconds):
                let end = Self.monotonicNow() + UInt64(max(seconds, 0) * 1e9)
                var scratch = [UInt8](repeating: 0, count: 4096)
                while Self.monotonicNow() < end, !shouldStop {
                    guard LoopbackSockets.waitReadable(fd, seconds: 0.05) else { continue }
                    let n = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                    if n <= 0 { break }  // the client gave up and closed
                }
                closeConnection(fd)
                return
            case .reset:
                closeConnection(fd, reset: true)
                return
            case .close:
                closeConnection(fd)
                return
            }
        }
    }

    static func parseQuery(_ target: String) -> [String: String] {
        let parts = target.split(separator: "?", maxSplits: 1)
        guard parts.count == 2 else { return [:] }
        var result: [String: String] = [:]
        for pair in parts[1].split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(kv[0]).removingPercentEncoding ?? String(kv[0])
            let value = kv.count > 1 ? (String(kv[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(kv[1])) : ""
            result[key] = value
        }
        return result
    }

    static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 204: return "No Content"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 413: return "Request Entity Too Large"
        case 429: return "Too Many Requests"
        case 500: return "Internal Server Error"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        default: return "Status"
        }
    }
}
