import ArgumentParser

/// The `estuary` command line: the daemon and its tools.
public struct EstuaryCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "estuary",
        abstract: "A metrics relay: collectd, graphite and SNMP in, InfluxDB out.",
        subcommands: [RunCommand.self, DecodeCommand.self, SNMPCommand.self, CheckConfigCommand.self, SampleConfigCommand.self])

    public init() {}
}

/// `estuary decode`: show the points Estuary makes of captured input.
struct DecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Decode captured input and print the line protocol Estuary would write.",
        subcommands: [DecodeCollectdCommand.self, DecodeGraphiteCommand.self])
}
