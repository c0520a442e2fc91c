import EstuaryIO
import EstuaryWire

/// One `[[inputs.collectd]]`: a UDP listener for collectd's binary network protocol.
public struct CollectdInputConfiguration: Sendable, Hashable {
    /// `name`: this input in logs and self-metrics; unique among inputs.
    public var name: String
    /// `listen`: the UDP address.
    public var listen: ListenAddress
    /// `types_db`: types.db files, read in order.
    public var typesDB: [String]
    /// `security_level`.
    public var securityLevel: CollectdSecurityLevel
    /// `auth_file`: collectd's AuthFile (`user: password` lines); required for sign and encrypt.
    public var authFile: String?
    /// `schema`.
    public var schema: CollectdSchema
    /// `store_rates`: COUNTER, DERIVE and ABSOLUTE values become per-second rates.
    public var storeRates: Bool
    /// `read_buffer`, bytes: the socket's receive buffer (SO_RCVBUF).
    public var readBuffer: Int
    /// `readers`: sockets bound to the address with SO_REUSEPORT, each with its own reader.
    public var readers: Int
    /// `max_datagram`, bytes: larger datagrams are dropped and counted.
    public var maxDatagram: Int
    /// `allow`: the networks that may send; datagrams from elsewhere are dropped and counted
    /// before decoding. Default: everyone.
    public var allow: AllowList

    public static let defaultTypesDB = ["/usr/share/collectd/types.db"]
    public static let readersRange = 1...16
    public static let readBufferRange = (4 << 10)...(1 << 30)
    public static let maxDatagramRange = 1024...65535

    public init(name: String = "collectd", listen: ListenAddress,
                typesDB: [String] = CollectdInputConfiguration.defaultTypesDB,
                securityLevel: CollectdSecurityLevel = .none, authFile: String? = nil, schema: CollectdSchema = .split,
                storeRates: Bool = false, readBuffer: Int = 8 << 20, readers: Int = 1, maxDatagram: Int = 65535,
                allow: AllowList = .everyone) {
        self.name = name
        self.listen = listen
        self.typesDB = typesDB
        self.securityLevel = securityLevel
        self.authFile = authFile
        self.schema = schema
        self.storeRates = storeRates
        self.readBuffer = readBuffer
        self.readers = readers
        self.maxDatagram = maxDatagram
        self.allow = allow
    }
}

extension CollectdInputConfiguration {
    static let example = "listen = \"127.0.0.1:25826\""

    init?(reading reader: TableReader, defaultName: String) {
        let listen = reader.address("listen")
        if !reader.contains("listen") {
            reader.error("listen", "required key is missing (for example \(Self.example))")
        }
        var input = CollectdInputConfiguration(listen: listen ?? ListenAddress(host: "0.0.0.0", port: 1))
        input.name = readName(reader, default: defaultName)
        input.typesDB = reader.stringArray("types_db") ?? input.typesDB
        input.securityLevel = reader.choice("security_level", default: input.securityLevel)
        input.authFile = reader.nonEmptyString("auth_file")
        input.schema = reader.choice("schema", default: input.schema)
        input.storeRates = reader.bool("store_rates", default: input.storeRates)
        input.readBuffer = reader.size("read_buffer", default: input.readBuffer, range: Self.readBufferRange)
        input.readers = reader.int("readers", default: input.readers, range: Self.readersRange)
        input.maxDatagram = reader.size("max_datagram", default: input.maxDatagram, range: Self.maxDatagramRange)
        input.allow = reader.allowList("allow")
        if input.securityLevel != .none, input.authFile == nil, !reader.contains("auth_file") {
            reader.error("auth_file", "required when security_level is \"\(input.securityLevel.rawValue)\": "
                         + "collectd's AuthFile with the users' passwords")
        }
        reader.finish()
        guard listen != nil else { return nil }
        self = input
    }
}

/// `name`: letters, digits, `_`, `-` and `.`, starting with a letter or digit, at most 64
/// characters (names end up in tags and file names).
func readName(_ reader: TableReader, default defaultName: String) -> String {
    guard let name = reader.string("name") else { return defaultName }
    let allowed = name.utf8.allSatisfy { byte in
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."):
            return true
        default:
            return false
        }
    }
    guard !name.isEmpty, name.count <= 64, allowed, name.first!.isLetter || name.first!.isNumber else {
        reader.error("name", "bad name '\(name)': use 1 to 64 letters, digits, '_', '-' or '.', starting with a letter or digit")
        return defaultName
    }
    return name
}
