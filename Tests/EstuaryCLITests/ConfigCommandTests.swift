import Foundation
import EstuaryTestSupport
import Testing

/// The repository's examples/estuary.toml, found from this file.
let exampleConfiguration = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("examples/estuary.toml").path

/// Writes `text` to a fresh temporary file and returns its path.
func temporaryFile(_ text: String, name: String = "estuary.toml") throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("estuary-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let file = directory.appendingPathComponent(name)
    try Data(text.utf8).write(to: file)
    return file.path
}

@Suite("estuary check-config and sample-config", .ownThreads)
struct ConfigCommandTests {
    @Test("sample-config prints examples/estuary.toml exactly")
    func sampleConfig() throws {
        let result = try runEstuary(["sample-config"])
        #expect(result.status == 0)
        #expect(result.stderr.isEmpty)
        let expected = try String(contentsOfFile: exampleConfiguration, encoding: .utf8)
        #expect(result.stdout == expected)
    }

    @Test("check-config on the sample: OK with the number of inputs and outputs, exit 0")
    func checkGoodFile() throws {
        let result = try runEstuary(["check-config", exampleConfiguration])
        #expect(result.status == 0)
        #expect(result.stdout == "\(exampleConfiguration): OK (2 inputs, 1 outputs)\n")
        #expect(result.stderr.isEmpty)
    }

    @Test("check-config on a bad file: every error with file, line and key on stderr, exit 1")
    func checkBadFile() throws {
        let file = try temporaryFile("""
            log_level = "info"

            [[inputs.collectd]]
              listen = "127.0.0.1:25826"
              security_level = "encrpyt"

            [[outputs.influxdb]]
              url = "http://127.0.0.1:8086"
              flush_interval = 5
            """)
        let result = try runEstuary(["check-config", file])
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr == """
            \(file):5: inputs.collectd[0].security_level: unknown value 'encrpyt' (expected none, sign or encrypt)
            \(file):9: outputs.influxdb[0].flush_interval: expected a duration string with a unit, got the bare number 5; \
            write "5s" for seconds or "5ms" for milliseconds
            \(file): 2 errors

            """)
    }

    @Test("check-config on a syntax error: line and column")
    func checkSyntaxError() throws {
        let file = try temporaryFile("[[inputs.collectd]]\nlisten = \"127.0.0.1:25826\n")
        let result = try runEstuary(["check-config", file])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("\(file):2:"))
        #expect(result.stderr.contains("syntax error"))
    }

    @Test("check-config on a missing file: says so, exit 1")
    func checkMissingFile() throws {
        let result = try runEstuary(["check-config", "/nonexistent/estuary.toml"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("/nonexistent/estuary.toml: cannot be read: No such file or directory"))
    }
}
