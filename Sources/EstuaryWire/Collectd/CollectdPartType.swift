/// Part types of collectd's binary network protocol, named as in collectd's `network.h`.
public enum CollectdPartType {
    public static let host: UInt16 = 0x0000
    public static let time: UInt16 = 0x0001
    public static let plugin: UInt16 = 0x0002
    public static let pluginInstance: UInt16 = 0x0003
    public static let type: UInt16 = 0x0004
    public static let typeInstance: UInt16 = 0x0005
    public static let values: UInt16 = 0x0006
    public static let interval: UInt16 = 0x0007
    public static let timeHR: UInt16 = 0x0008
    public static let intervalHR: UInt16 = 0x0009
    public static let message: UInt16 = 0x0100
    public static let severity: UInt16 = 0x0101
    public static let signSHA256: UInt16 = 0x0200
    public static let encryptAES256: UInt16 = 0x0210

    /// A part header: type and length, both big-endian u16.
    public static let headerSize = 4
    /// The largest string payload collectd accepts, NUL included (names of at most 127 bytes).
    public static let maxStringPayload = 128
    /// A notification's MESSAGE may be longer: 255 bytes and its NUL (collectd's NOTIF_MAX_MSG_LEN).
    public static let maxMessagePayload = 256
    /// Number parts are a header and a big-endian u64.
    public static let numberPartSize = 12
    /// Signature part: header, 32-byte HMAC-SHA-256, then the username (no NUL).
    public static let signatureHeaderSize = 36
    /// Encryption part: header, u16 username length, username, 16-byte IV, then
    /// AES-256-OFB over SHA-1(payload) (20 bytes) and the payload.
    public static let encryptionIVSize = 16
    public static let encryptionChecksumSize = 20

    /// A readable name for a part type, for messages.
    public static func name(_ type: UInt16) -> String {
        switch type {
        case host: return "host"
        case time: return "time"
        case plugin: return "plugin"
        case pluginInstance: return "plugin_instance"
        case CollectdPartType.type: return "type"
        case typeInstance: return "type_instance"
        case values: return "values"
        case interval: return "interval"
        case timeHR: return "time_hr"
        case intervalHR: return "interval_hr"
        case message: return "message"
        case severity: return "severity"
        case signSHA256: return "signature"
        case encryptAES256: return "encryption"
        default: return "0x" + String(type, radix: 16)
        }
    }
}

/// The fields of the value-list state a datagram carries from part to part.
public enum CollectdField: String, Sendable, Hashable, CaseIterable {
    case host
    case plugin
    case pluginInstance = "plugin_instance"
    case type
    case typeInstance = "type_instance"
    case time
    case interval
    case message
    case severity
}
