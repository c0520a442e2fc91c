import EstuaryConfig
import EstuarySNMP
import Foundation
import Testing

@Suite("[[inputs.snmp]]")
struct SNMPConfigurationTests {
    func temporaryTargets(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("estuary-targets-\(UUID().uuidString).txt").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("the contract keys, with defaults for the rest; inline targets and a targets file make the devices")
    func contract() throws {
        let file = try temporaryTargets("""
            # access switches
            192.0.2.20
            192.0.2.21:1161 access-21
            192.0.2.22 - core
            """)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let configuration = try EstuaryConfiguration.parse("""
            [[inputs.snmp]]
            targets = ["127.0.0.1:16100", "192.0.2.10 core-sw1"]
            targets_file = "\(file)"
            version = "2c"
            community = "s3cret"
            interval = "30s"
            timeout = "1s"
            retries = 2
            max_repetitions = 20
            schema = "telegraf"

            [inputs.snmp.credentials.core]
            version = "3"
            username = "estuary"
            auth_protocol = "sha256"
            auth_password = "authpass123"
            priv_protocol = "aes"
            priv_password = "privpass123"

            [[inputs.snmp.table]]
            measurement = "hr_storage"
            tags = { descr = "1.3.6.1.2.1.25.2.3.1.3" }
            fields = { used = "1.3.6.1.2.1.25.2.3.1.6", size = "1.3.6.1.2.1.25.2.3.1.5" }

            [[outputs.influxdb]]
            """)
        let input = try #require(configuration.snmpInputs.first)
        #expect(input.name == "snmp")
        #expect(input.schema == .telegraf)
        #expect(input.interval == 30 && input.timeout == 1 && input.retries == 2 && input.maxRepetitions == 20)
        #expect(input.window == 500 && input.indexRefresh == 600 && !input.rates)
        #expect(input.devices.map(\.target.agent) == ["127.0.0.1:16100", "192.0.2.10", "192.0.2.20", "192.0.2.21:1161", "192.0.2.22"])
        #expect(input.devices[1].target.name == "core-sw1")
        #expect(input.devices[0].credentials == SNMPCredentials(version: .v2c, community: "s3cret"))
        let core = input.devices[4].credentials
        #expect(core.version == .v3 && core.username == "estuary" && core.securityLevel == .authPriv)
        #expect(core.authProtocol == .sha256 && core.privProtocol == .aes)
        #expect(input.devices[4].target.name == nil)
        #expect(input.tables.first?.fields.map(\.name) == ["size", "used"])
        #expect(input.devices.allSatisfy { $0.tables == input.tables && $0.interval == 30 })
    }

    @Test("mistakes in the targets file are reported with the file's name and line; reload reads it again")
    func targetsFileErrors() throws {
        let file = try temporaryTargets("192.0.2.1\n192.0.2.2:0\n192.0.2.3 sw3 nosuch\n")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let text = "[[inputs.snmp]]\ntargets_file = \"\(file)\"\n[[outputs.influxdb]]\n"
        let errors = parseErrors(text)
        #expect(errors.map(\.file) == [file, file])
        #expect(errors.map(\.line) == [2, 3])
        #expect(errors[0].message.contains("bad port"))
        #expect(errors[1].message.contains("unknown credentials 'nosuch'"))

        try Data("192.0.2.1\n".utf8).write(to: URL(fileURLWithPath: file))
        let configuration = try EstuaryConfiguration.parse(text)
        #expect(configuration.snmpInputs[0].devices.count == 1)
        try Data("192.0.2.1\n192.0.2.9 nine\n".utf8).write(to: URL(fileURLWithPath: file))
        let reloaded = try configuration.snmpInputs[0].reloadDevices().get()
        #expect(reloaded.map(\.target.agent) == ["192.0.2.1", "192.0.2.9"])
    }

    @Test("a missing targets file is an error that says so")
    func missingFile() {
        let errors = parseErrors("[[inputs.snmp]]\ntargets_file = \"/nonexistent/targets.txt\"\n[[outputs.influxdb]]\n")
        #expect(errors.count == 1)
        #expect(errors.first?.file == "/nonexistent/targets.txt")
        #expect(errors.first?.message.contains("cannot be read") == true)
    }

    @Test("the SNMPv3 security level follows from the passwords given unless set")
    func securityLevel() throws {
        func level(_ keys: String) throws -> SNMPSecurityLevel {
            let configuration = try EstuaryConfiguration.parse(
                "[[inputs.snmp]]\ntargets = [\"192.0.2.1\"]\nversion = \"3\"\nusername = \"u\"\n\(keys)\n[[outputs.influxdb]]\n")
            return configuration.snmpInputs[0].credentials.securityLevel
        }
        #expect(try level("") == .noAuthNoPriv)
        #expect(try level("auth_password = \"authpass1\"") == .authNoPriv)
        #expect(try level("auth_password = \"authpass1\"\npriv_password = \"privpass1\"") == .authPriv)
        #expect(try level("security_level = \"authnopriv\"\nauth_password = \"authpass1\"\npriv_password = \"privpass1\"") == .authNoPriv)
    }
}
