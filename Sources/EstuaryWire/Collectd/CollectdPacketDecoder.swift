import EstuaryModel

/// What decoding one collectd datagram produced: its value lists and notifications, and
/// every part or value list that was rejected, with the byte offset and the reason.
///
/// Reuse one output across datagrams (`removeAll()`) to keep the arrays' storage, and the
/// names already seen, which are then not made again.
public struct CollectdDecodeOutput: Sendable {
    public var valueLists: [CollectdValueList] = []
    public var notifications: [CollectdNotification] = []
    public var rejections: [CollectdRejection] = []
    var names = CollectdNameCache()

    public init() {}

    public mutating func removeAll() {
        valueLists.removeAll(keepingCapacity: true)
        notifications.removeAll(keepingCapacity: true)
        rejections.removeAll(keepingCapacity: true)
    }
}

/// Receives what a walk over a datagram finds. `CollectdPacketDecoder.walk` calls it for
/// every accepted value list and notification; if the datagram then turns out to be forged
/// (a failed signature or decryption), `discardDatagram` asks the visitor to undo
/// everything it was given for this datagram.
public protocol CollectdValueListVisitor {
    mutating func visit(_ list: CollectdRawValueList)
    mutating func visit(_ notification: CollectdNotification)
    mutating func discardDatagram()
}

/// A value list where it lies in the datagram: identifier fields and values as bytes,
/// valid only during the visitor's call. The hot path writes line protocol from these
/// bytes without making strings.
public struct CollectdRawValueList {
    public var host: UnsafeBufferPointer<UInt8>
    public var plugin: UnsafeBufferPointer<UInt8>
    public var pluginInstance: UnsafeBufferPointer<UInt8>
    public var type: UnsafeBufferPointer<UInt8>
    public var typeInstance: UnsafeBufferPointer<UInt8>
    public var time: UInt64
    public var interval: UInt64
    /// The VALUES part's count, codes and values (validated: codes are 0–3).
    public var valueCount: Int
    let codes: UnsafeRawPointer
    let data: UnsafeRawPointer
    public var offset: Int
    public var security: CollectdSecurity
    /// Byte offsets of the parts that set host, plugin, plugin instance, type and type
    /// instance (-1 when never set): equal offsets mean the same part, so the same bytes.
    public var fieldOffsets: (Int, Int, Int, Int, Int)

    /// Value `index`, typed by its wire code.
    @inline(__always)
    public func value(at index: Int) -> CollectdValue {
        let raw = UInt64(bigEndian: data.loadUnaligned(fromByteOffset: 8 * index, as: UInt64.self))
        switch codes.load(fromByteOffset: index, as: UInt8.self) {
        case 0: return .counter(raw)
        case 1: return .gauge(Double(bitPattern: raw.byteSwapped))  // little-endian on the wire
        case 2: return .derive(Int64(bitPattern: raw))
        default: return .absolute(raw)
        }
    }

    /// The values as an array.
    public var values: [CollectdValue] {
        (0..<valueCount).map { value(at: $0) }
    }

    /// The value list with its fields as strings.
    public func makeValueList() -> CollectdValueList {
        CollectdValueList(host: String(decoding: host, as: UTF8.self), plugin: String(decoding: plugin, as: UTF8.self),
                          pluginInstance: String(decoding: pluginInstance, as: UTF8.self),
                          type: String(decoding: type, as: UTF8.self),
                          typeInstance: String(decoding: typeInstance, as: UTF8.self),
                          time: time, interval: interval, values: values, offset: offset, security: security)
    }
}

/// Decodes datagrams of collectd's binary network protocol into value lists, exactly as
/// collectd's own network server reads them, but keeping every valid value list the
/// framing allows (see Docs/wire-formats.md).
///
/// - Framing (part lengths) that breaks stops the walk; what came before is kept.
/// - A bad string or number part makes its field unknown until a valid part sets it again;
///   value lists that would use it are dropped. A bad VALUES part loses only its own list.
/// - Signed parts are verified (HMAC-SHA-256) and encrypted parts decrypted (AES-256-OFB
///   with a SHA-1 check) with the AuthFile's passwords; a failure drops the whole datagram.
/// - The security level decides which value lists are accepted.
///
/// The decoder holds no mutable state: one instance may serve many threads.
public struct CollectdPacketDecoder: Sendable {
    public let securityLevel: CollectdSecurityLevel
    /// Users and primitives, behind one reference so that copying a decoder is cheap.
    private let secrets: Secrets

