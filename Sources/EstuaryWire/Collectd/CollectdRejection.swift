/// Why part of a collectd datagram (or a value of it) was not turned into points.
/// Each case has a stable `code`, used as the `reason` of the rejection counters.
public enum CollectdRejectionReason: Sendable, Hashable {
    // Framing: the walk over the datagram stops here; what came before is kept.
    /// Fewer than 4 bytes left where a part header should start.
    case truncatedPartHeader(bytesLeft: Int)
    /// A part length below the 4-byte header.
    case partLengthTooSmall(partType: UInt16, length: Int)
    /// A part length past the end of the datagram.
    case partLengthExceedsDatagram(partType: UInt16, length: Int, bytesLeft: Int)

    // Bad parts: the walk goes on.
    /// A string part with no payload, no terminating NUL, or a payload over 128 bytes.
    /// The field stays unknown until a valid part sets it again.
    case badStringPart(field: CollectdField, length: Int)
    /// A number part whose length is not 12. The field stays unknown until set again.
    case badNumberPart(field: CollectdField, length: Int)
    /// A VALUES part whose count disagrees with its length.
    case valuesCountMismatch(count: Int, length: Int)
    /// A VALUES part with a count of 0 or too short to hold a count.
    case valuesEmpty(length: Int)
    /// A VALUES part with a data-source type code other than 0–3.
    case unknownDSTypeCode(code: UInt8)
    /// A part type collectd does not know; skipped by its length.
    case unknownPartType(partType: UInt16, length: Int)

    // Value lists that are framed correctly but cannot be used.
    /// The value list has no host, plugin or type.
    case missingField(field: CollectdField)
    /// The value list has time 0.
    case missingTime
    /// The value list's time is beyond what InfluxDB can store (after 2262).
    case timeOutOfRange(cdtime: UInt64)
    /// The value list would use a field last set by a bad part.
    case fieldFromBadPart(field: CollectdField)
    /// The type's value count in types.db differs from the values sent.
    case valueCountMismatch(type: String, expected: Int, received: Int)
    /// Under security level sign or encrypt, a value list that was not signed or encrypted
    /// (or, under encrypt, only signed).
    case unauthenticated(security: CollectdSecurity)

    // Security: the whole datagram produces nothing.
    case signaturePartTooShort(length: Int)
    case signatureUnknownUser(user: String)
    case signatureMismatch(user: String)
    case encryptionPartTooShort(length: Int)
    case encryptionBadUsernameLength(length: Int)
    case encryptionUnknownUser(user: String)
    case encryptionChecksumMismatch(user: String)
    /// Encrypted data reached a listener with no AuthFile (so no key).
    case encryptionWithoutAuthFile
    /// Security parts nested deeper than the decoder follows.
    case nestingTooDeep

    // Values (mapping to points).
    /// NaN or ±Inf: InfluxDB cannot store it.
    case nonFiniteValue(type: String, dsName: String)
    /// store_rates: the rate fell outside the type's [min, max] from types.db.
    case rateOutOfRange(type: String, dsName: String)
    /// store_rates: the value list is not newer than the previous one of its series.
    case rateNotNewer(type: String)

    /// The counter label for this reason.
    public var code: String {
        switch self {
        case .truncatedPartHeader: return "truncated_part_header"
        case .partLengthTooSmall: return "part_length_too_small"
        case .partLengthExceedsDatagram: return "part_length_exceeds_datagram"
        case .badStringPart: return "bad_string_part"
        case .badNumberPart: return "bad_number_part"
        case .valuesCountMismatch: return "values_count_mismatch"
        case .valuesEmpty: return "values_empty"
        case .unknownDSTypeCode: return "unknown_ds_type_code"
        case .unknownPartType: return "unknown_part_type"
        case .missingField: return "missing_field"
        case .missingTime: return "missing_time"
        case .timeOutOfRange: return "time_out_of_range"
        case .fieldFromBadPart: return "field_from_bad_part"
        case .valueCountMismatch: return "value_count_mismatch"
        case .unauthenticated: return "unauthenticated"
        case .signaturePartTooShort: return "signature_part_too_short"
        case .signatureUnknownUser: return "signature_unknown_user"
        case .signatureMismatch: return "signature_mismatch"
        case .encryptionPartTooShort: return "encryption_part_too_short"
        case .encryptionBadUsernameLength: return "encryption_bad_username_length"
        case .encryptionUnknownUser: return "encryption_unknown_user"
        case .encryptionChecksumMismatch: return "encryption_checksum_mismatch"
        case .encryptionWithoutAuthFile: return "encryption_without_auth_file"
        case .nestingTooDeep: return "nesting_too_deep"
        case .nonFiniteValue: return "non_finite"
        case .rateOutOfRange: return "rate_out_of_range"
        case .rateNotNewer: return "rate_not_newer"
        }
    }

