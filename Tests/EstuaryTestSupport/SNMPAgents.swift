#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Why a test agent could not start.
public struct SNMPAgentError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A real net-snmp agent (Debian `snmpd`) on a free loopback UDP port, for one test: the
/// communities and SNMPv3 users it is given, its own temporary folder for persistent state,
/// no MIB loading. Serves the host's real interfaces (`lo` at least). Runs under
/// `timeout(1)`, so it never outlives `lifetime` seconds; stopped by `stop()` or when the
/// object goes away.
public final class SNMPDaemon: @unchecked Sendable {
    public static let binary = "/usr/sbin/snmpd"

    /// An SNMPv3 user the agent knows (read-only, at the given minimum level).
    public struct User: Sendable {
        public var name: String
        public var authProtocol: String
        public var authPassword: String
        public var privProtocol: String?
        public var privPassword: String?

        public init(name: String, authProtocol: String, authPassword: String, privProtocol: String? = nil, privPassword: String? = nil) {
            self.name = name
            self.authProtocol = authProtocol
            self.authPassword = authPassword
            self.privProtocol = privProtocol
            self.privPassword = privPassword
        }
    }

    public let port: UInt16
    public let directory: URL
    private let process: ChildProcess

    public static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: binary) }

    /// `v1OnlyCommunities` answer SNMPv1 requests only (an agent that speaks nothing newer).
    /// `ipv6`: listen on [::1] instead of 127.0.0.1.
    public init(communities: [String] = ["public"], v1OnlyCommunities: [String] = [], users: [User] = [],
                sysName: String = "snmpd-under-test", ipv6: Bool = false, lifetime: Double = 300) throws {
        guard Self.isInstalled else { throw SNMPAgentError("\(Self.binary) not found (install the snmpd package)") }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("estuary-snmpd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("persist"), withIntermediateDirectories: true)
        var lines = ["sysName \(sysName)", "sysLocation test rack", "sysContact tests@example.org"]
        for community in communities {
            lines.append(ipv6 ? "rocommunity6 \(community) ::1" : "rocommunity \(community) 127.0.0.1")
        }
        if !v1OnlyCommunities.isEmpty {
            lines.append("view estuaryall included .1")
            for community in v1OnlyCommunities {
                lines.append("com2sec v1only-\(community) 127.0.0.1 \(community)")
                lines.append("group v1only-group v1 v1only-\(community)")
            }
            lines.append("access v1only-group \"\" v1 noauth exact estuaryall none none")
        }
        for user in users {
            var line = "createUser \(user.name) \(user.authProtocol) \"\(user.authPassword)\""
            if let priv = user.privProtocol, let password = user.privPassword { line += " \(priv) \"\(password)\"" }
            lines.append(line)
            lines.append("rouser \(user.name) \(user.privProtocol == nil ? "auth" : "priv")")
        }
        let configuration = directory.appendingPathComponent("snmpd.conf")
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: configuration)
        var started: (ChildProcess, UInt16)?
        for _ in 0..<5 {
            let candidate = try LoopbackSockets.freePort(udp: true)
            setenv("SNMP_PERSISTENT_DIR", directory.appendingPathComponent("persist").path, 1)
            let child = try ChildProcess(path: "/usr/bin/timeout", arguments: [
                "-s", "KILL", "\(Int(lifetime))", Self.binary, "-f", "-Lf", directory.appendingPathComponent("snmpd.log").path,
                "-C", "-c", configuration.path, "-M", "/dev/null", "-m", "", "-p", directory.appendingPathComponent("snmpd.pid").path,
                ipv6 ? "udp6:[::1]:\(candidate)" : "udp:127.0.0.1:\(candidate)",
            ], outputPath: directory.appendingPathComponent("stdout.log").path)
            if SNMPTools.waitUntilAnswering(port: candidate, community: communities.first ?? v1OnlyCommunities.first ?? "public",
                                            version: communities.isEmpty ? "1" : "2c", host: ipv6 ? "udp6:[::1]" : "127.0.0.1",
                                            timeout: 10) {
                started = (child, candidate)
                break
            }
            child.stop(grace: 1)
        }
        guard let (child, bound) = started else {
            let log = (try? String(contentsOf: directory.appendingPathComponent("snmpd.log"), encoding: .utf8)) ?? ""
            throw SNMPAgentError("snmpd did not answer; log:\n\(log.suffix(2000))")
        }
        process = child
        port = bound
    }

    public func stop() {
        process.stop(grace: 2)
    }

    deinit {
        process.stop(grace: 1)
        try? FileManager.default.removeItem(at: directory)
    }
}

/// snmpsim (Debian `snmpsim`), serving recorded walks (`.snmprec` files) on a free loopback
/// UDP port: each file is a device, reached with the file's name as community. A test
/// writes the files, starts the simulator, and can stop and start it again with other
/// files on the same port (an agent restart). Runs under `timeout(1)`.
public final class SNMPSimulator: @unchecked Sendable {
    public static let binary = "/usr/bin/snmpsimd"

    public let port: UInt16
    public let directory: URL
    private var process: ChildProcess?
    private let lifetime: Double