    /// How deep signature and encryption parts may nest (a signed payload inside an
    /// encrypted one is normal; deeper is not something collectd sends).
    public static let maxNesting = 4

    private struct UserSecret: Sendable {
        var password: [UInt8]
        var aesKey: [UInt8]
    }

    private final class Secrets: Sendable {
        let users: [String: UserSecret]?
        let cryptography: (any CollectdCryptography)?

        init(users: [String: UserSecret]?, cryptography: (any CollectdCryptography)?) {
            self.users = users
            self.cryptography = cryptography
        }
    }

    private var users: [String: UserSecret]? { secrets.users }
    private var cryptography: (any CollectdCryptography)? { secrets.cryptography }

    /// - Parameters:
    ///   - securityLevel: what a value list must have gone through to be accepted.
    ///   - authFile: the users and passwords; required for `sign` and `encrypt`.
    ///   - cryptography: the primitives for signatures and encryption; required with an AuthFile.
    /// - Throws: `CollectdConfigurationError.authFileRequired` for sign/encrypt without an AuthFile.
    public init(securityLevel: CollectdSecurityLevel = .none, authFile: CollectdAuthFile? = nil,
                cryptography: (any CollectdCryptography)? = nil) throws(CollectdConfigurationError) {
        if securityLevel != .none && authFile == nil {
            throw .authFileRequired(securityLevel)
        }
        precondition(authFile == nil || cryptography != nil, "an AuthFile needs a CollectdCryptography")
        self.securityLevel = securityLevel
        if let authFile, let cryptography {
            var users: [String: UserSecret] = [:]
            for (user, password) in authFile.passwords {
                let bytes = Array(password.utf8)
                let key = bytes.withUnsafeBytes { cryptography.sha256($0) }
                users[user] = UserSecret(password: bytes, aesKey: key)
            }
            self.secrets = Secrets(users: users, cryptography: cryptography)
        } else {
            self.secrets = Secrets(users: nil, cryptography: cryptography)
        }
    }

    /// Decodes one datagram and appends what it holds to `output`.
    public func decode(_ datagram: UnsafeRawBufferPointer, into output: inout CollectdDecodeOutput) {
        // Move the output into the collector and back, so its arrays stay uniquely referenced.
        var collector = Collector(output: CollectdDecodeOutput())
        swap(&collector.output, &output)
        collector.start()
        var rejections: [CollectdRejection] = []
        swap(&rejections, &collector.output.rejections)
        walk(datagram, visitor: &collector, rejections: &rejections)
        swap(&rejections, &collector.output.rejections)
        swap(&collector.output, &output)
    }

    /// Decodes one datagram given as bytes.
    public func decode(_ datagram: [UInt8]) -> CollectdDecodeOutput {
        var output = CollectdDecodeOutput()
        datagram.withUnsafeBytes { decode($0, into: &output) }
        return output
    }

    /// Walks one datagram, handing every accepted value list and notification to `visitor`
    /// and appending rejections. A failed signature or decryption calls
    /// `visitor.discardDatagram()` and records one rejection that counts the values lost.
    public func walk<Visitor: CollectdValueListVisitor>(_ datagram: UnsafeRawBufferPointer, visitor: inout Visitor,
                                                         rejections: inout [CollectdRejection]) {
        var walker = Walker<Visitor>(rejections: [])
        swap(&walker.rejections, &rejections)
        var state = State()
        if let failure = walker.walk(datagram, base: 0, security: .none, depth: 0, state: &state, decoder: self,
                                     visitor: &visitor) {
            visitor.discardDatagram()
            walker.rejections.append(CollectdRejection(offset: failure.offset, reason: failure.reason,
                                                       values: walker.valuesAccepted))
        }
        swap(&walker.rejections, &rejections)
    }

    // MARK: - The walk

    /// Where a string field's bytes are in the buffer being walked; `offset` is the part's
    /// offset in the datagram (-1 before any part set it), nil `start` a bad part.
    struct FieldBytes {
        var start: Int? = 0
        var count = 0
        var offset = -1
    }

    /// The value-list state carried from part to part; nil marks a field set by a bad part.
    struct State {
        var host = FieldBytes()
        var plugin = FieldBytes()
        var pluginInstance = FieldBytes()
        var type = FieldBytes()
        var typeInstance = FieldBytes()
        var time: UInt64? = 0
        var interval: UInt64? = 0
        var severity: UInt64? = 0
    }

