import EstuaryTestSupport
import Foundation
import Testing

/// The descriptors of `pid` (from /proc) without close-on-exec, each with what it points at.
func descriptorsWithoutCloseOnExec(pid: pid_t) throws -> [String] {
    let directory = "/proc/\(pid)/fdinfo"
    var found: [String] = []
    for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
        guard let fd = Int(name), fd > 2 else { continue }
        // fdinfo's "flags:" is the open flags in octal; O_CLOEXEC is 02000000.
        guard let info = try? String(contentsOfFile: "\(directory)/\(name)", encoding: .utf8),
              let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags:") }),
              let flags = Int(line.dropFirst("flags:".count).trimmingCharacters(in: .whitespaces), radix: 8)
        else { continue }  // closed meanwhile
        if flags & 0o2000000 == 0 {
            let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(name)")) ?? "?"
            found.append("fd \(fd) -> \(target)")
        }
    }
    return found.sorted()
}

@Suite("descriptors: close-on-exec everywhere, children get only 0, 1 and 2", .ownThreads)
struct DescriptorTests {
    @Test("a child started by the tests gets only stdin, stdout and stderr, whatever the test process holds open")
    func childGetsOnlyStandardStreams() async throws {
        // A descriptor opened without close-on-exec, as another suite's leaky one would be.
        let leaky = open("/dev/null", O_RDONLY)
        try #require(leaky > 2)
        defer { close(leaky) }
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("estuary-fds-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        // The shell lists its own descriptors ($$ is the shell, not ls).
        let child = try ChildProcess(path: "/bin/sh", arguments: ["-c", "ls /proc/$$/fd"], outputPath: output)
        #expect(await child.exited(timeout: 30), "sh -c 'ls /proc/$$/fd' did not exit within 30 s")
        let listed = Set(((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init))
        #expect(listed == ["0", "1", "2"], "the child's descriptors: \(listed.sorted())")
        #expect(child.exitCode == 0)
    }

    @Test("every descriptor estuary run opens is close-on-exec: listeners, connections, the health endpoint, libcurl, spool, SNMP sessions")
    func daemonDescriptorsAreCloseOnExec() async throws {
        let influx = try InfluxDBServer()
        defer { influx.stop() }
        let graphitePort = freePort(), healthPort = freePort()
        // The SNMP device answers nothing: each poll holds its session (a socket) for 5 s.
        let estuary = try EstuaryProcess(configuration: "health_listen = \"127.0.0.1:\(healthPort)\"\n"
            + estuaryConfiguration(collectdPort: freePort(udp: true), graphitePort: graphitePort, influxURL: influx.url,
                                   database: "fds")
            + """

            [[inputs.snmp]]
            targets = ["127.0.0.1:\(freePort(udp: true))"]
            interval = "10s"
            timeout = "5s"
            retries = 0
            """)
        #expect(estuary.waitForLog("estuary started"), "\(estuary.log)")
        // A connection in (kept open), a line through libcurl to InfluxDB, a request to /metrics.
        let client = try LoopbackSockets.connectTCP(port: graphitePort, timeout: 5)
        defer { close(client) }
        try LoopbackSockets.writeAll(client, Array("fd.check 1 1700000000\n".utf8))
        #expect(eventually(timeout: 20) { try influx.count("fd.check", db: "fds") == 1 }, "\(estuary.log)")
        var metrics = ""
        let polling = eventually(timeout: 20) {
            metrics = try SimpleHTTPClient.request(method: "GET", port: healthPort, path: "/metrics").text
            return (prometheusValue(metrics, "estuary_snmp_in_flight") ?? 0) >= 1
        }
        let snmpLines = metrics.split(separator: "\n").filter { $0.contains("snmp") }
        #expect(polling, "waited 20 s for an SNMP poll in flight (estuary_snmp_in_flight >= 1): \(snmpLines)")
        let leaking = try descriptorsWithoutCloseOnExec(pid: estuary.child.pid)
        #expect(leaking.isEmpty, "descriptors without close-on-exec: \(leaking)")
        #expect(estuary.terminate() == 0, "\(estuary.log)")
    }
}
