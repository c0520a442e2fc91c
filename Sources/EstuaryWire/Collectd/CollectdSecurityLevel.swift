/// The listener's collectd `SecurityLevel`: what a value list must have gone through to be accepted.
///
/// - `none`: everything is accepted. With an AuthFile, signatures are verified and encrypted
///   parts decrypted; without one, signed data is accepted unverified and encrypted data dropped.
/// - `sign`: only signed or encrypted value lists are accepted (requires an AuthFile).
/// - `encrypt`: only encrypted value lists are accepted (requires an AuthFile).
public enum CollectdSecurityLevel: String, Sendable, Hashable, CaseIterable {
    case none
    case sign
    case encrypt

    /// Parses a level, case-insensitively; an unknown word is an error, never a fallback.
    public init(parsing text: String) throws(CollectdConfigurationError) {
        guard let level = CollectdSecurityLevel(rawValue: text.lowercased()) else {
            throw .unknownSecurityLevel(text)
        }
        self = level
    }

    /// Whether a value list that arrived with `security` is accepted at this level.
    public func accepts(_ security: CollectdSecurity) -> Bool {
        switch self {
        case .none: return true
        case .sign: return security >= .signed
        case .encrypt: return security == .encrypted
        }
    }
}

/// A configuration mistake in the collectd input, found before any datagram is read.
public enum CollectdConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    case unknownSecurityLevel(String)
    case authFileRequired(CollectdSecurityLevel)
    case authFileSyntax(line: Int, text: String)
    case typesDBSyntax(file: String, line: Int, message: String)

    public var description: String {
        switch self {
        case .unknownSecurityLevel(let text):
            return "unknown security level '\(text)' (expected none, sign or encrypt)"
        case .authFileRequired(let level):
            return "security level '\(level.rawValue)' requires an AuthFile"
        case .authFileSyntax(let line, let text):
            return "AuthFile line \(line): expected 'user: password', got '\(text)'"
        case .typesDBSyntax(let file, let line, let message):
            return "\(file):\(line): \(message)"
        }
    }
}

/// collectd's AuthFile: one `user: password` per line (the format of collectd's network plugin).
///
/// Blank lines and lines starting with `#` are ignored. Leading and trailing white space
/// around user and password is trimmed, as collectd does.
public struct CollectdAuthFile: Sendable, Hashable {
    public var passwords: [String: String]

    public init(passwords: [String: String]) {
        self.passwords = passwords
    }

    /// Parses an AuthFile's text.
    public init(parsing text: String) throws(CollectdConfigurationError) {
        var passwords: [String: String] = [:]
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = rawLine.trimmingWhitespace()
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let colon = line.firstIndex(of: ":") else {
                throw .authFileSyntax(line: lineNumber, text: String(line))
            }
            let user = line[..<colon].trimmingWhitespace()
            let password = line[line.index(after: colon)...].trimmingWhitespace()
            guard !user.isEmpty, !password.isEmpty else {
                throw .authFileSyntax(line: lineNumber, text: String(line))
            }
            passwords[String(user)] = String(password)
        }
        self.passwords = passwords
    }
}

extension Substring {
    func trimmingWhitespace() -> Substring {
        var s = self
        while let c = s.first, c == " " || c == "\t" || c == "\r" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" || c == "\r" { s = s.dropLast() }
        return s
    }
}

/// The cryptographic primitives collectd's Sign and Encrypt levels need. EstuaryWire stays
/// free of C libraries; `EstuaryCrypto.LibcryptoCollectdCryptography` implements this with OpenSSL.
public protocol CollectdCryptography: Sendable {
    /// SHA-256 of `data` (the AES key is SHA-256 of the password).
    func sha256(_ data: UnsafeRawBufferPointer) -> [UInt8]
    /// SHA-1 of `data` (the checksum inside an encrypted part).
    func sha1(_ data: UnsafeRawBufferPointer) -> [UInt8]
    /// HMAC-SHA-256 of `message` with `key`.
    func hmacSHA256(key: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer) -> [UInt8]
    /// AES-256 in OFB mode from `iv` over `input` into `output` (same length). OFB is its own
    /// inverse, so this both encrypts and decrypts. Returns false if the library failed.
    func aes256OFB(key: UnsafeRawBufferPointer, iv: UnsafeRawBufferPointer,
                   input: UnsafeRawBufferPointer, output: UnsafeMutableRawBufferPointer) -> Bool
}
