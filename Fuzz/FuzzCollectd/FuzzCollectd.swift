import EstuaryModel
import EstuaryWire

/// Test double for collectd's cryptography, so the fuzzer reaches the signature and
/// encryption paths without libcrypto: a keyed sum stands in for HMAC and XOR for AES.
/// The decoder's framing and bounds handling around them is what is under test.
struct FuzzCryptography: CollectdCryptography {
    func sha256(_ data: UnsafeRawBufferPointer) -> [UInt8] { digest(data, 32) }
    func sha1(_ data: UnsafeRawBufferPointer) -> [UInt8] { digest(data, 20) }
    func hmacSHA256(key: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer) -> [UInt8] { digest(message, 32) }
    func aes256OFB(key: UnsafeRawBufferPointer, iv: UnsafeRawBufferPointer, input: UnsafeRawBufferPointer,
                   output: UnsafeMutableRawBufferPointer) -> Bool {
        for i in 0..<input.count { output[i] = input[i] ^ iv[i % iv.count] }
        return true
    }
    private func digest(_ data: UnsafeRawBufferPointer, _ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        for (i, byte) in data.enumerated() { out[i % count] = out[i % count] &+ byte }
        return out
    }
}

let fuzzTypes = try! TypesDB(parsing: """
    load shortterm:GAUGE:0:5000, midterm:GAUGE:0:5000, longterm:GAUGE:0:5000
    if_octets rx:DERIVE:0:U, tx:DERIVE:0:U
    counter value:COUNTER:U:U
    absolute value:ABSOLUTE:0:U
    gauge value:GAUGE:U:U
    """)
let fuzzDecoders: [CollectdPacketDecoder] = CollectdSecurityLevel.allCases.map {
    try! CollectdPacketDecoder(securityLevel: $0, authFile: CollectdAuthFile(passwords: ["relay": "s3cret", "a": "b"]),
                               cryptography: FuzzCryptography())
} + [try! CollectdPacketDecoder()]

/// libFuzzer entry: decode the input under every security level, map it in both schemas with
/// rates on, and encode the points; the decoder must never trap or hang.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCollectd(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    var sink = 0
    for decoder in fuzzDecoders {
        var output = CollectdDecodeOutput()
        decoder.decode(bytes, into: &output)
        for schema in CollectdSchema.allCases {
            var mapper = CollectdPointMapper(typesDB: fuzzTypes, schema: schema, storeRates: true)
            var points: [Point] = []
            var rejections: [CollectdRejection] = []
            var stats = CollectdMappingStats()
            for list in output.valueLists + output.valueLists {
                mapper.map(list, into: &points, rejections: &rejections, stats: &stats)
            }
            var buffer: [UInt8] = []
            sink &+= LineProtocolEncoder().encode(points, into: &buffer).points &+ buffer.count
        }
        sink &+= output.rejections.count &+ output.notifications.count
    }
    return sink == -1 ? 1 : 0
}
