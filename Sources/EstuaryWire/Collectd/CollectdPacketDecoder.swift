import EstuaryModel

/// What decoding one collectd datagram produced: its value lists and notifications, and
/// every part or value list that was rejected, with the byte offset and the reason.
///
/// Reuse one output across datagrams (`removeAll()`) to keep the arrays' storage.
public struct CollectdDecodeOutput: Sendable {
    public var valueLists: [CollectdValueList] = []
    public var notifications: [CollectdNotification] = []
    public var rejections: [CollectdRejection] = []

    public init() {}

    public mutating func removeAll() {
        valueLists.removeAll(keepingCapacity: true)
        notifications.removeAll(keepingCapacity: true)
        rejections.removeAll(keepingCapacity: true)
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
    private let users: [String: UserSecret]?
    private let cryptography: (any CollectdCryptography)?

    /// How deep signature and encryption parts may nest (a signed payload inside an
    /// encrypted one is normal; deeper is not something collectd sends).
    public static let maxNesting = 4

    private struct UserSecret: Sendable {
        var password: [UInt8]
        var aesKey: [UInt8]
    }

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
        self.cryptography = cryptography
        if let authFile, let cryptography {
            var users: [String: UserSecret] = [:]
            for (user, password) in authFile.passwords {
                let bytes = Array(password.utf8)
                let key = bytes.withUnsafeBytes { cryptography.sha256($0) }
                users[user] = UserSecret(password: bytes, aesKey: key)
            }
            self.users = users
        } else {
            self.users = nil
        }
    }

    /// Decodes one datagram and appends what it holds to `output`.
    public func decode(_ datagram: UnsafeRawBufferPointer, into output: inout CollectdDecodeOutput) {
        let firstList = output.valueLists.count
        let firstNotification = output.notifications.count
        var state = State()
        if let failure = walk(datagram, base: 0, security: .none, depth: 0, state: &state, output: &output) {
            // A failed signature or decryption: the datagram produces nothing at all.
            let lost = output.valueLists[firstList...].reduce(0) { $0 + $1.values.count }
            output.valueLists.removeSubrange(firstList...)
            output.notifications.removeSubrange(firstNotification...)
            output.rejections.append(CollectdRejection(offset: failure.offset, reason: failure.reason, values: lost))
        }
    }

    /// Decodes one datagram given as bytes.
    public func decode(_ datagram: [UInt8]) -> CollectdDecodeOutput {
        var output = CollectdDecodeOutput()
        datagram.withUnsafeBytes { decode($0, into: &output) }
        return output
    }

    // MARK: - The walk

    /// The value-list state carried from part to part; nil marks a field set by a bad part.
    private struct State {
        var host: String? = ""
        var plugin: String? = ""
        var pluginInstance: String? = ""
        var type: String? = ""
        var typeInstance: String? = ""
        var time: UInt64? = 0
        var interval: UInt64? = 0
        var severity: UInt64? = 0
    }

    private struct Failure {
        var offset: Int
        var reason: CollectdRejectionReason
    }