    struct Failure {
        var offset: Int
        var reason: CollectdRejectionReason
    }

    /// The walk's own state: the rejections and how many values were accepted.
    struct Walker<Visitor: CollectdValueListVisitor> {
        var rejections: [CollectdRejection]
        var valuesAccepted = 0

        /// Walks the parts of `buffer` (which starts at `base` in the datagram). Returns a
        /// failure when the whole datagram must be dropped.
        mutating func walk(_ buffer: UnsafeRawBufferPointer, base: Int, security: CollectdSecurity, depth: Int,
                           state: inout State, decoder: CollectdPacketDecoder, visitor: inout Visitor) -> Failure? {
            var position = 0
            let count = buffer.count
            while position < count {
                let left = count - position
                if left < CollectdPartType.headerSize {
                    rejections.append(CollectdRejection(offset: base + position, reason: .truncatedPartHeader(bytesLeft: left)))
                    return nil
                }
                let type = buffer.readUInt16(at: position)
                let length = Int(buffer.readUInt16(at: position + 2))
                if length < CollectdPartType.headerSize {
                    rejections.append(CollectdRejection(offset: base + position,
                                                        reason: .partLengthTooSmall(partType: type, length: length)))
                    return nil
                }
                if length > left {
                    rejections.append(CollectdRejection(
                        offset: base + position, reason: .partLengthExceedsDatagram(partType: type, length: length, bytesLeft: left)))
                    return nil
                }
                let offset = base + position
                switch type {
                case CollectdPartType.host:
                    state.host = readString(buffer, at: position, length: length, field: .host, offset: offset)
                case CollectdPartType.plugin:
                    state.plugin = readString(buffer, at: position, length: length, field: .plugin, offset: offset)
                case CollectdPartType.pluginInstance:
                    state.pluginInstance = readString(buffer, at: position, length: length, field: .pluginInstance, offset: offset)
                case CollectdPartType.type:
                    state.type = readString(buffer, at: position, length: length, field: .type, offset: offset)
                case CollectdPartType.typeInstance:
                    state.typeInstance = readString(buffer, at: position, length: length, field: .typeInstance, offset: offset)
                case CollectdPartType.time:
                    // Whole seconds; past 2^34 s the shift to cdtime would overflow (and the year is past 2500).
                    state.time = readNumber(buffer, at: position, length: length, field: .time, offset: offset)
                        .map { $0 < (1 << 34) ? CollectdTime.fromSeconds($0) : UInt64.max }
                case CollectdPartType.timeHR:
                    state.time = readNumber(buffer, at: position, length: length, field: .time, offset: offset)
                case CollectdPartType.interval:
                    state.interval = readNumber(buffer, at: position, length: length, field: .interval, offset: offset)
                        .map { $0 < (1 << 34) ? CollectdTime.fromSeconds($0) : UInt64.max }
                case CollectdPartType.intervalHR:
                    state.interval = readNumber(buffer, at: position, length: length, field: .interval, offset: offset)
                case CollectdPartType.severity:
                    state.severity = readNumber(buffer, at: position, length: length, field: .severity, offset: offset)
                case CollectdPartType.values:
                    readValues(buffer, at: position, length: length, offset: offset, security: security, state: &state,
                               level: decoder.securityLevel, visitor: &visitor)
                case CollectdPartType.message:
                    let message = readString(buffer, at: position, length: length, field: .message, offset: offset,
                                             limit: CollectdPartType.maxMessagePayload)
                    if message.start != nil && !decoder.securityLevel.accepts(security) {
                        // Below the listener's level, collectd ignores the part; so do we, counted.
                        rejections.append(CollectdRejection(offset: offset, reason: .unauthenticated(security: security)))
                    } else if let start = message.start {
                        func text(_ field: FieldBytes) -> String {
                            guard let start = field.start else { return "" }
                            return String(decoding: UnsafeRawBufferPointer(rebasing: buffer[start..<(start + field.count)]),
                                          as: UTF8.self)
                        }
                        visitor.visit(CollectdNotification(
                            host: text(state.host), plugin: text(state.plugin), pluginInstance: text(state.pluginInstance),
                            type: text(state.type), typeInstance: text(state.typeInstance), time: state.time ?? 0,
                            severity: state.severity ?? 0,
                            message: String(decoding: UnsafeRawBufferPointer(rebasing: buffer[start..<(start + message.count)]),
                                            as: UTF8.self),
                            offset: offset))
                    }
                case CollectdPartType.signSHA256:
                    if decoder.users == nil {
                        // collectd without an AuthFile (level none only) accepts signed data
                        // unverified: it skips the signature and reads on with the same state.
                        break
                    }
                    return readSigned(buffer, at: position, length: length, base: base, security: security, depth: depth,
                                      decoder: decoder, visitor: &visitor)
                case CollectdPartType.encryptAES256:
                    if let failure = readEncrypted(buffer, at: position, length: length, base: base, depth: depth,
                                                   decoder: decoder, visitor: &visitor) {
                        return failure
                    }
                default:
                    rejections.append(CollectdRejection(offset: offset, reason: .unknownPartType(partType: type, length: length)))
                }
                position += length
            }
            return nil
        }

