import EstuaryTestSupport
import Foundation
import Testing

@Suite("estuary snmp poll", .ownThreads)
struct SNMPCommandTests {
    @Test("prints the device's points as line protocol, a summary on stderr, exit 0")
    func pollsOnce() throws {
        let recording = Fixtures.switch48
        let simulator = try SNMPSimulator(devices: ["public": recording.text])
        let result = try runEstuary(["snmp", "poll", "127.0.0.1:\(simulator.port)", "--timeout", "1"])
        #expect(result.status == 0, "\(result.stderr)")
        let host = try #require(recording.value("1.3.6.1.2.1.1.5.0"))
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.filter { $0.hasPrefix("interface_rx,host=\(host),") }.count == 52 * 4)
        #expect(lines.filter { $0.hasPrefix("snmp_interface,") }.count == 52)
        #expect(lines.last?.hasPrefix("snmp_device,agent_host=127.0.0.1:\(simulator.port),host=\(host) up=1i") == true)
        #expect(result.stderr.contains("52 interface(s)"))
    }

    @Test("--schema telegraf and --name")
    func telegrafSchema() throws {
        let simulator = try SNMPSimulator(devices: ["private": Fixtures.switch48.text])
        let result = try runEstuary(["snmp", "poll", "127.0.0.1:\(simulator.port)", "--community", "private",
                                     "--schema", "telegraf", "--name", "core-1"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.split(separator: "\n").filter { $0.hasPrefix("interface,agent_host=127.0.0.1:\(simulator.port),") }.count == 52)
    }

    @Test("a device that does not answer: the status point, a message, exit 1")
    func noAnswer() throws {
        let silent = try SilentUDPPeer()
        let result = try runEstuary(["snmp", "poll", "127.0.0.1:\(silent.port)", "--timeout", "0.2", "--retries", "1"])
        #expect(result.status == 1)
        #expect(result.stdout.hasPrefix("snmp_device,") && result.stdout.contains("up=0i"))
        #expect(result.stderr.contains("no answer (timeout 0.2 s × 2)"))
    }

    @Test("usage errors exit 64 and say what is wrong")
    func usage() throws {
        let v3 = try runEstuary(["snmp", "poll", "127.0.0.1", "--version", "3"])
        #expect(v3.status == 64)
        #expect(v3.stderr.contains("--version 3 needs --username"))
        let badVersion = try runEstuary(["snmp", "poll", "127.0.0.1", "--version", "2"])
        #expect(badVersion.status == 64)
        let badAddress = try runEstuary(["snmp", "poll", "127.0.0.1:notaport"])
        #expect(badAddress.status == 64)
        #expect(badAddress.stderr.contains("bad port"))
    }
}