    /// Whether this reason makes the whole datagram produce nothing.
    public var dropsDatagram: Bool {
        switch self {
        case .signaturePartTooShort, .signatureUnknownUser, .signatureMismatch, .encryptionPartTooShort,
             .encryptionBadUsernameLength, .encryptionUnknownUser, .encryptionChecksumMismatch,
             .encryptionWithoutAuthFile, .nestingTooDeep:
            return true
        default:
            return false
        }
    }
}

extension CollectdRejectionReason: CustomStringConvertible {
    public var description: String {
        switch self {
        case .truncatedPartHeader(let left):
            return "\(left) byte(s) left, too few for a part header: framing broken, stop"
        case .partLengthTooSmall(let type, let length):
            return "\(CollectdPartType.name(type)) part with length \(length) (< 4): framing broken, stop"
        case .partLengthExceedsDatagram(let type, let length, let left):
            return "\(CollectdPartType.name(type)) part claims \(length) bytes, only \(left) left: framing broken, stop"
        case .badStringPart(let field, let length):
            if field == .message { return "bad message part (length \(length)): notification ignored" }
            return "bad \(field.rawValue) part (length \(length)): \(field.rawValue) unknown until set again"
        case .badNumberPart(let field, let length):
            return "bad \(field.rawValue) part (length \(length), expected 12): \(field.rawValue) unknown until set again"
        case .valuesCountMismatch(let count, let length):
            return "bad values part (count \(count) needs length \(6 + 9 * count), part length is \(length)): its value list is dropped"
        case .valuesEmpty(let length):
            return "bad values part (no values, length \(length)): its value list is dropped"
        case .unknownDSTypeCode(let code):
            return "bad values part (unknown data source type code \(code)): its value list is dropped"
        case .unknownPartType(let type, let length):
            return "unknown part type 0x\(String(type, radix: 16)) (\(length) bytes) skipped"
        case .missingField(let field):
            return "value list dropped: no \(field.rawValue)"
        case .missingTime:
            return "value list dropped: no time (time 0)"
        case .timeOutOfRange(let cdtime):
            return "value list dropped: time \(cdtime >> 30) s is past what InfluxDB stores (2262)"
        case .fieldFromBadPart(let field):
            return "value list dropped: uses \(field.rawValue) set by a bad part"
        case .valueCountMismatch(let type, let expected, let received):
            return "value list dropped: type '\(type)' has \(expected) data source(s) in types.db, \(received) value(s) received"
        case .unauthenticated(let security):
            let what = security == .signed ? "signed, not encrypted" : "neither signed nor encrypted"
            return "value list ignored: \(what), below the listener's security level"
        case .signaturePartTooShort(let length):
            return "signature part too short (length \(length)): datagram dropped"
        case .signatureUnknownUser(let user):
            return "signature by unknown user '\(user)': datagram dropped"
        case .signatureMismatch(let user):
            return "HMAC-SHA-256 mismatch (user '\(user)'): datagram dropped"
        case .encryptionPartTooShort(let length):
            return "encryption part too short (length \(length)): datagram dropped"
        case .encryptionBadUsernameLength(let length):
            return "encryption part with bad username length \(length): datagram dropped"
        case .encryptionUnknownUser(let user):
            return "encryption by unknown user '\(user)': datagram dropped"
        case .encryptionChecksumMismatch(let user):
            return "decryption checksum mismatch (user '\(user)'): datagram dropped"
        case .encryptionWithoutAuthFile:
            return "encrypted datagram but no AuthFile is configured: datagram dropped"
        case .nestingTooDeep:
            return "signature/encryption parts nested too deep: datagram dropped"
        case .nonFiniteValue(let type, let ds):
            return "value \(type).\(ds) is NaN or infinite: no point"
        case .rateOutOfRange(let type, let ds):
            return "rate of \(type).\(ds) outside the types.db range: no point"
        case .rateNotNewer(let type):
            return "value list of type '\(type)' not newer than the previous one: no rate"
        }
    }
}

/// One rejection, with the byte offset in the datagram where it happened.
public struct CollectdRejection: Sendable, Hashable, CustomStringConvertible {
    public var offset: Int
    public var reason: CollectdRejectionReason
    /// How many values this rejection lost (0 when it lost none, e.g. a skipped unknown part).
    public var values: Int

    public init(offset: Int, reason: CollectdRejectionReason, values: Int = 0) {
        self.offset = offset
        self.reason = reason
        self.values = values
    }

    public var description: String { "@\(offset) \(reason)" }
}
