import EstuaryModel
import EstuaryTestSupport
import EstuaryWire
import Foundation
import Testing

/// Runs the built `estuary` binary (next to the test bundle; `swift build --build-tests`
/// builds it) and returns its exit code (128 + the signal if one ended it), standard output
/// and standard error. Streams go through files, so neither can fill up and stall the child.
func runEstuary(_ arguments: [String], stdin: String? = nil, timeout: Double = 60) throws
    -> (status: Int32, stdout: String, stderr: String) {
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("estuary")
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("estuary-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let input = directory.appendingPathComponent("stdin"), output = directory.appendingPathComponent("stdout"),
        errors = directory.appendingPathComponent("stderr")
    try Data((stdin ?? "").utf8).write(to: input)
    let child = try ChildProcess(path: binary.path, arguments: arguments, standardInput: input.path,
                                 standardOutput: output.path, standardError: errors.path)
    guard child.waitForExit(timeout: timeout) else {
        child.stop(grace: 1)
        throw WaitTimedOut("estuary \(arguments.joined(separator: " ")) to exit", seconds: timeout)
    }
    let status = child.terminationStatus ?? -1
    let code = status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    let read = { (url: URL) in String(decoding: (try? Data(contentsOf: url)) ?? Data(), as: UTF8.self) }
    return (code, read(output), read(errors))
}

let fixtures = Fixtures.collectd

@Suite("estuary decode", .ownThreads)
struct DecodeCommandTests {
    @Test("collectd: line protocol on stdout, the expected points for a whole capture, summary on stderr")
    func decodesCapture() throws {
        let files = Fixtures.files(in: fixtures + "/capture/encrypt", suffix: ".bin")
        let result = try runEstuary(["decode", "collectd", "--types-db", fixtures + "/types.db", "--auth-file",
                                     fixtures + "/authfile", "--security-level", "encrypt", "--schema", "join"] + files)
        #expect(result.status == 0)
        let (points, errors) = LineProtocolParser().parse(result.stdout)
        #expect(errors.isEmpty)
        let comparison = PointMultisetComparison(actual: points,
                                                 expected: Fixtures.points(lineProtocol: fixtures + "/expected/encrypt.join.lp"))
        #expect(comparison.matches, "\(comparison)")
        #expect(result.stderr.hasSuffix("""
            decoded 127 datagram(s): 3048 value list(s), 3730 value(s), 0 notification(s), 2888 point(s); \
            unknown types 0; rejected: non_finite 224

            """))
    }

    @Test("collectd: one stderr line per rejection with file, offset and reason; exit 0")
    func reportsRejections() throws {
        let file = fixtures + "/bad/values_count_mismatch.bin"
        let result = try runEstuary(["decode", "collectd", "--types-db", fixtures + "/types.db", file])
        #expect(result.status == 0)
        #expect(result.stderr.contains("""
            \(file): offset 333: bad values part (count 2 needs length 24, part length is 15): its value list is \
            dropped [values_count_mismatch]
            """))
        #expect(result.stdout.split(separator: "\n").count == 30)
    }

    @Test("collectd: a wrongly signed datagram is dropped whole under level sign")
    func signLevel() throws {
        let result = try runEstuary(["decode", "collectd", "--types-db", fixtures + "/types.db", "--auth-file",
                                     fixtures + "/authfile", "--security-level", "sign",
                                     fixtures + "/bad/sign_wrong_hmac.bin", fixtures + "/bad/control_good_plain.bin"])
        #expect(result.status == 0)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("HMAC-SHA-256 mismatch (user 'relay'): datagram dropped [signature_mismatch]"))
        #expect(result.stderr.contains("[unauthenticated]"))
    }

    @Test("an unknown security level is an error naming the accepted values, never a fallback")
    func unknownSecurityLevel() throws {
        let result = try runEstuary(["decode", "collectd", "--security-level", "encrpyt", fixtures + "/bad/zero_length.bin"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("encrpyt"))
        #expect(result.stdout.isEmpty)
    }

    @Test("sign and encrypt need an AuthFile; unreadable files are errors")
    func usageErrors() throws {
        let noAuth = try runEstuary(["decode", "collectd", "--security-level", "sign", fixtures + "/bad/zero_length.bin"])
        #expect(noAuth.status != 0)
        #expect(noAuth.stderr.contains("--security-level sign needs --auth-file"))
        let missing = try runEstuary(["decode", "collectd", "--types-db", fixtures + "/types.db", "/nonexistent.bin"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("/nonexistent.bin: cannot be read"))
    }

    @Test("graphite --collectd: write_graphite lines become the binary protocol's series; rejections by line")
    func graphiteCollectd() throws {
        let input = """
            web-1.cpu-0.percent-idle 86.43 1700000000\r
            web-1.interface-eth0.if_octets.rx nan 1700000000\r
            web-1.interface-eth0.if_octets.tx 12.5 1700000000\r
            app.requests 5
            """
        let result = try runEstuary(["decode", "graphite", "--collectd", "--types-db", fixtures + "/types.db",
                                     "--template", "app.* measurement.field"], stdin: input)
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines[0] == "cpu_value,host=web-1,instance=0,type=percent,type_instance=idle value=86.43 1700000000000000000")
        #expect(lines[1] == "interface_tx,host=web-1,instance=eth0,type=if_octets value=12.5 1700000000000000000")
        #expect(lines[2].hasPrefix("app requests=5 "))
        #expect(result.stderr.contains("line 2: value is NaN or infinite: no point [non_finite]"))
        #expect(result.stderr.contains("collectd paths 2, templates 1"))
    }

    @Test("graphite: a bad template is an error that names it")
    func badTemplate() throws {
        let result = try runEstuary(["decode", "graphite", "--template", "a.* .field.field"], stdin: "a.b 1\n")
        #expect(result.status != 0)
        #expect(result.stderr.contains("a.* .field.field"))
    }
}
