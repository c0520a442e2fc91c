import CLinuxDescriptors
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A request the small HTTP server passes to its handler: the method and the path (without
/// the query string).
public struct HTTPRequest: Sendable {
    public var method: String
    public var path: String
}

/// What the handler answers.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]

    public init(status: Int, contentType: String = "text/plain; charset=utf-8", body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    public init(status: Int, contentType: String = "text/plain; charset=utf-8", text: String) {
        self.init(status: status, contentType: contentType, body: Array(text.utf8))
    }
}

/// Settings of the HTTP server.
public struct HTTPServerOptions: Sendable {
    public var listen: SocketAddress
    /// Connections served at once; more are answered 503 and closed.
    public var maxConnections: Int
    /// The request head (request line and headers) must fit in this many bytes, or the
    /// answer is 431 and the connection is closed. Bodies are not read.
    public var maxRequestBytes: Int
    /// A request must arrive whole within this many seconds, and its answer be taken by the
    /// client within as long again, or the connection is closed.
    public var timeout: Double

    public init(listen: SocketAddress, maxConnections: Int = 8, maxRequestBytes: Int = 8192, timeout: Double = 5) {
        self.listen = listen
        self.maxConnections = maxConnections
        self.maxRequestBytes = maxRequestBytes
        self.timeout = timeout
    }
}

/// A minimal HTTP/1.1 server for the health endpoint, on a Dispatch queue of its own and
/// nonblocking BSD sockets: one request per connection (`Connection: close`), GET and HEAD
/// only, a bounded number of connections, a request size cap and a timeout, so that a slow
/// or hostile client costs a few kilobytes and never holds up anything else. The handler
/// runs on the server's queue.
public final class HTTPServer: @unchecked Sendable {  // state confined to `queue`
    public let options: HTTPServerOptions
    private let socket: Socket
    private let queue: DispatchQueue
    private let handler: @Sendable (HTTPRequest) -> HTTPResponse
    private var acceptSource: (any DispatchSourceRead)?
    private var timer: (any DispatchSourceTimer)?
    private var connections: [Int: Connection] = [:]
    private var nextID = 0
    private let served = Atomic<Int>(0)
    /// So that running out of descriptors closes the waiting connection instead of leaving it
    /// in the backlog (and the accept source firing) for ever.
    private var reserve = DescriptorReserve()

    /// Binds and listens (so a bad address fails at start with the errno).
    public init(options: HTTPServerOptions, handler: @escaping @Sendable (HTTPRequest) -> HTTPResponse) throws(SocketError) {
        self.options = options
        self.handler = handler
        socket = try Socket.listening(on: options.listen, backlog: 64)
        queue = DispatchQueue(label: "estuary.http", qos: .utility)
        reserve.open()
    }

    /// The address the server is bound to (the real port when the configuration said 0).
    public var boundAddress: SocketAddress? { socket.localAddress() }

    /// Requests answered so far.
    public var requestsServed: Int { served.load(ordering: .relaxed) }

    public func start() {
        queue.sync {
            let source = DispatchSource.makeReadSource(fileDescriptor: socket.fd, queue: queue)
            source.setEventHandler { @Sendable [weak self] in self?.acceptAll() }
            source.setCancelHandler { @Sendable [socket] in socket.close() }
            acceptSource = source
            source.resume()
            let timer = DispatchSource.makeTimerSource(queue: queue)
            timer.schedule(deadline: .now() + .milliseconds(250), repeating: .milliseconds(250), leeway: .milliseconds(50))
            timer.setEventHandler { @Sendable [weak self] in self?.closeExpired() }
            self.timer = timer
            timer.resume()
        }
    }

    /// Stops accepting and closes every connection.
    public func stop() {
        queue.sync {
            timer?.cancel()
            if let acceptSource {
                acceptSource.cancel()
            } else {
                socket.close()  // never started: no source owns the descriptor
            }
            acceptSource = nil
            for connection in connections.values { connection.finish() }
            connections.removeAll()
            reserve.close()
        }
    }

    /// One client connection: what it sent so far, the answer being written, its deadline.
    /// The descriptor is closed once the connection is finished and its read source (if
    /// any) has been cancelled, whichever comes last (Dispatch: never before the cancel handler).
    final class Connection: @unchecked Sendable {  // confined to the server's queue
        let fd: Int32
        let id: Int
        var request: [UInt8] = []
        var response: [UInt8]?
        var written = 0
        var readSource: (any DispatchSourceRead)?
        var sourceReleased = true
        var finished = false
        let deadline: UInt64

        init(fd: Int32, id: Int, deadline: UInt64) {
            self.fd = fd
            self.id = id
            self.deadline = deadline
        }

        func stopReading() {
            readSource?.cancel()
            readSource = nil
        }

        func finish() {
            guard !finished else { return }
            finished = true
            stopReading()
            if sourceReleased { Glibc.close(fd) }
        }
    }

    private func acceptAll() {
        while true {
            let fd = estuary_accept_cloexec(socket.fd, nil, nil, 1)
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                if reserve.shed(listener: socket.fd, error: errno) { continue }
                return
            }
            nextID += 1
            let connection = Connection(fd: fd, id: nextID,
                                        deadline: DispatchTime.now().uptimeNanoseconds + UInt64(options.timeout * 1e9))
            connections[connection.id] = connection
            if connections.count > options.maxConnections {
                // Answered, not served: a health checker learns that the endpoint is busy.
                respond(connection, HTTPResponse(status: 503, text: "too many connections\n"), head: false)
                continue
            }
            let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
            source.setEventHandler { @Sendable [weak self, connection] in self?.read(connection) }
            source.setCancelHandler { @Sendable [connection] in
                connection.sourceReleased = true
                if connection.finished { Glibc.close(connection.fd) }
            }
            connection.sourceReleased = false
            connection.readSource = source
            source.resume()
        }
    }

    private func read(_ connection: Connection) {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !connection.finished && connection.response == nil {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(connection.fd, $0.baseAddress, $0.count) }
            if n > 0 {
                connection.request.append(contentsOf: chunk[0..<n])
                if let end = headEnd(connection.request) {
                    answer(connection, head: Array(connection.request[..<end]))
                    return
                }
                if connection.request.count > options.maxRequestBytes {
                    respond(connection, HTTPResponse(status: 431, text: "request too large\n"), head: false)
                    return
                }
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return }
            drop(connection)  // end of stream or an error before a whole request
            return
        }
    }

    /// The index just past the blank line ending the head (`\r\n\r\n`, or `\n\n`).
    private func headEnd(_ bytes: [UInt8]) -> Int? {
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "\n") {
                if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "\n") { return index + 2 }
                if index + 2 < bytes.count, bytes[index + 1] == UInt8(ascii: "\r"), bytes[index + 2] == UInt8(ascii: "\n") {
                    return index + 3
                }
            }
            index += 1
        }
        return nil
    }

    private func answer(_ connection: Connection, head: [UInt8]) {
        let requestLine = head.prefix { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") }
        let parts = requestLine.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true)
        guard parts.count == 3, parts[2].starts(with: Array("HTTP/1.".utf8)) else {
            respond(connection, HTTPResponse(status: 400, text: "bad request\n"), head: false)
            return
        }
        let method = String(decoding: parts[0], as: UTF8.self)
        var target = String(decoding: parts[1], as: UTF8.self)
        if let query = target.firstIndex(of: "?") { target = String(target[..<query]) }
        guard method == "GET" || method == "HEAD" else {
            respond(connection, HTTPResponse(status: 405, text: "only GET and HEAD\n"), head: false, allow: true)
            return
        }
        respond(connection, handler(HTTPRequest(method: method, path: target)), head: method == "HEAD")
    }

    private static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 400: return "Bad Request"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 431: return "Request Header Fields Too Large"
        case 503: return "Service Unavailable"
        default: return "Status"
        }
    }

    private func respond(_ connection: Connection, _ response: HTTPResponse, head: Bool, allow: Bool = false) {
        served.wrappingAdd(1, ordering: .relaxed)
        var text = "HTTP/1.1 \(response.status) \(Self.reason(response.status))\r\n"
        text += "Content-Type: \(response.contentType)\r\nContent-Length: \(response.body.count)\r\n"
        text += "Cache-Control: no-store\r\nConnection: close\r\n"
        if allow { text += "Allow: GET, HEAD\r\n" }
        text += "\r\n"
        connection.response = Array(text.utf8) + (head ? [] : response.body)
        connection.stopReading()  // what the client still sends is ignored
        write(connection)
    }

    /// Writes what the socket takes; the rest is tried again on the next timer tick (answers
    /// are small: a socket buffer usually takes them whole).
    private func write(_ connection: Connection) {
        guard let response = connection.response else { return }
        while connection.written < response.count {
            let n = response[connection.written...].withUnsafeBytes {
                Glibc.send(connection.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if n > 0 {
                connection.written += n
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return }
            break  // the client went away
        }
        // Closing with unread bytes (a body we did not read) would reset the connection and
        // could cost the client our answer: end our side, take what already arrived.
        _ = Glibc.shutdown(connection.fd, Int32(SHUT_WR))
        var sink = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<16 {
            let n = sink.withUnsafeMutableBytes { Glibc.recv(connection.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n <= 0 { break }
        }
        drop(connection)
    }

    private func drop(_ connection: Connection) {
        connections[connection.id] = nil
        connection.finish()
    }

    /// Goes on with unfinished answers; closes connections past their deadline (a request
    /// not sent in time, an answer not taken in as long again).
    private func closeExpired() {
        let now = DispatchTime.now().uptimeNanoseconds
        let grace = UInt64(options.timeout * 1e9)
        for connection in connections.values {
            if connection.response != nil {
                if now > connection.deadline &+ grace { drop(connection) } else { write(connection) }
            } else if now > connection.deadline {
                drop(connection)
            }
        }
    }
}
