// Load generators and counting sinks for `make bench` (scripts/bench.sh). Loopback only.
//
//   estuary-loadtools http-sink PORT STATS_FILE [STATUS_FILE]
//       An HTTP server answering every request 204, counting the lines (\n) of request
//       bodies (uncompressed); writes "lines requests bytes" to STATS_FILE every 100 ms.
//       With STATUS_FILE, the SNMP poller's status lines (`snmp_device,...`) are appended
//       to it as they arrive (the SNMP benchmark counts polls on time from them).
//   estuary-loadtools tcp-sink PORT STATS_FILE
//       A TCP server counting received lines (for carbon-c-relay's destination).
//   estuary-loadtools graphite-load PORT CONNECTIONS LINES_PER_CONNECTION
//       Sends graphite lines (write_graphite-shaped, distinct hosts) over CONNECTIONS TCP
//       connections as fast as they go; prints "sent LINES in SECONDS".
//   estuary-loadtools graphite-count PORT PATH FIRST COUNT RATE
//       Sends exactly COUNT graphite lines "PATH <FIRST+i> <1600000000+FIRST+i>" (i from 0):
//       every line its own value and its own second, so a database stores each one as a
//       distinct point, and count(value) and sum(value) say what arrived. One TCP connection,
//       RATE lines/s, stops at the first write error (the receiver died); prints
//       "sent N" with N the lines written whole. For the spool's end-to-end tests.
//   estuary-loadtools collectd-load PORT RATE SECONDS [HOST_PREFIX]
//       Sends collectd datagrams over UDP at RATE datagrams/s for SECONDS: each 20 value
//       lists of interface if_octets (40 values), from 100 hosts (HOST_PREFIX-0 ... -99,
//       default bench-host), every datagram with its own timestamp so that a database stores
//       every value (count(value) says what arrived); prints "sent DATAGRAMS VALUES".
import CLinuxDescriptors
import EstuaryWire
import Foundation
import Synchronization

LoadTools.run(CommandLine.arguments)

/// The load generators and sinks (nonisolated, so their threads run off the main actor).
enum LoadTools {

    static func usage() -> Never {
        FileHandle.standardError.write(Data("see the header of Sources/estuary-loadtools/main.swift\n".utf8))
        exit(2)
    }

