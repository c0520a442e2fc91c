import ArgumentParser
import EstuaryConfig

/// `estuary check-config FILE`: load a configuration the way `estuary run` will and report
/// every mistake, each with its file, line and key path.
struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Check a configuration file and print every mistake with its line.",
        discussion: """
            Prints "FILE: OK (N inputs, M outputs)" and exits 0 when the file is valid. Otherwise \
            prints one line per mistake to standard error ("FILE:LINE: KEY: what is wrong") and \
            exits 1. Files the configuration names (types.db, AuthFile) are not read.
            """)

    @Argument(help: "The configuration file (TOML).")
    var file: String

    func run() throws {
        do {
            let configuration = try EstuaryConfiguration.load(path: file)
            let inputs = configuration.collectdInputs.count + configuration.graphiteInputs.count + configuration.snmpInputs.count
            let outputs = configuration.influxDBOutputs.count
            var stdout = OutputStream.standardOutput()
            // The fixed form scripts match on, also for one input or output.
            stdout.line("\(file): OK (\(inputs) inputs, \(outputs) outputs)")
            stdout.flush()
        } catch {
            var stderr = OutputStream.standardError()
            for mistake in error.errors { stderr.line(mistake.description) }
            let count = error.errors.count
            stderr.line("\(file): \(count) error\(count == 1 ? "" : "s")")
            stderr.flush()
            throw ExitCode(1)
        }
    }
}
