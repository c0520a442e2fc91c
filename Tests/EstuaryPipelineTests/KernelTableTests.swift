@testable import EstuaryIO
import Testing

@Test("a /proc/net/udp table parses to (inode, drops) per socket")
func parsesProcNetUDP() {
    let text = """
           sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
          364: 0100007F:64E2 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 123456 2 0000000000000000 17
          900: 00000000:0803 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 654321 2 0000000000000000 0
        """
    let table = KernelUDPStatistics.parse(text)
    #expect(table.map(\.0) == [123456, 654321])
    #expect(table.map(\.1) == [17, 0])
}
