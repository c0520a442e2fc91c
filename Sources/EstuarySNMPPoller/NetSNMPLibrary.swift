import CNetSNMP
import EstuarySNMP
import Synchronization

/// libnetsnmp's one-time set-up and the translation of Estuary's settings into its codes.
enum NetSNMPLibrary {
    private static let ready: Bool = {
        estuary_snmp_initialize("estuary")
        return true
    }()

    /// Initializes the library once (no MIBs, no configuration files, no persistent state).
    static func initialize() {
        _ = ready
    }

    /// Derived keys per credential set: password-to-key costs milliseconds, so it is done
    /// once per credential set, not per session.
    private static let keyCache = Mutex<[SNMPCredentials: (auth: [UInt8], priv: [UInt8])]>([:])

    /// The SNMPv3 keys (Ku) for `credentials`, nil when the library cannot derive them.
    static func keys(for credentials: SNMPCredentials) -> (auth: [UInt8], priv: [UInt8])? {
        if let cached = keyCache.withLock({ $0[credentials] }) { return cached }
        var auth: [UInt8] = []
        var priv: [UInt8] = []
        if credentials.securityLevel != .noAuthNoPriv {
            guard let key = derive(credentials.authPassword, protocol: credentials.authProtocol) else { return nil }
            auth = key
        }
        if credentials.securityLevel == .authPriv {
            // The privacy key is derived with the authentication hash (RFC 3414).
            guard let key = derive(credentials.privPassword, protocol: credentials.authProtocol) else { return nil }
            priv = key
        }
        keyCache.withLock { $0[credentials] = (auth, priv) }
        return (auth, priv)
    }

    private static func derive(_ password: String, protocol auth: SNMPAuthProtocol) -> [UInt8]? {
        var key = [UInt8](repeating: 0, count: 64)
        var length = key.count
        let bytes = Array(password.utf8)
        let result = bytes.withUnsafeBufferPointer { pw in
            key.withUnsafeMutableBufferPointer { out in
                estuary_snmp_password_key(authCode(auth), pw.baseAddress, pw.count, out.baseAddress, &length)
            }
        }
        guard result == 0 else { return nil }
        return Array(key.prefix(length))
    }

    static func versionCode(_ version: SNMPVersion) -> Int {
        switch version {
        case .v1: return Int(SNMP_VERSION_1)
        case .v2c: return Int(SNMP_VERSION_2c)
        case .v3: return Int(SNMP_VERSION_3)
        }
    }

    static func levelCode(_ level: SNMPSecurityLevel) -> Int32 {
        switch level {
        case .noAuthNoPriv: return Int32(SNMP_SEC_LEVEL_NOAUTH)
        case .authNoPriv: return Int32(SNMP_SEC_LEVEL_AUTHNOPRIV)
        case .authPriv: return Int32(SNMP_SEC_LEVEL_AUTHPRIV)
        }
    }

    static func authCode(_ auth: SNMPAuthProtocol) -> Int32 {
        switch auth {
        case .md5: return Int32(ESTUARY_AUTH_MD5)
        case .sha: return Int32(ESTUARY_AUTH_SHA)
        case .sha224: return Int32(ESTUARY_AUTH_SHA224)
        case .sha256: return Int32(ESTUARY_AUTH_SHA256)
        case .sha384: return Int32(ESTUARY_AUTH_SHA384)
        case .sha512: return Int32(ESTUARY_AUTH_SHA512)
        }
    }

    static func privCode(_ priv: SNMPPrivProtocol) -> Int32 {
        switch priv {
        case .des: return Int32(ESTUARY_PRIV_DES)
        case .aes: return Int32(ESTUARY_PRIV_AES)
        case .aes192: return Int32(ESTUARY_PRIV_AES192)
        case .aes256: return Int32(ESTUARY_PRIV_AES256)
        }
    }
}
