/// A device to poll: its address and port, and optionally its name (the `host` tag) and
/// the name of the credentials to use instead of its input's own.
public struct SNMPTarget: Sendable, Hashable, CustomStringConvertible {
    /// An IPv4 or IPv6 address, or a host name (resolved when the poller loads it).
    public var host: String
    public var port: UInt16
    public var name: String?
    public var credentials: String?

    public init(host: String, port: UInt16 = 161, name: String? = nil, credentials: String? = nil) {
        self.host = host
        self.port = port
        self.name = name
        self.credentials = credentials
    }

    /// `host` when the port is 161, else `host:port` (`[v6]:port` for IPv6): the
    /// `agent_host` tag and the key a device is known by.
    public var agent: String {
        if port == 161 { return host }
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    public var description: String { agent }

    /// The address as libnetsnmp's peer name (`udp:…`, `udp6:[…]`).
    public var peerName: String {
        host.contains(":") ? "udp6:[\(host)]:\(port)" : "udp:\(host):\(port)"
    }
}

/// A line of a targets list that could not be read.
public struct SNMPTargetError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 1-based line number (0 for an inline entry).
    public var line: Int
    public var message: String

    public init(line: Int, message: String) {
        self.line = line
        self.message = message
    }

    public var description: String { line > 0 ? "line \(line): \(message)" : message }
}

/// Reads targets: one device per line, `address[:port] [name] [credentials]`, `#` starting
/// a comment, `-` for "no name" when credentials follow. IPv6 addresses with a port are
/// written `[::1]:161`. Every bad line is reported with its number; good lines are kept.
public enum SNMPTargetList {
    public static func parse(_ text: String) -> (targets: [SNMPTarget], errors: [SNMPTargetError]) {
        var targets: [SNMPTarget] = []
        var errors: [SNMPTargetError] = []
        var seen: [String: Int] = [:]
        var number = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            var line = Substring(rawLine)
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            if words.isEmpty { continue }
            do {
                let target = try entry(words.map(String.init))
                if let first = seen[target.agent] {
                    errors.append(SNMPTargetError(line: number, message: "\(target.agent) is already listed on line \(first)"))
                    continue
                }
                seen[target.agent] = number
                targets.append(target)
            } catch {
                errors.append(SNMPTargetError(line: number, message: error.message))
            }
        }
        return (targets, errors)
    }

    /// One entry (`127.0.0.1:16100 core-sw1 v3-core`), split into words.
    public static func entry(_ words: [String]) throws(SNMPTargetError) -> SNMPTarget {
        guard let first = words.first else { throw SNMPTargetError(line: 0, message: "empty target") }
        guard words.count <= 3 else {
            throw SNMPTargetError(line: 0, message: "too many words in '\(words.joined(separator: " "))': expected address[:port] [name] [credentials]")
        }
        var target = try address(first)
        if words.count >= 2, words[1] != "-" { target.name = words[1] }
        if words.count == 3 {
            let credentials = words[2]
            guard credentials.utf8.allSatisfy({ isNameByte($0) }) else {
                throw SNMPTargetError(line: 0, message: "bad credentials name '\(credentials)': use letters, digits, '_', '-' and '.'")
            }
            target.credentials = credentials
        }
        return target
    }

    /// `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address.
    public static func address(_ text: String) throws(SNMPTargetError) -> SNMPTarget {
        var host = text
        var port: UInt16 = 161
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                throw SNMPTargetError(line: 0, message: "bad address '\(text)': missing ']'")
            }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let value = UInt16(rest.dropFirst()), value > 0 else {
                    throw SNMPTargetError(line: 0, message: "bad port in '\(text)'")
                }
                port = value
            }
        } else if text.filter({ $0 == ":" }).count == 1, let colon = text.firstIndex(of: ":") {
            host = String(text[..<colon])
            guard let value = UInt16(text[text.index(after: colon)...]), value > 0 else {
                throw SNMPTargetError(line: 0, message: "bad port in '\(text)' (1 to 65535)")
            }
            port = value
        }
        guard !host.isEmpty, host.utf8.allSatisfy({ isNameByte($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: "%") }) else {
            throw SNMPTargetError(line: 0, message: "bad address '\(text)': expected an IP address or host name, optionally with :port")
        }
        return SNMPTarget(host: host, port: port)
    }

    public static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."):
            return true
        default:
            return false
        }
    }
}