    static func listen(port: UInt16) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard ok == 0, Glibc.listen(fd, 128) == 0 else {
            FileHandle.standardError.write(Data("cannot listen on 127.0.0.1:\(port)\n".utf8))
            exit(1)
        }
        return fd
    }

    static func connectTCP(port: UInt16) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard ok == 0 else {
            FileHandle.standardError.write(Data("cannot connect to 127.0.0.1:\(port)\n".utf8))
            exit(1)
        }
        return fd
    }

    static func countNewlines(_ buffer: UnsafeMutableRawBufferPointer, _ n: Int) -> Int {
        var count = 0
        for i in 0..<n where buffer[i] == 0x0A { count += 1 }
        return count
    }


    /// `graphite-count`: exactly `count` distinct points at `rate` lines/s.
    static func graphiteCount(port: UInt16, path: String, first: Int, count: Int, rate: Double) {
        signal(SIGPIPE, SIG_IGN)
        let fd = connectTCP(port: port)
        let began = Date()
        var sent = 0
        var failed = false
        while sent < count, !failed {
            // Lines due by now (at least one), in one write.
            let due = min(count, max(sent + 1, Int(Date().timeIntervalSince(began) * rate)))
            var chunk: [UInt8] = []
            var ends: [Int] = []  // byte offset just past each line
            for i in sent..<due {
                chunk.append(contentsOf: "\(path) \(first + i) \(1_600_000_000 + first + i)\n".utf8)
                ends.append(chunk.count)
            }
            var offset = 0
            while offset < chunk.count {
                let n = chunk[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                if n < 0, errno == EINTR { continue }
                if n <= 0 {
                    failed = true
                    break
                }
                offset += n
            }
            sent += ends.prefix(while: { $0 <= offset }).count
            if !failed, sent < count {
                let next = began.addingTimeInterval(Double(sent) / rate)
                let wait = next.timeIntervalSinceNow
                if wait > 0 { usleep(UInt32(min(wait, 0.05) * 1e6)) }
            }
        }
        close(fd)
        print("sent \(sent)")
    }

    /// Values per synthetic collectd datagram.
    static let valuesPerDatagram = 40

    static func collectdLoad(port: UInt16, rate: Double, seconds: Double, hostPrefix: String = "bench-host") {
        // One template datagram per host; the TIME_HR part is patched before each send.
        let start = UInt64(Date().timeIntervalSince1970) << 30
        var templates: [[UInt8]] = []
        for host in 0..<100 {
            var writer = CollectdPacketWriter()
            writer.host("\(hostPrefix)-\(host).example.org")
            writer.timeHR(start)
            writer.intervalHR(10 << 30)
            writer.plugin("interface")
            writer.type("if_octets")
            for i in 0..<20 {
                writer.pluginInstance("eth\(i)")
                writer.values([.derive(Int64(i) * 1000), .derive(Int64(i) * 2000)])
            }
            templates.append(writer.bytes)
        }
        // HOST part length + the TIME_HR header: where the 8 time bytes sit.
        let timeOffsets = templates.map { Int(UInt16($0[2]) << 8 | UInt16($0[3])) + 4 }
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var sendBuffer: Int32 = 8 << 20
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sendBuffer, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let total = Int(rate * seconds)
        let began = Date()
        var sent = 0
        while sent < total {
            let due = min(total, Int(Date().timeIntervalSince(began) * rate) + 1)
            while sent < due {
                let host = sent % templates.count
                // A distinct time per datagram: start + sent microseconds.
                let time = start + UInt64(sent) * 1074
                for b in 0..<8 { templates[host][timeOffsets[host] + b] = UInt8(truncatingIfNeeded: time >> UInt64(56 - 8 * b)) }
                let datagram = templates[host]
                _ = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(fd, datagram, datagram.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
                sent += 1
            }
            usleep(1000)
        }
        print("sent \(sent) \(sent * valuesPerDatagram) in \(String(format: "%.3f", Date().timeIntervalSince(began)))")
    }

    static func run(_ arguments: [String]) {
        guard arguments.count >= 2 else { usage() }
        switch arguments[1] {
        case "http-sink":
            guard arguments.count == 4 || arguments.count == 5, let port = UInt16(arguments[2]) else { usage() }
            let server = listen(port: port)
            let totals = Totals()
            let statusFile: FileHandle? = arguments.count == 5 ? {
                guard FileManager.default.createFile(atPath: arguments[4], contents: nil) else { return nil }
                return FileHandle(forWritingAtPath: arguments[4])
            }() : nil
            let statusLock = NSLock()
            Thread.detachNewThread {
                while true {
                    let client = estuary_accept_cloexec(server, nil, nil, 0)
                    if client < 0 { continue }
                    Thread.detachNewThread {
                        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
                        var head: [UInt8] = []
                        outer: while true {
                            // Request head.
                            head.removeAll(keepingCapacity: true)
                            var body: [UInt8] = []
                            while true {
                                let n = read(client, buffer.baseAddress, 1 << 20)
                                if n <= 0 { break outer }
                                head.append(contentsOf: buffer[0..<n])
                                if let end = head.firstRange(of: [13, 10, 13, 10]) {
                                    body = Array(head[end.upperBound...])
                                    head.removeSubrange(end.lowerBound...)
                                    break
                                }
                            }
                            let text = String(decoding: head, as: UTF8.self).lowercased()
                            var length = 0
                            for line in text.split(separator: "\r\n") where line.hasPrefix("content-length:") {
                                length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
                            }
                            var lines = body.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
                            var remaining = length - body.count
                            var whole: [UInt8] = statusFile == nil ? [] : body
                            while remaining > 0 {
                                let n = read(client, buffer.baseAddress, min(remaining, 1 << 20))
                                if n <= 0 { break outer }
                                lines += countNewlines(buffer, n)
                                if statusFile != nil { whole.append(contentsOf: buffer[0..<n]) }
                                remaining -= n
                            }
                            if let statusFile {
                                let prefix = Array("snmp_device,".utf8)
                                var status: [UInt8] = []
                                for line in whole.split(separator: 0x0A) where line.starts(with: prefix) {
                                    status.append(contentsOf: line)
                                    status.append(0x0A)
                                }
                                if !status.isEmpty {
                                    statusLock.lock()
                                    statusFile.write(Data(status))
                                    statusLock.unlock()
                                }
                            }
                            totals.lines.wrappingAdd(lines, ordering: .relaxed)
                            totals.requests.wrappingAdd(1, ordering: .relaxed)
                            totals.bytes.wrappingAdd(length, ordering: .relaxed)
                            let answer = Array("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n".utf8)
                            _ = write(client, answer, answer.count)
                        }
                        close(client)
                        buffer.deallocate()
                    }
                }
            }
            writeStats(totals, to: arguments[3])

        case "tcp-sink":
            guard arguments.count == 4, let port = UInt16(arguments[2]) else { usage() }
            let server = listen(port: port)
            let totals = Totals()
            Thread.detachNewThread {
                while true {
                    let client = estuary_accept_cloexec(server, nil, nil, 0)
                    if client < 0 { continue }
                    Thread.detachNewThread {
                        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
                        while true {
                            let n = read(client, buffer.baseAddress, 1 << 20)
                            if n <= 0 { break }
                            totals.lines.wrappingAdd(countNewlines(buffer, n), ordering: .relaxed)
                            totals.bytes.wrappingAdd(n, ordering: .relaxed)
                        }
                        close(client)
                        buffer.deallocate()
                    }
                }
            }
            writeStats(totals, to: arguments[3])

        case "graphite-load":
            guard arguments.count == 5, let port = UInt16(arguments[2]), let connections = Int(arguments[3]),
                  let perConnection = Int(arguments[4]) else { usage() }
            let start = Date()
            let group = DispatchGroup()
            for c in 0..<connections {
                group.enter()
                Thread.detachNewThread {
                    let fd = connectTCP(port: port)
                    // 1,000 distinct series per connection, shaped like write_graphite's output.
                    var chunk: [UInt8] = []
                    let types = ["if_octets.rx", "if_octets.tx", "if_packets.rx", "if_packets.tx"]
                    var sent = 0
                    var t = 1_700_000_000
                    while sent < perConnection {
                        chunk.removeAll(keepingCapacity: true)
                        for i in 0..<min(1000, perConnection - sent) {
                            let line = "host-\(c)-\(i % 250).interface-eth\(i % 4).\(types[i % 4]) \(Double(i) * 1.5) \(t)\n"
                            chunk.append(contentsOf: line.utf8)
                        }
                        var offset = 0
                        while offset < chunk.count {
                            let n = chunk[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                            if n <= 0 { break }
                            offset += n
                        }
                        sent += min(1000, perConnection - sent)
                        t += 1
                    }
                    close(fd)
                    group.leave()
                }
            }
            group.wait()
            print("sent \(connections * perConnection) in \(String(format: "%.3f", Date().timeIntervalSince(start)))")

        case "graphite-count":
            guard arguments.count == 7, let port = UInt16(arguments[2]), let first = Int(arguments[4]),
                  let count = Int(arguments[5]), let rate = Double(arguments[6]), rate > 0 else { usage() }
            graphiteCount(port: port, path: arguments[3], first: first, count: count, rate: rate)

        case "collectd-load":
            guard arguments.count == 5 || arguments.count == 6, let port = UInt16(arguments[2]), let rate = Double(arguments[3]),
                  let seconds = Double(arguments[4]) else { usage() }
            collectdLoad(port: port, rate: rate, seconds: seconds, hostPrefix: arguments.count == 6 ? arguments[5] : "bench-host")

        default:
            usage()
        }

    }
}


final class Totals: Sendable {
    let lines = Atomic<Int>(0)
    let requests = Atomic<Int>(0)
    let bytes = Atomic<Int>(0)
}

func writeStats(_ totals: Totals, to path: String) -> Never {
    while true {
        let text = "\(totals.lines.load(ordering: .relaxed)) \(totals.requests.load(ordering: .relaxed)) \(totals.bytes.load(ordering: .relaxed))\n"
        try? text.write(toFile: path + ".tmp", atomically: false, encoding: .utf8)
        rename(path + ".tmp", path)
        usleep(100_000)
    }
}

