/// Writes the parts of one collectd datagram, byte for byte as collectd's client does
/// (and, through `raw`, any malformed part a test or fuzzer needs).
public struct CollectdPacketWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func string(_ type: UInt16, _ value: String) {
        let payload = Array(value.utf8) + [0]
        raw(type: type, payload: payload)
    }

    public mutating func number(_ type: UInt16, _ value: UInt64) {
        var payload: [UInt8] = []
        appendBigEndian(value, to: &payload)
        raw(type: type, payload: payload)
    }

    public mutating func host(_ value: String) { string(CollectdPartType.host, value) }
    public mutating func plugin(_ value: String) { string(CollectdPartType.plugin, value) }
    public mutating func pluginInstance(_ value: String) { string(CollectdPartType.pluginInstance, value) }
    public mutating func type(_ value: String) { string(CollectdPartType.type, value) }
    public mutating func typeInstance(_ value: String) { string(CollectdPartType.typeInstance, value) }
    /// TIME_HR, in cdtime units.
    public mutating func timeHR(_ cdtime: UInt64) { number(CollectdPartType.timeHR, cdtime) }
    /// INTERVAL_HR, in cdtime units.
    public mutating func intervalHR(_ cdtime: UInt64) { number(CollectdPartType.intervalHR, cdtime) }
    /// The old TIME part, in whole seconds.
    public mutating func time(seconds: UInt64) { number(CollectdPartType.time, seconds) }
    /// The old INTERVAL part, in whole seconds.
    public mutating func interval(seconds: UInt64) { number(CollectdPartType.interval, seconds) }
    public mutating func severity(_ value: UInt64) { number(CollectdPartType.severity, value) }
    public mutating func message(_ value: String) { string(CollectdPartType.message, value) }

    /// A VALUES part: count, one type code per value, then the values (GAUGE little-endian).
    public mutating func values(_ values: [CollectdValue]) {
        var payload: [UInt8] = []
        payload.append(UInt8(truncatingIfNeeded: values.count >> 8))
        payload.append(UInt8(truncatingIfNeeded: values.count))
        for value in values { payload.append(value.dsType.rawValue) }
        for value in values {
            switch value {
            case .counter(let v), .absolute(let v): appendBigEndian(v, to: &payload)
            case .derive(let v): appendBigEndian(UInt64(bitPattern: v), to: &payload)
            case .gauge(let v): appendBigEndian(v.bitPattern.byteSwapped, to: &payload)
            }
        }
        raw(type: CollectdPartType.values, payload: payload)
    }

    /// Any part: header with the given type and `length` (default: header + payload), then the payload.
    public mutating func raw(type: UInt16, payload: [UInt8], length: Int? = nil) {
        let total = length ?? (payload.count + CollectdPartType.headerSize)
        bytes.append(UInt8(truncatingIfNeeded: type >> 8))
        bytes.append(UInt8(truncatingIfNeeded: type))
        bytes.append(UInt8(truncatingIfNeeded: total >> 8))
        bytes.append(UInt8(truncatingIfNeeded: total))
        bytes.append(contentsOf: payload)
    }

    /// Appends bytes as they are (truncated parts, garbage).
    public mutating func append(_ raw: [UInt8]) { bytes.append(contentsOf: raw) }

    public var count: Int { bytes.count }
}

@inline(__always)
func appendBigEndian(_ value: UInt64, to bytes: inout [UInt8]) {
    for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
}

/// Encodes value lists into collectd network datagrams the way collectd's network plugin
/// sends them: parts written only when they change within a datagram, TIME_HR and
/// INTERVAL_HR, a new datagram when the next value list would not fit, optionally signed or
/// encrypted. Estuary uses it for tests and for generating load in benchmarks.
public struct CollectdPacketEncoder: Sendable {
    /// What the datagrams are wrapped in.
    public enum Security: Sendable, Hashable {
        case none
        case sign(user: String, password: String)
        case encrypt(user: String, password: String)
    }

    public let maxPacketSize: Int
    public let security: Security
    private let cryptography: (any CollectdCryptography)?

    /// - Parameters:
    ///   - maxPacketSize: collectd's MaxPacketSize (default 1452), security overhead included.
    ///   - security: plain, signed or encrypted datagrams.
    ///   - cryptography: required for `sign` and `encrypt`.
    public init(maxPacketSize: Int = 1452, security: Security = .none, cryptography: (any CollectdCryptography)? = nil) {
        precondition(security == .none || cryptography != nil, "signing and encrypting need a CollectdCryptography")
        self.maxPacketSize = maxPacketSize
        self.security = security
        self.cryptography = cryptography
    }