        private mutating func readString(_ buffer: UnsafeRawBufferPointer, at position: Int, length: Int,
                                         field: CollectdField, offset: Int,
                                         limit: Int = CollectdPartType.maxStringPayload) -> FieldBytes {
            let payload = length - CollectdPartType.headerSize
            guard payload >= 1, payload <= limit, buffer[position + length - 1] == 0 else {
                rejections.append(CollectdRejection(offset: offset, reason: .badStringPart(field: field, length: length)))
                return FieldBytes(start: nil, count: 0, offset: offset)
            }
            let start = position + CollectdPartType.headerSize
            var end = start
            while buffer[end] != 0 { end += 1 }  // collectd copies up to the first NUL
            return FieldBytes(start: start, count: end - start, offset: offset)
        }

        private mutating func readNumber(_ buffer: UnsafeRawBufferPointer, at position: Int, length: Int,
                                         field: CollectdField, offset: Int) -> UInt64? {
            guard length == CollectdPartType.numberPartSize else {
                rejections.append(CollectdRejection(offset: offset, reason: .badNumberPart(field: field, length: length)))
                return nil
            }
            return buffer.readUInt64(at: position + CollectdPartType.headerSize)
        }

        private mutating func readValues(_ buffer: UnsafeRawBufferPointer, at position: Int, length: Int, offset: Int,
                                         security: CollectdSecurity, state: inout State, level: CollectdSecurityLevel,
                                         visitor: inout Visitor) {
            guard length >= 6 else {
                rejections.append(CollectdRejection(offset: offset, reason: .valuesEmpty(length: length)))
                return
            }
            let count = Int(buffer.readUInt16(at: position + 4))
            guard count > 0 else {
                rejections.append(CollectdRejection(offset: offset, reason: .valuesEmpty(length: length)))
                return
            }
            guard length == 6 + 9 * count else {
                rejections.append(CollectdRejection(offset: offset, reason: .valuesCountMismatch(count: count, length: length)))
                return
            }
            let codes = position + 6
            for i in 0..<count where buffer[codes + i] > 3 {
                rejections.append(CollectdRejection(offset: offset, reason: .unknownDSTypeCode(code: buffer[codes + i]),
                                                    values: count))
                return
            }
            if !level.accepts(security) {
                rejections.append(CollectdRejection(offset: offset, reason: .unauthenticated(security: security), values: count))
                return
            }
            func reject(_ reason: CollectdRejectionReason) {
                rejections.append(CollectdRejection(offset: offset, reason: reason, values: count))
            }
            guard let host = state.host.start else { return reject(.fieldFromBadPart(field: .host)) }
            guard let plugin = state.plugin.start else { return reject(.fieldFromBadPart(field: .plugin)) }
            guard let pluginInstance = state.pluginInstance.start else { return reject(.fieldFromBadPart(field: .pluginInstance)) }
            guard let type = state.type.start else { return reject(.fieldFromBadPart(field: .type)) }
            guard let typeInstance = state.typeInstance.start else { return reject(.fieldFromBadPart(field: .typeInstance)) }
            guard let time = state.time else { return reject(.fieldFromBadPart(field: .time)) }
            guard let interval = state.interval else { return reject(.fieldFromBadPart(field: .interval)) }
            if state.host.count == 0 { return reject(.missingField(field: .host)) }
            if state.plugin.count == 0 { return reject(.missingField(field: .plugin)) }
            if state.type.count == 0 { return reject(.missingField(field: .type)) }
            if time == 0 { return reject(.missingTime) }
            // Nanoseconds since the epoch must fit in an Int64 (InfluxDB's range ends in 2262).
            if time > CollectdTime.maxRepresentable { return reject(.timeOutOfRange(cdtime: time)) }
            let base = buffer.baseAddress!
            let bytes = base.assumingMemoryBound(to: UInt8.self)
            valuesAccepted += count
            visitor.visit(CollectdRawValueList(
                host: UnsafeBufferPointer(start: bytes + host, count: state.host.count),
                plugin: UnsafeBufferPointer(start: bytes + plugin, count: state.plugin.count),
                pluginInstance: UnsafeBufferPointer(start: bytes + pluginInstance, count: state.pluginInstance.count),
                type: UnsafeBufferPointer(start: bytes + type, count: state.type.count),
                typeInstance: UnsafeBufferPointer(start: bytes + typeInstance, count: state.typeInstance.count),
                time: time, interval: interval, valueCount: count, codes: base + codes, data: base + codes + count,
                offset: offset, security: security,
                fieldOffsets: (state.host.offset, state.plugin.offset, state.pluginInstance.offset, state.type.offset,
                               state.typeInstance.offset)))
        }

