/// How to authenticate to an agent: a community (v1, v2c) or an SNMPv3 USM user.
public struct SNMPCredentials: Sendable, Hashable {
    public var version: SNMPVersion
    /// v1 and v2c.
    public var community: String
    /// SNMPv3: the user (securityName).
    public var username: String
    public var securityLevel: SNMPSecurityLevel
    public var authProtocol: SNMPAuthProtocol
    public var authPassword: String
    public var privProtocol: SNMPPrivProtocol
    public var privPassword: String
    /// SNMPv3 context name (empty: the default context).
    public var contextName: String

    public init(version: SNMPVersion = .v2c, community: String = "public", username: String = "",
                securityLevel: SNMPSecurityLevel = .noAuthNoPriv, authProtocol: SNMPAuthProtocol = .sha,
                authPassword: String = "", privProtocol: SNMPPrivProtocol = .aes, privPassword: String = "",
                contextName: String = "") {
        self.version = version
        self.community = community
        self.username = username
        self.securityLevel = securityLevel
        self.authProtocol = authProtocol
        self.authPassword = authPassword
        self.privProtocol = privProtocol
        self.privPassword = privPassword
        self.contextName = contextName
    }

    /// A form without secrets, for logs.
    public var summary: String {
        switch version {
        case .v1, .v2c: return "v\(version.rawValue)"
        case .v3: return "v3 user \(username) \(securityLevel.rawValue)"
        }
    }
}

/// SNMPv3 security levels.
public enum SNMPSecurityLevel: String, Sendable, Hashable, CaseIterable {
    case noAuthNoPriv
    case authNoPriv
    case authPriv
}

/// SNMPv3 authentication protocols (HMAC).
public enum SNMPAuthProtocol: String, Sendable, Hashable, CaseIterable {
    case md5 = "MD5"
    case sha = "SHA"
    case sha224 = "SHA224"
    case sha256 = "SHA256"
    case sha384 = "SHA384"
    case sha512 = "SHA512"
}

/// SNMPv3 privacy protocols.
public enum SNMPPrivProtocol: String, Sendable, Hashable, CaseIterable {
    case des = "DES"
    case aes = "AES"
    case aes192 = "AES192"
    case aes256 = "AES256"
}

/// One device to poll and how: its address, name, credentials and timing, and what to ask
/// for besides the interfaces.
public struct SNMPDeviceSettings: Sendable, Hashable {
    public var target: SNMPTarget
    public var credentials: SNMPCredentials
    /// Seconds between polls.
    public var interval: Double
    /// Seconds to wait for each answer before retransmitting.
    public var timeout: Double
    /// Retransmissions before a request counts as timed out.
    public var retries: Int
    /// GETBULK max-repetitions to start with (halved on devices that cannot take it).
    public var maxRepetitions: Int
    /// How often to walk ifDescr and ifAlias again (besides after a restart), seconds.
    public var indexRefresh: Double
    public var rates: Bool
    public var tables: [SNMPTableSpec]
    public var scalars: [SNMPScalarSpec]

    public init(target: SNMPTarget, credentials: SNMPCredentials, interval: Double = 60, timeout: Double = 2,
                retries: Int = 1, maxRepetitions: Int = 10, indexRefresh: Double = 600, rates: Bool = false,
                tables: [SNMPTableSpec] = [], scalars: [SNMPScalarSpec] = []) {
        self.target = target
        self.credentials = credentials
        self.interval = interval
        self.timeout = timeout
        self.retries = retries
        self.maxRepetitions = maxRepetitions
        self.indexRefresh = indexRefresh
        self.rates = rates
        self.tables = tables
        self.scalars = scalars
    }

    /// The device's identity in points.
    public var identity: SNMPDeviceIdentity {
        SNMPDeviceIdentity(agent: target.agent, name: target.name)
    }
}
