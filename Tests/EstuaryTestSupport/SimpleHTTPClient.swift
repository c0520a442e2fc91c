#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// An HTTP answer read by `SimpleHTTPClient`.
public struct SimpleHTTPResponse: Sendable {
    public var status: Int
    /// Header names lowercased.
    public var headers: [String: String]
    public var body: [UInt8]
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// Why a `SimpleHTTPClient` request failed.
public enum SimpleHTTPError: Error, CustomStringConvertible {
    case socket(LoopbackSocketError)
    case malformedResponse(String)
    case timedOut

    public var description: String {
        switch self {
        case .socket(let e): return "\(e)"
        case .malformedResponse(let s): return "malformed HTTP response: \(s)"
        case .timedOut: return "timed out"
        }
    }
}

/// A tiny blocking HTTP/1.0 client for tests (one request per connection, read to EOF), so
/// test helpers talk to servers without the code under test or URLSession.
public enum SimpleHTTPClient {
    public static func request(method: String, port: UInt16, path: String, headers: [String: String] = [:],
                               body: [UInt8] = [], timeout: Double = 5) throws(SimpleHTTPError) -> SimpleHTTPResponse {
        let fd: Int32
        do { fd = try LoopbackSockets.connectTCP(port: port, timeout: timeout) } catch { throw .socket(error as? LoopbackSocketError ?? LoopbackSocketError(call: "connect", errno: 0)) }
        defer { close(fd) }
        var head = "\(method) \(path) HTTP/1.0\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "Content-Length: \(body.count)\r\n\r\n"
        do { try LoopbackSockets.writeAll(fd, Array(head.utf8) + body) } catch { throw .socket(error as? LoopbackSocketError ?? LoopbackSocketError(call: "send", errno: 0)) }

        let end = Date().addingTimeInterval(timeout)
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            if Date() >= end { throw .timedOut }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { break }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { throw .timedOut }
                throw .socket(LoopbackSocketError(call: "recv", errno: errno))
            }
            received.append(contentsOf: buffer[0..<n])
        }
        return try parse(received)
    }

    static func parse(_ bytes: [UInt8]) throws(SimpleHTTPError) -> SimpleHTTPResponse {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let headEnd = indexOf(separator, in: bytes) else { throw .malformedResponse("no end of headers") }
        let head = String(decoding: bytes[..<headEnd], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        guard !lines.isEmpty else { throw .malformedResponse("empty") }
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw .malformedResponse("status line") }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return SimpleHTTPResponse(status: status, headers: headers, body: Array(bytes[(headEnd + 4)...]))
    }

    static func indexOf(_ needle: [UInt8], in hay: [UInt8], from start: Int = 0) -> Int? {
        guard hay.count >= needle.count, start <= hay.count - needle.count else { return nil }
        var i = start
        while i <= hay.count - needle.count {
            if hay[i] == needle[0], hay[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }

    /// `application/x-www-form-urlencoded` of the given pairs.
    public static func formEncode(_ pairs: [(String, String)]) -> String {
        let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        return pairs.map { key, value in
            (key.addingPercentEncoding(withAllowedCharacters: allowed) ?? key) + "="
                + (value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value)
        }.joined(separator: "&")
    }
}
