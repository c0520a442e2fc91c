import CCurl
import CLinuxDescriptors

/// An HTTP answer: status, headers (names lowercased; a repeated header keeps the last value)
/// and the first `bodyLimit` bytes of the body.
struct HTTPResponse: Sendable {
    var status: Int
    var headers: [String: String]
    var body: [UInt8]
}

/// A request that got no HTTP answer: libcurl's code and its message.
struct HTTPTransportError: Error, Sendable, CustomStringConvertible {
    /// libcurl's CURLcode (28 timeout, 7 connection refused, 52 empty reply, 56 receive error, …).
    var code: UInt32
    var message: String

    var description: String { "\(message) (curl \(code))" }
    var isTimeout: Bool { code == CURLE_OPERATION_TIMEDOUT.rawValue }
}

/// Why a client could not be made.
enum CurlClientError: Error {
    case initializationFailed
}

/// libcurl's global initialization, once per process, before the first easy handle.
private let curlGlobalInitialization: UInt32 = estuary_curl_global_init_all().rawValue

/// One reused libcurl easy handle: keep-alive to the server, TCP_NODELAY, timeouts, TLS.
///
/// Confined to the thread that uses it (libcurl easy handles are not thread-safe); the output
/// makes it on its writer thread and keeps it there.
final class CurlHTTPClient {
    private let handle: UnsafeMutableRawPointer
    private let errorBuffer: UnsafeMutablePointer<CChar>
    private let sink: ResponseSink
    /// Whether a transfer has run: the first one makes libcurl's internal multi handle.
    private var performed = false

    /// Keeps what the server answers; libcurl's callbacks reach it through their userdata.
    final class ResponseSink {
        var body: [UInt8] = []
        var headers: [String: String] = [:]
        let bodyLimit: Int

        init(bodyLimit: Int) { self.bodyLimit = bodyLimit }

        func reset() {
            body.removeAll(keepingCapacity: true)
            headers.removeAll(keepingCapacity: true)
        }
    }

    /// - Parameters:
    ///   - insecureSkipVerify: do not verify the server certificate or host name (HTTPS).
    ///   - bodyLimit: the most response bytes kept (the rest is read and discarded).
    init(insecureSkipVerify: Bool, userAgent: String = "estuary", bodyLimit: Int = 64 * 1024) throws(CurlClientError) {
        _ = curlGlobalInitialization
        guard let handle = curl_easy_init() else { throw .initializationFailed }
        self.handle = handle
        let size = Int(estuary_curl_error_size())
        errorBuffer = .allocate(capacity: size)
        errorBuffer.initialize(repeating: 0, count: size)
        sink = ResponseSink(bodyLimit: bodyLimit)

        // Several threads, no signals: timeouts must not use SIGALRM.
        setLong(CURLOPT_NOSIGNAL, 1)
        setLong(CURLOPT_TCP_NODELAY, 1)
        setLong(CURLOPT_TCP_KEEPALIVE, 1)
        setLong(CURLOPT_FOLLOWLOCATION, 0)
        _ = estuary_curl_easy_use_cloexec_sockets(handle)
        _ = estuary_curl_easy_setopt_string(handle, CURLOPT_USERAGENT, userAgent)
        _ = estuary_curl_easy_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer)
        if insecureSkipVerify {
            setLong(CURLOPT_SSL_VERIFYPEER, 0)
            setLong(CURLOPT_SSL_VERIFYHOST, 0)
        }