    /// Payload room per datagram after the security part's overhead (collectd reserves it the same way).
    var payloadBudget: Int {
        switch security {
        case .none: return maxPacketSize
        case .sign(let user, _): return maxPacketSize - CollectdPartType.signatureHeaderSize - user.utf8.count
        case .encrypt(let user, _):
            return maxPacketSize - 6 - user.utf8.count - CollectdPartType.encryptionIVSize - CollectdPartType.encryptionChecksumSize
        }
    }

    /// The datagrams carrying `lists`, in order.
    public func encode(_ lists: [CollectdValueList]) -> [[UInt8]] {
        var datagrams: [[UInt8]] = []
        var writer = CollectdPacketWriter()
        var last = CollectdValueList(host: "", plugin: "", type: "", time: 0, values: [])
        for list in lists {
            var attempt = writer
            Self.write(list, after: last, into: &attempt)
            if attempt.count > payloadBudget && writer.count > 0 {
                datagrams.append(wrap(writer.bytes))
                writer = CollectdPacketWriter()
                last = CollectdValueList(host: "", plugin: "", type: "", time: 0, values: [])
                attempt = writer
                Self.write(list, after: last, into: &attempt)
            }
            writer = attempt
            last = list
        }
        if writer.count > 0 { datagrams.append(wrap(writer.bytes)) }
        return datagrams
    }

    private static func write(_ list: CollectdValueList, after last: CollectdValueList, into writer: inout CollectdPacketWriter) {
        if list.host != last.host { writer.host(list.host) }
        if list.time != last.time { writer.timeHR(list.time) }
        if list.interval != last.interval { writer.intervalHR(list.interval) }
        if list.plugin != last.plugin { writer.plugin(list.plugin) }
        if list.pluginInstance != last.pluginInstance { writer.pluginInstance(list.pluginInstance) }
        if list.type != last.type { writer.type(list.type) }
        if list.typeInstance != last.typeInstance { writer.typeInstance(list.typeInstance) }
        writer.values(list.values)
    }

    /// Wraps a plain payload in the configured security part.
    public func wrap(_ payload: [UInt8]) -> [UInt8] {
        switch security {
        case .none:
            return payload
        case .sign(let user, let password):
            return Self.signed(payload, user: user, password: password, cryptography: cryptography!)
        case .encrypt(let user, let password):
            var iv = [UInt8](repeating: 0, count: CollectdPartType.encryptionIVSize)
            var generator = SystemRandomNumberGenerator()
            for i in iv.indices { iv[i] = UInt8.random(in: 0...255, using: &generator) }
            return Self.encrypted(payload, user: user, password: password, iv: iv, cryptography: cryptography!)
        }
    }

    /// A signature part (HMAC-SHA-256 over the username and the payload) followed by the payload.
    public static func signed(_ payload: [UInt8], user: String, password: String,
                              cryptography: any CollectdCryptography) -> [UInt8] {
        let userBytes = Array(user.utf8)
        let message = userBytes + payload
        let mac = Array(password.utf8).withUnsafeBytes { key in
            message.withUnsafeBytes { cryptography.hmacSHA256(key: key, message: $0) }
        }
        var writer = CollectdPacketWriter()
        writer.raw(type: CollectdPartType.signSHA256, payload: mac + userBytes)
        writer.append(payload)
        return writer.bytes
    }

    /// An encryption part: username, IV, then AES-256-OFB (key SHA-256 of the password) over
    /// SHA-1 of the payload and the payload.
    public static func encrypted(_ payload: [UInt8], user: String, password: String, iv: [UInt8],
                                 cryptography: any CollectdCryptography) -> [UInt8] {
        let userBytes = Array(user.utf8)
        let checksum = payload.withUnsafeBytes { cryptography.sha1($0) }
        let plain = checksum + payload
        let key = Array(password.utf8).withUnsafeBytes { cryptography.sha256($0) }
        var cipher = [UInt8](repeating: 0, count: plain.count)
        _ = key.withUnsafeBytes { k in
            iv.withUnsafeBytes { v in
                plain.withUnsafeBytes { p in
                    cipher.withUnsafeMutableBytes { cryptography.aes256OFB(key: k, iv: v, input: p, output: $0) }
                }
            }
        }
        var header: [UInt8] = [UInt8(truncatingIfNeeded: userBytes.count >> 8), UInt8(truncatingIfNeeded: userBytes.count)]
        header += userBytes + iv
        var writer = CollectdPacketWriter()
        writer.raw(type: CollectdPartType.encryptAES256, payload: header + cipher)
        return writer.bytes
    }
}