    /// Walks the parts of `buffer` (which starts at `base` in the datagram). Returns a
    /// failure when the whole datagram must be dropped.
    private func walk(_ buffer: UnsafeRawBufferPointer, base: Int, security: CollectdSecurity, depth: Int,
                      state: inout State, output: inout CollectdDecodeOutput) -> Failure? {
        var position = 0
        let count = buffer.count
        while position < count {
            let left = count - position
            if left < CollectdPartType.headerSize {
                output.rejections.append(CollectdRejection(offset: base + position, reason: .truncatedPartHeader(bytesLeft: left)))
                return nil
            }
            let type = buffer.readUInt16(at: position)
            let length = Int(buffer.readUInt16(at: position + 2))
            if length < CollectdPartType.headerSize {
                output.rejections.append(CollectdRejection(offset: base + position, reason: .partLengthTooSmall(partType: type, length: length)))
                return nil
            }
            if length > left {
                output.rejections.append(CollectdRejection(
                    offset: base + position, reason: .partLengthExceedsDatagram(partType: type, length: length, bytesLeft: left)))
                return nil
            }
            let offset = base + position
            switch type {
            case CollectdPartType.host:
                state.host = readString(buffer, at: position, length: length, field: .host, offset: offset, output: &output)
            case CollectdPartType.plugin:
                state.plugin = readString(buffer, at: position, length: length, field: .plugin, offset: offset, output: &output)
            case CollectdPartType.pluginInstance:
                state.pluginInstance = readString(buffer, at: position, length: length, field: .pluginInstance, offset: offset, output: &output)
            case CollectdPartType.type:
                state.type = readString(buffer, at: position, length: length, field: .type, offset: offset, output: &output)
            case CollectdPartType.typeInstance:
                state.typeInstance = readString(buffer, at: position, length: length, field: .typeInstance, offset: offset, output: &output)
            case CollectdPartType.time:
                state.time = readNumber(buffer, at: position, length: length, field: .time, offset: offset, output: &output)
                    .map(CollectdTime.fromSeconds)
            case CollectdPartType.timeHR:
                state.time = readNumber(buffer, at: position, length: length, field: .time, offset: offset, output: &output)
            case CollectdPartType.interval:
                state.interval = readNumber(buffer, at: position, length: length, field: .interval, offset: offset, output: &output)
                    .map(CollectdTime.fromSeconds)
            case CollectdPartType.intervalHR:
                state.interval = readNumber(buffer, at: position, length: length, field: .interval, offset: offset, output: &output)
            case CollectdPartType.severity:
                state.severity = readNumber(buffer, at: position, length: length, field: .severity, offset: offset, output: &output)
            case CollectdPartType.values:
                readValues(buffer, at: position, length: length, offset: offset, security: security, state: state, output: &output)
            case CollectdPartType.message:
                if let message = readString(buffer, at: position, length: length, field: .message, offset: offset, output: &output) {
                    output.notifications.append(CollectdNotification(
                        host: state.host ?? "", plugin: state.plugin ?? "", pluginInstance: state.pluginInstance ?? "",
                        type: state.type ?? "", typeInstance: state.typeInstance ?? "", time: state.time ?? 0,
                        severity: state.severity ?? 0, message: message, offset: offset))
                }
            case CollectdPartType.signSHA256:
                if users == nil {
                    // collectd without an AuthFile (level none only) accepts signed data
                    // unverified: it skips the signature and reads on with the same state.
                    break
                }
                return readSigned(buffer, at: position, length: length, base: base, security: security, depth: depth, output: &output)
            case CollectdPartType.encryptAES256:
                if let failure = readEncrypted(buffer, at: position, length: length, base: base, depth: depth, output: &output) {
                    return failure
                }
            default:
                output.rejections.append(CollectdRejection(offset: offset, reason: .unknownPartType(partType: type, length: length)))
            }
            position += length
        }
        return nil
    }

