import ArgumentParser
import EstuarySNMP
import EstuarySNMPPoller
import EstuaryWire
import Foundation

/// `estuary snmp`: SNMP tools.
struct SNMPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snmp",
        abstract: "SNMP tools.",
        subcommands: [SNMPPollCommand.self])
}

extension SNMPVersion: ExpressibleByArgument {}
extension SNMPSchema: ExpressibleByArgument {}
extension SNMPSecurityLevel: ExpressibleByArgument {}
extension SNMPAuthProtocol: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.uppercased()) }
}
extension SNMPPrivProtocol: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.uppercased()) }
}

/// `estuary snmp poll ADDRESS`: poll one device once and print its points.
struct SNMPPollCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "poll",
        abstract: "Poll one device once and print the points as line protocol.",
        discussion: """
            Walks the device's interfaces (ifTable, ifXTable), sysName and sysUpTime, as the \
            daemon's first poll of a device does, and prints the points on standard output in \
            the chosen schema (raw counters), then the status point. A summary goes to standard \
            error. Exit status 0 when the poll completed, 1 when the device did not answer or \
            refused, 64 for a usage error.
            """)

    @Argument(help: "The agent: address[:port], [IPv6]:port, or a host name.")
    var address: String

    @Option(help: "SNMP version: 1, 2c or 3.")
    var version: SNMPVersion = .v2c

    @Option(help: "Community (v1, v2c).")
    var community: String = "public"

    @Option(help: "SNMPv3 user.")
    var username: String = ""

    @Option(name: .customLong("security-level"), help: "SNMPv3: noAuthNoPriv, authNoPriv or authPriv.")
    var securityLevel: SNMPSecurityLevel?

    @Option(name: .customLong("auth-protocol"), help: "SNMPv3: MD5, SHA, SHA224, SHA256, SHA384 or SHA512.")
    var authProtocol: SNMPAuthProtocol = .sha

    @Option(name: .customLong("auth-password"), help: "SNMPv3 authentication password.")
    var authPassword: String = ""

    @Option(name: .customLong("priv-protocol"), help: "SNMPv3: DES, AES, AES192 or AES256.")
    var privProtocol: SNMPPrivProtocol = .aes

    @Option(name: .customLong("priv-password"), help: "SNMPv3 privacy password.")
    var privPassword: String = ""

    @Option(help: "SNMPv3 context name.")
    var context: String = ""

    @Option(help: "Seconds to wait for each answer.")
    var timeout: Double = 2

    @Option(help: "Retransmissions before a request counts as timed out.")
    var retries: Int = 1

    @Option(name: .customLong("max-repetitions"), help: "GETBULK max-repetitions (v2c, v3).")
    var maxRepetitions: Int = 10

    @Option(help: "collectd or telegraf.")
    var schema: SNMPSchema = .collectd

    @Option(help: "The host tag (default: the device's sysName).")
    var name: String?

    func validate() throws {
        guard timeout > 0, timeout <= 60 else { throw ValidationError("--timeout must be between 0 and 60 seconds") }
        guard (0...10).contains(retries) else { throw ValidationError("--retries must be between 0 and 10") }
        guard (1...1000).contains(maxRepetitions) else { throw ValidationError("--max-repetitions must be between 1 and 1000") }
        if version == .v3 && username.isEmpty { throw ValidationError("--version 3 needs --username") }
        if let level = resolvedLevel, level != .noAuthNoPriv, authPassword.utf8.count < 8 {
            throw ValidationError("--auth-password must have at least 8 characters (RFC 3414)")
        }
        if resolvedLevel == .authPriv, privPassword.utf8.count < 8 {
            throw ValidationError("--priv-password must have at least 8 characters (RFC 3414)")
        }
        do {
            _ = try SNMPTargetList.address(address)
        } catch {
            throw ValidationError(error.message)
        }
    }

    /// The level asked for, or the one the passwords given imply.
    private var resolvedLevel: SNMPSecurityLevel? {
        guard version == .v3 else { return nil }
        if let securityLevel { return securityLevel }
        if !privPassword.isEmpty { return .authPriv }
        if !authPassword.isEmpty { return .authNoPriv }
        return .noAuthNoPriv
    }

    func run() throws {
        var target = try SNMPTargetList.address(address)
        target.name = name
        if !SNMPHostResolver.isNumeric(target.host) {
            guard let resolved = SNMPHostResolver.resolve(target.host) else {
                FileHandle.standardError.write(Data("estuary snmp poll: cannot resolve '\(target.host)'\n".utf8))
                throw ExitCode(1)
            }
            target.host = resolved
        }
        let credentials = SNMPCredentials(version: version, community: community, username: username,
                                          securityLevel: resolvedLevel ?? .noAuthNoPriv, authProtocol: authProtocol,
                                          authPassword: authPassword, privProtocol: privProtocol, privPassword: privPassword,
                                          contextName: context)
        let device = SNMPDeviceSettings(target: target, credentials: credentials, timeout: timeout, retries: retries,
                                        maxRepetitions: maxRepetitions)
        guard let sample = SNMPSinglePoll.poll(device, timeLimit: 120) else {
            FileHandle.standardError.write(Data("estuary snmp poll: the poll did not finish\n".utf8))
            throw ExitCode(1)
        }
        var lines: [UInt8] = []
        let report = SNMPPointWriter(schema: schema).write(sample, state: SNMPDeviceState(), into: &lines)
        var out = OutputStream.standardOutput()
        out.write(lines)
        out.flush()
        let poll = sample.poll
        var summary = "polled \(target.agent) (v\(version.rawValue)): \(report.interfaces) interface(s), \(report.lines) point(s), "
            + "\(poll.requests) request(s), \(poll.varbinds) varbind(s) in \(String(format: "%.3f", sample.duration)) s"
        var failed = false
        switch poll.outcome {
        case .complete?: break
        case .timeout?:
            summary += "; no answer (timeout \(timeout) s × \(retries + 1))"
            failed = true
        case .failed(let why)?:
            summary += "; failed: \(why)"
            failed = true
        case nil:
            failed = true
        }
        var err = OutputStream.standardError()
        err.line(summary)
        err.flush()
        if failed { throw ExitCode(1) }
    }
}
