import ArgumentParser
import EstuaryConfig

/// `estuary sample-config`: print the fully commented sample configuration
/// (examples/estuary.toml), a working local setup to start from.
struct SampleConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample-config",
        abstract: "Print the fully commented sample configuration.",
        discussion: "Every key is in it, commented out where optional. Start with: estuary sample-config > estuary.toml")

    func run() throws {
        var stdout = OutputStream.standardOutput()
        stdout.write(EstuaryConfiguration.sample)
        stdout.flush()
    }
}