        /// A signature part covers everything after it, up to the end of `buffer`.
        private mutating func readSigned(_ buffer: UnsafeRawBufferPointer, at position: Int, length: Int, base: Int,
                                         security: CollectdSecurity, depth: Int, decoder: CollectdPacketDecoder,
                                         visitor: inout Visitor) -> Failure? {
            let offset = base + position
            guard length > CollectdPartType.signatureHeaderSize else {
                return Failure(offset: offset, reason: .signaturePartTooShort(length: length))
            }
            let userBytes = UnsafeRawBufferPointer(
                rebasing: buffer[(position + CollectdPartType.signatureHeaderSize)..<(position + length)])
            let user = String(decoding: userBytes, as: UTF8.self)
            guard let secret = decoder.users?[user], let cryptography = decoder.cryptography else {
                return Failure(offset: offset, reason: .signatureUnknownUser(user: user))
            }
            // HMAC over the username and every byte after the part, to the end of the datagram.
            let signed = UnsafeRawBufferPointer(rebasing: buffer[(position + CollectdPartType.signatureHeaderSize)...])
            let mac = secret.password.withUnsafeBytes { cryptography.hmacSHA256(key: $0, message: signed) }
            let sent = UnsafeRawBufferPointer(rebasing: buffer[(position + 4)..<(position + 36)])
            guard constantTimeEqual(mac, sent) else {
                return Failure(offset: offset, reason: .signatureMismatch(user: user))
            }
            guard depth < CollectdPacketDecoder.maxNesting else { return Failure(offset: offset, reason: .nestingTooDeep) }
            var inner = State()
            let payload = UnsafeRawBufferPointer(rebasing: buffer[(position + length)...])
            return walk(payload, base: base + position + length, security: max(security, .signed), depth: depth + 1,
                        state: &inner, decoder: decoder, visitor: &visitor)
        }