    private func readString(_ buffer: UnsafeRawBufferPointer, at position: Int, length: Int, field: CollectdField,
                            offset: Int, output: inout CollectdDecodeOutput) -> String? {
        let payload = length - CollectdPartType.headerSize
        guard payload >= 1, payload <= CollectdPartType.maxStringPayload,
              buffer[position + length - 1] == 0 else {
            output.rejections.append(CollectdRejection(offset: offset, reason: .badStringPart(field: field, length: length)))
            return nil
        }
        let start = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self) + position + CollectdPartType.headerSize
        var end = 0
        while start[end] != 0 { end += 1 }  // collectd copies up to the first NUL
        if end == 0 { return "" }
        return String(decoding: UnsafeBufferPointer(start: start, count: end), as: UTF8.self)
    }

    private func readNumber(_ buffer: UnsafeRawBufferPointer, at position: Int, length: Int, field: CollectdField,
                            offset: Int, output: inout CollectdDecodeOutput) -> UInt64? {
        guard length == CollectdPartType.numberPartSize else {
            output.rejections.append(CollectdRejection(offset: offset, reason: .badNumberPart(field: field, length: length)))
            return nil
        }
        return buffer.readUInt64(at: position + CollectdPartType.headerSize)
    }

    private func readValues(_ buffer: UnsafeRawBufferPointer, at position: Int, length: Int, offset: Int,
                            security: CollectdSecurity, state: State, output: inout CollectdDecodeOutput) {
        guard length >= 6 else {
            output.rejections.append(CollectdRejection(offset: offset, reason: .valuesEmpty(length: length)))
            return
        }
        let count = Int(buffer.readUInt16(at: position + 4))
        guard count > 0 else {
            output.rejections.append(CollectdRejection(offset: offset, reason: .valuesEmpty(length: length)))
            return
        }
        guard length == 6 + 9 * count else {
            output.rejections.append(CollectdRejection(offset: offset, reason: .valuesCountMismatch(count: count, length: length)))
            return
        }
        let codes = position + 6
        let data = codes + count
        var values: [CollectdValue] = []
        values.reserveCapacity(count)
        for i in 0..<count {
            let raw = buffer.readUInt64(at: data + 8 * i)
            switch buffer[codes + i] {
            case 0: values.append(.counter(raw))
            case 1: values.append(.gauge(Double(bitPattern: raw.byteSwapped)))  // little-endian on the wire
            case 2: values.append(.derive(Int64(bitPattern: raw)))
            case 3: values.append(.absolute(raw))
            default:
                output.rejections.append(CollectdRejection(
                    offset: offset, reason: .unknownDSTypeCode(code: buffer[codes + i]), values: count))
                return
            }
        }
        if !securityLevel.accepts(security) {
            output.rejections.append(CollectdRejection(offset: offset, reason: .unauthenticated(security: security), values: count))
            return
        }
        guard let host = state.host else { return rejectList(.fieldFromBadPart(field: .host), offset, count, &output) }
        guard let plugin = state.plugin else { return rejectList(.fieldFromBadPart(field: .plugin), offset, count, &output) }
        guard let pluginInstance = state.pluginInstance else {
            return rejectList(.fieldFromBadPart(field: .pluginInstance), offset, count, &output)
        }
        guard let type = state.type else { return rejectList(.fieldFromBadPart(field: .type), offset, count, &output) }
        guard let typeInstance = state.typeInstance else {
            return rejectList(.fieldFromBadPart(field: .typeInstance), offset, count, &output)
        }
        guard let time = state.time else { return rejectList(.fieldFromBadPart(field: .time), offset, count, &output) }
        guard let interval = state.interval else { return rejectList(.fieldFromBadPart(field: .interval), offset, count, &output) }
        if host.isEmpty { return rejectList(.missingField(field: .host), offset, count, &output) }
        if plugin.isEmpty { return rejectList(.missingField(field: .plugin), offset, count, &output) }
        if type.isEmpty { return rejectList(.missingField(field: .type), offset, count, &output) }
        if time == 0 { return rejectList(.missingTime, offset, count, &output) }
        output.valueLists.append(CollectdValueList(
            host: host, plugin: plugin, pluginInstance: pluginInstance, type: type, typeInstance: typeInstance,
            time: time, interval: interval, values: values, offset: offset, security: security))
    }

    private func rejectList(_ reason: CollectdRejectionReason, _ offset: Int, _ values: Int,
                            _ output: inout CollectdDecodeOutput) {
        output.rejections.append(CollectdRejection(offset: offset, reason: reason, values: values))
    }

    /// A signature part covers everything after it, up to the end of `buffer`.
    private func readSigned(_ buffer: UnsafeRawBufferPointer, at position: Int, length: Int, base: Int,
                            security: CollectdSecurity, depth: Int, output: inout CollectdDecodeOutput) -> Failure? {
        let offset = base + position
        guard length > CollectdPartType.signatureHeaderSize else {
            return Failure(offset: offset, reason: .signaturePartTooShort(length: length))
        }
        let userBytes = UnsafeRawBufferPointer(rebasing: buffer[(position + CollectdPartType.signatureHeaderSize)..<(position + length)])
        let user = String(decoding: userBytes, as: UTF8.self)
        guard let secret = users?[user], let cryptography else {
            return Failure(offset: offset, reason: .signatureUnknownUser(user: user))
        }
        // HMAC over the username and every byte after the part, to the end of the datagram.
        let signed = UnsafeRawBufferPointer(rebasing: buffer[(position + CollectdPartType.signatureHeaderSize)...])
        let mac = secret.password.withUnsafeBytes { cryptography.hmacSHA256(key: $0, message: signed) }
        let sent = UnsafeRawBufferPointer(rebasing: buffer[(position + 4)..<(position + 36)])
        guard constantTimeEqual(mac, sent) else {
            return Failure(offset: offset, reason: .signatureMismatch(user: user))
        }
        guard depth < Self.maxNesting else { return Failure(offset: offset, reason: .nestingTooDeep) }
        var inner = State()
        let payload = UnsafeRawBufferPointer(rebasing: buffer[(position + length)...])
        return walk(payload, base: base + position + length, security: max(security, .signed), depth: depth + 1,
                    state: &inner, output: &output)
    }

    private func readEncrypted(_ buffer: UnsafeRawBufferPointer, at position: Int, length: Int, base: Int,
                               depth: Int, output: inout CollectdDecodeOutput) -> Failure? {
        let offset = base + position
        guard let users, let cryptography else {
            return Failure(offset: offset, reason: .encryptionWithoutAuthFile)
        }
        guard length >= 6 else { return Failure(offset: offset, reason: .encryptionPartTooShort(length: length)) }
        let userLength = Int(buffer.readUInt16(at: position + 4))
        let headerLength = 6 + userLength + CollectdPartType.encryptionIVSize
        guard userLength > 0, headerLength + CollectdPartType.encryptionChecksumSize <= length else {
            return Failure(offset: offset, reason: .encryptionBadUsernameLength(length: userLength))
        }
        let user = String(decoding: UnsafeRawBufferPointer(rebasing: buffer[(position + 6)..<(position + 6 + userLength)]), as: UTF8.self)
        guard let secret = users[user] else {
            return Failure(offset: offset, reason: .encryptionUnknownUser(user: user))
        }
        guard depth < Self.maxNesting else { return Failure(offset: offset, reason: .nestingTooDeep) }
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
                        security: .encrypted, depth: depth + 1, state: &inner, output: &output)
        }
    }
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
