#if canImport(Glibc)
import Glibc
#endif

/// The kernel's per-socket UDP counters from /proc/net/udp and /proc/net/udp6: datagrams
/// dropped because the socket's receive buffer was full. They are the loss no user-space
/// counter can see, so Estuary exports them as a self-metric.
public enum KernelUDPStatistics {
    /// The drops of the sockets with these inodes (summed), or nil when /proc cannot be read.
    public static func drops(inodes: [UInt64]) -> Int? {
        var total = 0
        var found = false
        for file in ["/proc/net/udp", "/proc/net/udp6"] {
            guard let text = readFile(file) else { continue }
            for (inode, drops) in parse(text) where inodes.contains(inode) {
                total += drops
                found = true
            }
        }
        return found ? total : nil
    }

    /// (inode, drops) of every socket in a /proc/net/udp table. Columns: sl local_address
    /// rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ref pointer drops.
    static func parse(_ text: String) -> [(UInt64, Int)] {
        var result: [(UInt64, Int)] = []
        for line in text.split(separator: "\n").dropFirst() {
            let columns = line.split(separator: " ", omittingEmptySubsequences: true)
            guard columns.count >= 13, let inode = UInt64(columns[9]), let drops = Int(columns[12]) else { continue }
            result.append((inode, drops))
        }
        return result
    }

    private static func readFile(_ path: String) -> String? {
        guard let file = fopen(path, "re") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&chunk, 1, chunk.count, file)
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
