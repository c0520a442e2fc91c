import CNetSNMP
import Testing

/// The libnetsnmp system-library target imports and links (the SNMP poller builds on it).
@Test("libnetsnmp is importable and reports version 5.x")
func netsnmpLinks() {
    let version = String(cString: netsnmp_get_version())
    #expect(version.hasPrefix("5."))
    #expect(estuary_SNMP_MSG_GETBULK != estuary_SNMP_MSG_GET)
}