        let context = Unmanaged.passUnretained(sink).toOpaque()
        _ = estuary_curl_easy_setopt_data_callback(handle, CURLOPT_WRITEFUNCTION, { buffer, size, count, userdata in
            let total = size &* count
            guard let buffer, let userdata else { return total }
            let sink = Unmanaged<CurlHTTPClient.ResponseSink>.fromOpaque(userdata).takeUnretainedValue()
            let room = sink.bodyLimit - sink.body.count
            if room > 0 {
                let keep = min(room, total)
                buffer.withMemoryRebound(to: UInt8.self, capacity: keep) { bytes in
                    sink.body.append(contentsOf: UnsafeBufferPointer(start: bytes, count: keep))
                }
            }
            return total
        })
        _ = estuary_curl_easy_setopt_pointer(handle, CURLOPT_WRITEDATA, context)
        _ = estuary_curl_easy_setopt_data_callback(handle, CURLOPT_HEADERFUNCTION, { buffer, size, count, userdata in
            let total = size &* count
            guard let buffer, let userdata else { return total }
            let sink = Unmanaged<CurlHTTPClient.ResponseSink>.fromOpaque(userdata).takeUnretainedValue()
            let line = buffer.withMemoryRebound(to: UInt8.self, capacity: total) { bytes in
                String(decoding: UnsafeBufferPointer(start: bytes, count: total), as: UTF8.self)
            }
            CurlHTTPClient.takeHeaderLine(line, into: sink)
            return total
        })
        _ = estuary_curl_easy_setopt_pointer(handle, CURLOPT_HEADERDATA, context)
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    /// Records one header line; a status line (`HTTP/…`) starts a new header block (after a
    /// `100 Continue`, only the final answer's headers remain).
    static func takeHeaderLine(_ line: String, into sink: ResponseSink) {
        if line.hasPrefix("HTTP/") {
            sink.headers.removeAll(keepingCapacity: true)
            return
        }
        guard let colon = line.firstIndex(of: ":") else { return }
        let name = line[..<colon].lowercased()
        let value = String(line[line.index(after: colon)...]).trimmingSpaces()
        sink.headers[name] = value
    }

    private func setLong(_ option: CURLoption, _ value: Int) {
        _ = estuary_curl_easy_setopt_long(handle, option, value)
    }

    /// POSTs `body` to `url` and waits for the answer, at most `timeout` seconds in all.
    ///
    /// - Parameter headers: complete header lines (`Name: value`).
    func post(url: String, headers: [String], body: UnsafeRawBufferPointer, timeout: Double) -> Result<HTTPResponse, HTTPTransportError> {
        sink.reset()
        errorBuffer[0] = 0
        var list: UnsafeMutablePointer<curl_slist>? = nil
        // libcurl would add `Expect: 100-continue` to large bodies and wait a round trip for it.
        for line in headers + ["Expect:"] {
            guard let appended = curl_slist_append(list, line) else {
                curl_slist_free_all(list)
                return .failure(HTTPTransportError(code: CURLE_OUT_OF_MEMORY.rawValue, message: "out of memory building headers"))
            }
            list = appended
        }
        defer { curl_slist_free_all(list) }

        let milliseconds = max(1, Int((timeout * 1000).rounded(.up).clamped(to: 1...1e9)))
        _ = estuary_curl_easy_setopt_string(handle, CURLOPT_URL, url)
        setLong(CURLOPT_POST, 1)
        _ = estuary_curl_easy_setopt_slist(handle, CURLOPT_HTTPHEADER, list)
        setLong(CURLOPT_TIMEOUT_MS, milliseconds)
        setLong(CURLOPT_CONNECTTIMEOUT_MS, milliseconds)
        _ = estuary_curl_easy_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
        // POSTFIELDS is not copied: `body` stays valid until curl_easy_perform returns. A
        // non-null pointer even for an empty body (null would mean "read from a callback").
        var empty: UInt8 = 0
        let code: CURLcode = withUnsafeMutablePointer(to: &empty) { emptyPointer in
            let pointer = body.baseAddress.map { UnsafeMutableRawPointer(mutating: $0) } ?? UnsafeMutableRawPointer(emptyPointer)
            _ = estuary_curl_easy_setopt_pointer(handle, CURLOPT_POSTFIELDS, pointer)
            let result = curl_easy_perform(handle)
            _ = estuary_curl_easy_setopt_pointer(handle, CURLOPT_POSTFIELDS, nil)
            return result
        }
        _ = estuary_curl_easy_setopt_slist(handle, CURLOPT_HTTPHEADER, nil)
        if !performed {
            // The first transfer made libcurl's multi handle, whose wakeup socketpair libcurl
            // 7.88 (Debian 12) opens without close-on-exec and with no option to ask for it.
            // Every descriptor of Estuary's should carry the flag, so set it on all at once.
            performed = true
            _ = estuary_close_on_exec_from(3)
        }

        guard code == CURLE_OK else {
            let detail = String(cString: errorBuffer)
            let message = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            return .failure(HTTPTransportError(code: code.rawValue, message: message))
        }
        var status = 0
        _ = estuary_curl_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return .success(HTTPResponse(status: status, headers: sink.headers, body: sink.body))
    }
}

extension Double {
    func clamped(to range: ClosedRange<Double>) -> Double {
        if self.isNaN { return range.lowerBound }
        return Swift.min(Swift.max(self, range.lowerBound), range.upperBound)
    }
}