        private mutating func readEncrypted(_ buffer: UnsafeRawBufferPointer, at position: Int, length: Int, base: Int,
                                            depth: Int, decoder: CollectdPacketDecoder, visitor: inout Visitor) -> Failure? {
            let offset = base + position
            guard let users = decoder.users, let cryptography = decoder.cryptography else {
                return Failure(offset: offset, reason: .encryptionWithoutAuthFile)
            }
            guard length >= 6 else { return Failure(offset: offset, reason: .encryptionPartTooShort(length: length)) }
            let userLength = Int(buffer.readUInt16(at: position + 4))
            let headerLength = 6 + userLength + CollectdPartType.encryptionIVSize
            guard userLength > 0, headerLength + CollectdPartType.encryptionChecksumSize <= length else {
                return Failure(offset: offset, reason: .encryptionBadUsernameLength(length: userLength))
            }
            let user = String(decoding: UnsafeRawBufferPointer(rebasing: buffer[(position + 6)..<(position + 6 + userLength)]),
                              as: UTF8.self)
            guard let secret = users[user] else {
                return Failure(offset: offset, reason: .encryptionUnknownUser(user: user))
            }
            guard depth < CollectdPacketDecoder.maxNesting else { return Failure(offset: offset, reason: .nestingTooDeep) }
            let iv = UnsafeRawBufferPointer(rebasing: buffer[(position + 6 + userLength)..<(position + headerLength)])
            let ciphertext = UnsafeRawBufferPointer(rebasing: buffer[(position + headerLength)..<(position + length)])
            return withUnsafeTemporaryAllocation(byteCount: ciphertext.count, alignment: 8) { plain -> Failure? in
                let ok = secret.aesKey.withUnsafeBytes { key in
                    cryptography.aes256OFB(key: key, iv: iv, input: ciphertext, output: plain)
                }
                let plain = UnsafeRawBufferPointer(plain)
                let checksum = UnsafeRawBufferPointer(rebasing: plain[0..<CollectdPartType.encryptionChecksumSize])
                let payload = UnsafeRawBufferPointer(rebasing: plain[CollectdPartType.encryptionChecksumSize...])
                guard ok, constantTimeEqual(cryptography.sha1(payload), checksum) else {
                    return Failure(offset: offset, reason: .encryptionChecksumMismatch(user: user))
                }
                var inner = State()
                return walk(payload, base: base + position + headerLength + CollectdPartType.encryptionChecksumSize,
                            security: .encrypted, depth: depth + 1, state: &inner, decoder: decoder, visitor: &visitor)
            }
        }
    }

    /// The visitor behind `decode`: value lists with their fields as strings.
    struct Collector: CollectdValueListVisitor {
        var output: CollectdDecodeOutput
        var firstList = 0
        var firstNotification = 0

        init(output: CollectdDecodeOutput) {
            self.output = output
        }

        /// Marks where this datagram's value lists and notifications begin.
        mutating func start() {
            firstList = output.valueLists.count
            firstNotification = output.notifications.count
        }

        mutating func visit(_ list: CollectdRawValueList) {
            output.valueLists.append(CollectdValueList(
                host: output.names.string(list.host, field: 0, offset: list.fieldOffsets.0),
                plugin: output.names.string(list.plugin, field: 1, offset: list.fieldOffsets.1),
                pluginInstance: output.names.string(list.pluginInstance, field: 2, offset: list.fieldOffsets.2),
                type: output.names.string(list.type, field: 3, offset: list.fieldOffsets.3),
                typeInstance: output.names.string(list.typeInstance, field: 4, offset: list.fieldOffsets.4),
                time: list.time, interval: list.interval, values: list.values, offset: list.offset, security: list.security))
        }

        mutating func visit(_ notification: CollectdNotification) {
            output.notifications.append(notification)
        }

        mutating func discardDatagram() {
            output.valueLists.removeSubrange(firstList...)
            output.notifications.removeSubrange(firstNotification...)
        }
    }
}

/// The last string made for each identifier field, reused while the bytes repeat (within a
/// datagram and, for the host especially, from one datagram to the next).
struct CollectdNameCache: Sendable {
    private var strings = ["", "", "", "", ""]

    @inline(__always)
    mutating func string(_ bytes: UnsafeBufferPointer<UInt8>, field: Int, offset: Int) -> String {
        let cached = strings[field]
        let same = cached.utf8.withContiguousStorageIfAvailable { old -> Bool in
            old.count == bytes.count && (bytes.isEmpty || memoryEqual(old.baseAddress!, bytes.baseAddress!, bytes.count))
        } ?? false
        if same { return cached }
        let made = String(decoding: bytes, as: UTF8.self)
        strings[field] = made
        return made
    }
}

@inline(__always)
func memoryEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ count: Int) -> Bool {
    var i = 0
    while i + 8 <= count {
        if UnsafeRawPointer(a + i).loadUnaligned(as: UInt64.self) != UnsafeRawPointer(b + i).loadUnaligned(as: UInt64.self) {
            return false
        }
        i += 8
    }
    while i < count {
        if a[i] != b[i] { return false }
        i += 1
    }
    return true
}

@inline(__always)
func constantTimeEqual(_ a: [UInt8], _ b: UnsafeRawBufferPointer) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for i in 0..<a.count { difference |= a[i] ^ b[i] }
    return difference == 0
}

extension UnsafeRawBufferPointer {
    @inline(__always)
    func readUInt16(at offset: Int) -> UInt16 {
        UInt16(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inline(__always)
    func readUInt64(at offset: Int) -> UInt64 {
        UInt64(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
}