    public static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: binary) }

    /// Data files by community; started at once.
    public init(devices: [String: String], port: UInt16? = nil, lifetime: Double = 300) throws {
        guard Self.isInstalled else { throw SNMPAgentError("\(Self.binary) not found (install the snmpsim package)") }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("estuary-snmpsim-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        chmod(directory.path, 0o777)
        self.lifetime = lifetime
        self.port = try port ?? LoopbackSockets.freePort(udp: true)
        try start(devices: devices)
    }

    /// (Re)starts the simulator with these data files.
    public func start(devices: [String: String]) throws {
        stop()
        let data = directory.appendingPathComponent("data-\(UUID().uuidString)")
        let cache = directory.appendingPathComponent("cache-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
        chmod(data.path, 0o755)
        chmod(cache.path, 0o777)
        for (community, text) in devices {
            let file = data.appendingPathComponent("\(community).snmprec")
            try Data(text.utf8).write(to: file)
            chmod(file.path, 0o644)
        }
        var arguments = ["-s", "KILL", "\(Int(lifetime))", Self.binary, "--data-dir=\(data.path)", "--cache-dir=\(cache.path)",
                         "--agent-udpv4-endpoint=127.0.0.1:\(port)", "--logging-method=null"]
        if getuid() == 0 { arguments += ["--process-user=nobody", "--process-group=nogroup"] }
        let child = try ChildProcess(path: "/usr/bin/timeout", arguments: arguments,
                                     outputPath: directory.appendingPathComponent("snmpsim.log").path)
        process = child
        guard let community = devices.keys.sorted().first,
              SNMPTools.waitUntilAnswering(port: port, community: community, timeout: 20) else {
            let log = (try? String(contentsOf: directory.appendingPathComponent("snmpsim.log"), encoding: .utf8)) ?? ""
            throw SNMPAgentError("snmpsimd did not answer on port \(port); log:\n\(log.suffix(2000))")
        }
    }

    public func stop() {
        process?.stop(grace: 2)
        process = nil
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }
}

/// A UDP port that takes requests and never answers: a dead device.
public final class SilentUDPPeer: @unchecked Sendable {
    public let port: UInt16
    private let fd: Int32

    public init() throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        self.fd = fd
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            port = 0
            throw LoopbackSocketError(call: "bind", errno: errno)
        }
        port = try LoopbackSockets.boundPort(fd)
    }

    deinit { close(fd) }
}

/// net-snmp's command-line tools, for readiness checks.
public enum SNMPTools {
    /// Polls sysName with `snmpget` until the agent answers or `timeout` passes.
    public static func waitUntilAnswering(port: UInt16, community: String, version: String = "2c", host: String = "127.0.0.1",
                                          timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let log = FileManager.default.temporaryDirectory.appendingPathComponent("snmpget-\(UUID().uuidString).log")
            defer { try? FileManager.default.removeItem(at: log) }
            if let child = try? ChildProcess(path: "/usr/bin/snmpget", arguments: [
                "-v\(version)", "-c", community, "-t", "0.3", "-r", "0", "-m", "", "\(host):\(port)", "1.3.6.1.2.1.1.5.0",
            ], outputPath: log.path) {
                _ = child.waitForExit(timeout: 3)
                if child.terminationStatus == 0 { return true }
            }
            usleep(100_000)
        }
        return false
    }
}

/// A recorded walk in snmpsim's `.snmprec` form (`OID|TAG|VALUE` per line), with edits for
/// the test cases: values changed, lines left out.
public struct SNMPRecording: Sendable {
    public var lines: [(oid: String, tag: String, value: String)]

    public init(text: String) {
        lines = text.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: "|", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { return nil }
            return (String(parts[0]), String(parts[1]), String(parts[2]))
        }
    }

    public var text: String {
        lines.map { "\($0.oid)|\($0.tag)|\($0.value)" }.joined(separator: "\n") + "\n"
    }

    /// The value of `oid` as recorded (hex strings decoded), nil when absent.
    public func value(_ oid: String) -> String? {
        guard let line = lines.first(where: { $0.oid == oid }) else { return nil }
        if line.tag == "4x" {
            var bytes: [UInt8] = []
            var index = line.value.startIndex
            while index < line.value.endIndex {
                let next = line.value.index(index, offsetBy: 2)
                bytes.append(UInt8(line.value[index..<next], radix: 16) ?? 0)
                index = next
            }
            return String(decoding: bytes, as: UTF8.self)
        }
        return line.value
    }

    /// Sets `oid` (adding it in order if absent); `tag` as snmprec writes it (2 INTEGER,
    /// 4 OCTET STRING, 65 Counter32, 66 Gauge32, 67 TimeTicks, 70 Counter64).
    public mutating func set(_ oid: String, tag: String, value: String) {
        if let index = lines.firstIndex(where: { $0.oid == oid }) {
            lines[index] = (oid, tag, value)
        } else {
            lines.append((oid, tag, value))
            lines.sort { Self.less($0.oid, $1.oid) }
        }
    }

    /// Leaves out every line under `prefix` (a whole table or column).
    public mutating func remove(under prefix: String) {
        lines.removeAll { $0.oid == prefix || $0.oid.hasPrefix(prefix + ".") }
    }

    static func less(_ a: String, _ b: String) -> Bool {
        let x = a.split(separator: ".").map { UInt($0) ?? 0 }
        let y = b.split(separator: ".").map { UInt($0) ?? 0 }
        return x.lexicographicallyPrecedes(y)
    }
}
