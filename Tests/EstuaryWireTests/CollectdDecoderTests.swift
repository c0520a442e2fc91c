import EstuaryCrypto
import EstuaryModel
import EstuaryTestSupport
@testable import EstuaryWire
import Testing

let crypto = LibcryptoCollectdCryptography()
let relayAuth = CollectdAuthFile(passwords: ["relay": "s3cret", "alice": "wonderland"])

func decoder(_ level: CollectdSecurityLevel = .none, auth: CollectdAuthFile? = nil) -> CollectdPacketDecoder {
    try! CollectdPacketDecoder(securityLevel: level, authFile: auth, cryptography: auth == nil ? nil : crypto)
}

/// A datagram with one gauge value list, as a real client starts one.
func simpleDatagram(host: String = "h", plugin: String = "p", type: String = "gauge", value: Double = 1,
                    time: UInt64 = CollectdTime.fromSeconds(1_700_000_000)) -> [UInt8] {
    var w = CollectdPacketWriter()
    w.host(host)
    w.timeHR(time)
    w.intervalHR(CollectdTime.fromSeconds(10))
    w.plugin(plugin)
    w.type(type)
    w.values([.gauge(value)])
    return w.bytes
}

@Suite("collectd packet decoder")
struct CollectdDecoderTests {
    @Test("each identifier part sets its field; TIME and INTERVAL in seconds are shifted to cdtime")
    func everyPartType() {
        var w = CollectdPacketWriter()
        w.host("web-1")
        w.time(seconds: 1_700_000_000)
        w.interval(seconds: 10)
        w.plugin("interface")
        w.pluginInstance("eth0")
        w.type("if_octets")
        w.typeInstance("x")
        w.values([.derive(1), .derive(2)])
        let output = decoder().decode(w.bytes)
        #expect(output.rejections.isEmpty)
        #expect(output.valueLists == [CollectdValueList(
            host: "web-1", plugin: "interface", pluginInstance: "eth0", type: "if_octets", typeInstance: "x",
            time: 1_700_000_000 << 30, interval: 10 << 30, values: [.derive(1), .derive(2)], offset: 77)])
    }

    @Test("the four DS types use their byte orders: GAUGE little-endian, the others big-endian")
    func dataSourceByteOrders() {
        // Bytes from PROTOCOL-NOTES.md, as seen in the capture.
        let payload: [UInt8] = [0, 4, 1, 1, 2, 0]
            + [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xF0, 0x3F]  // GAUGE 1.0
            + [0x66, 0x66, 0x66, 0x66, 0x66, 0x12, 0x71, 0xC0]  // GAUGE -273.15
            + [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFC, 0x15]  // DERIVE -1003
            + [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFD, 0x99]  // COUNTER 18446744073709551001
        var w = CollectdPacketWriter()
        w.host("h"); w.timeHR(1 << 40); w.plugin("p"); w.type("t")
        w.raw(type: CollectdPartType.values, payload: payload)
        let values = decoder().decode(w.bytes).valueLists.first?.values
        #expect(values == [.gauge(1.0), .gauge(-273.15), .derive(-1003), .counter(18_446_744_073_709_551_001)])
        var a = CollectdPacketWriter()
        a.host("h"); a.timeHR(1 << 40); a.plugin("p"); a.type("t")
        a.raw(type: CollectdPartType.values, payload: [0, 1, 3, 0, 0, 0, 0, 0, 0, 0, 42])
        #expect(decoder().decode(a.bytes).valueLists.first?.values == [.absolute(42)])
    }

    @Test("a part overwrites its field only; an empty string part clears it; values lists keep the state")
    func stateCarriesAcrossParts() {
        var w = CollectdPacketWriter()
        w.host("h"); w.timeHR(5 << 30); w.plugin("cpu"); w.pluginInstance("0"); w.type("percent"); w.typeInstance("idle")
        w.values([.gauge(1)])
        w.plugin("cpu2")          // does not clear the plugin instance
        w.values([.gauge(2)])
        w.pluginInstance("")      // the empty string clears it
        w.typeInstance("")
        w.values([.gauge(3)])
        let lists = decoder().decode(w.bytes).valueLists
        #expect(lists.map(\.plugin) == ["cpu", "cpu2", "cpu2"])
        #expect(lists.map(\.pluginInstance) == ["0", "0", ""])
        #expect(lists.map(\.typeInstance) == ["idle", "idle", ""])
        #expect(lists.allSatisfy { $0.host == "h" && $0.time == 5 << 30 })
    }

    @Test("state starts empty in every datagram")
    func stateDoesNotCrossDatagrams() {
        let d = decoder()
        #expect(d.decode(simpleDatagram()).valueLists.count == 1)
        var w = CollectdPacketWriter()
        w.values([.gauge(1)])  // no host, plugin, type or time in this datagram
        let output = d.decode(w.bytes)
        #expect(output.valueLists.isEmpty)
        #expect(output.rejections.map(\.reason) == [.missingField(field: .host)])
    }

    @Test("a bad number part makes the time unknown until a good one sets it again")
    func badNumberPart() {
        var w = CollectdPacketWriter()
        w.host("h"); w.plugin("p"); w.type("t")
        w.raw(type: CollectdPartType.timeHR, payload: [UInt8](repeating: 1, count: 12))  // length 16
        w.values([.gauge(1)])
        w.timeHR(7 << 30)
        w.values([.gauge(2)])
        let output = decoder().decode(w.bytes)
        #expect(output.valueLists.map(\.values) == [[.gauge(2)]])
        #expect(output.rejections.map(\.reason) == [.badNumberPart(field: .time, length: 16), .fieldFromBadPart(field: .time)])
    }

    @Test("strings: a NUL-terminated payload of 1 to 128 bytes; bytes after an inner NUL are ignored")
    func stringRules() {
        var w = CollectdPacketWriter()
        w.timeHR(1 << 40); w.plugin("p"); w.type("t")
        w.raw(type: CollectdPartType.host, payload: Array("ab".utf8) + [0, 0x41, 0])
        w.values([.gauge(1)])
        w.raw(type: CollectdPartType.host, payload: Array("no-nul".utf8))
        w.values([.gauge(2)])
        w.host(String(repeating: "x", count: 127))  // the longest name collectd accepts
        w.values([.gauge(3)])
        w.host(String(repeating: "x", count: 128))
        w.values([.gauge(4)])
        let output = decoder().decode(w.bytes)
        #expect(output.valueLists.map(\.host) == ["ab", String(repeating: "x", count: 127)])
        #expect(output.rejections.map(\.reason.code) == ["bad_string_part", "field_from_bad_part", "bad_string_part",
                                                          "field_from_bad_part"])
    }

    @Test("VALUES parts: count must match the length and be positive; codes 0 to 3 only")
    func badValuesParts() {
        var w = CollectdPacketWriter()
        w.host("h"); w.timeHR(1 << 40); w.plugin("p"); w.type("t")
        w.raw(type: CollectdPartType.values, payload: [0])                       // too short for a count
        w.raw(type: CollectdPartType.values, payload: [0, 0])                    // count 0
        w.raw(type: CollectdPartType.values, payload: [0, 2, 1] + [UInt8](repeating: 0, count: 8))  // count 2, room for 1
        w.raw(type: CollectdPartType.values, payload: [0, 1, 9] + [UInt8](repeating: 0, count: 8))  // code 9
        w.values([.gauge(5)])
        let output = decoder().decode(w.bytes)
        #expect(output.valueLists.map(\.values) == [[.gauge(5)]])
        #expect(output.rejections.map(\.reason) == [.valuesEmpty(length: 5), .valuesEmpty(length: 6),
                                                    .valuesCountMismatch(count: 2, length: 15), .unknownDSTypeCode(code: 9)])
    }

    @Test("notifications (MESSAGE, SEVERITY) are parsed and counted, not turned into value lists")
    func notifications() {
        var w = CollectdPacketWriter()
        w.host("h"); w.timeHR(3 << 30); w.plugin("p"); w.type("t")
        w.severity(2)
        w.message("disk almost full")
        w.values([.gauge(1)])
        let output = decoder().decode(w.bytes)
        #expect(output.valueLists.count == 1)
        #expect(output.notifications.map(\.message) == ["disk almost full"])
        #expect(output.notifications.first?.severity == 2)
        #expect(output.notifications.first?.host == "h")
    }

    @Test("times past 2262 (beyond Int64 nanoseconds) drop the value list; TIME in seconds cannot overflow")
    func timeRange() {
        var w = CollectdPacketWriter()
        w.host("h"); w.plugin("p"); w.type("t")
        w.timeHR(UInt64.max)
        w.values([.gauge(1)])
        w.time(seconds: 1 << 40)
        w.values([.gauge(2)])
        w.time(seconds: 9_223_372_035)  // the last second InfluxDB can store
        w.values([.gauge(3)])
        let output = decoder().decode(w.bytes)
        #expect(output.valueLists.map(\.values) == [[.gauge(3)]])
        #expect(output.rejections.map(\.reason.code) == ["time_out_of_range", "time_out_of_range"])
    }

    @Test("notifications below the security level are ignored, and MESSAGE may hold 255 bytes")
    func notificationSecurityAndLength() {
        var w = CollectdPacketWriter()
        w.host("h"); w.timeHR(3 << 30); w.severity(1)
        w.message(String(repeating: "m", count: 255))
        let plain = w.bytes
        #expect(decoder().decode(plain).notifications.first?.message.count == 255)
        let atSign = decoder(.sign, auth: relayAuth).decode(plain)
        #expect(atSign.notifications.isEmpty)
        #expect(atSign.rejections.map(\.reason) == [.unauthenticated(security: .none)])
        let signed = CollectdPacketEncoder.signed(plain, user: "relay", password: "s3cret", cryptography: crypto)
        #expect(decoder(.sign, auth: relayAuth).decode(signed).notifications.count == 1)
    }

    @Test("datagrams up to 64 KiB decode completely")
    func largeDatagram() {
        let lists = (0..<5000).map {
            CollectdValueList(host: "host", plugin: "p", pluginInstance: String($0), type: "gauge", time: 1 << 40,
                              values: [.gauge(Double($0))])
        }
        let datagrams = CollectdPacketEncoder(maxPacketSize: 65507).encode(lists)
        #expect(datagrams.count > 1)
        #expect(datagrams.allSatisfy { $0.count <= 65507 })
        #expect(datagrams[0].count > 60000)
        let decoded = datagrams.flatMap { decoder().decode($0).valueLists }
        #expect(decoded.count == 5000)
        #expect(decoded.map(\.pluginInstance) == lists.map(\.pluginInstance))
    }

    @Test("decode(encode(lists)) gives the lists back, plain, signed and encrypted (seeded)")
    func roundTrip() {
        let seed = UInt64.random(in: 0...UInt64.max)
        var random = SplitMix64(seed: seed)
        let securities: [CollectdPacketEncoder.Security] = [.none, .sign(user: "relay", password: "s3cret"),
                                                            .encrypt(user: "alice", password: "wonderland")]
        for _ in 0..<propertyIterations(default: 40) {
            let lists = (0..<Int.random(in: 1...60, using: &random)).map { _ in randomValueList(&random) }
            for security in securities {
                let encoder = CollectdPacketEncoder(maxPacketSize: Int.random(in: 300...2000, using: &random),
                                                    security: security, cryptography: crypto)
                let level: CollectdSecurityLevel
                switch security {
                case .none: level = .none
                case .sign: level = .sign
                case .encrypt: level = .encrypt
                }
                let d = decoder(level, auth: relayAuth)
                var decoded: [CollectdValueList] = []
                for datagram in encoder.encode(lists) {
                    let output = d.decode(datagram)
                    #expect(output.rejections.isEmpty, "seed \(seed)")
                    decoded += output.valueLists
                }
                let strip = { (l: CollectdValueList) -> CollectdValueList in
                    var c = l
                    c.offset = 0
                    c.security = .none
                    return c
                }
                #expect(decoded.map(strip) == lists.map(strip), "seed \(seed)")
            }
        }
    }

    @Test("no input traps or hangs the decoder: random bytes and mutated real datagrams (seeded)")
    func hostileInput() {
        let seed = UInt64.random(in: 0...UInt64.max)
        var random = SplitMix64(seed: seed)
        let decoders = CollectdSecurityLevel.allCases.map { decoder($0, auth: relayAuth) } + [decoder()]
        let seeds = ["plain", "sign", "encrypt"].map { Fixtures.bytes(Fixtures.collectd + "/capture/\($0)/000.bin") }
        for _ in 0..<propertyIterations(default: 3000) {
            var bytes: [UInt8]
            if Bool.random(using: &random) {
                bytes = (0..<Int.random(in: 0...600, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            } else {
                bytes = seeds.randomElement(using: &random)!
                for _ in 0..<Int.random(in: 1...8, using: &random) {
                    let i = Int.random(in: 0..<bytes.count, using: &random)
                    bytes[i] = UInt8.random(in: 0...255, using: &random)
                }
                bytes.removeLast(Int.random(in: 0...20, using: &random))
            }
            for d in decoders {
                let output = d.decode(bytes)
                #expect(output.valueLists.count <= bytes.count / 15 + 1, "seed \(seed)")
            }
        }
    }
}

func randomValueList(_ random: inout SplitMix64) -> CollectdValueList {
    func name(_ random: inout SplitMix64, allowEmpty: Bool) -> String {
        let pool = ["cpu", "0", "eth0", "if_octets", "température", "with space", "a.b", "", "x-y", "127"]
        let s = pool.randomElement(using: &random)!
        return (s.isEmpty && !allowEmpty) ? "n" : s
    }
    let count = Int.random(in: 1...4, using: &random)
    let values: [CollectdValue] = (0..<count).map { _ in
        switch Int.random(in: 0...3, using: &random) {
        case 0: return .counter(random.next())
        case 1: return .gauge(Double(bitPattern: random.next() & 0x7FEF_FFFF_FFFF_FFFF))
        case 2: return .derive(Int64(bitPattern: random.next()))
        default: return .absolute(random.next())
        }
    }
    return CollectdValueList(
        host: name(&random, allowEmpty: false), plugin: name(&random, allowEmpty: false),
        pluginInstance: name(&random, allowEmpty: true), type: name(&random, allowEmpty: false),
        typeInstance: name(&random, allowEmpty: true), time: 1 + random.next() >> 2,
        interval: random.next() >> 34, values: values)
}

@Suite("collectd security levels")
struct CollectdSecurityTests {
    enum Packet: String, CaseIterable {
        case plain, signedValid, signedBadPassword, encryptedValid, encryptedWrongKey, signedUnknownUser
    }

    static func datagram(_ packet: Packet) -> [UInt8] {
        let payload = simpleDatagram()
        switch packet {
        case .plain: return payload
        case .signedValid: return CollectdPacketEncoder.signed(payload, user: "relay", password: "s3cret", cryptography: crypto)
        case .signedBadPassword: return CollectdPacketEncoder.signed(payload, user: "relay", password: "nope", cryptography: crypto)
        case .signedUnknownUser: return CollectdPacketEncoder.signed(payload, user: "mallory", password: "x", cryptography: crypto)
        case .encryptedValid:
            return CollectdPacketEncoder.encrypted(payload, user: "relay", password: "s3cret",
                                                   iv: [UInt8](repeating: 7, count: 16), cryptography: crypto)
        case .encryptedWrongKey:
            return CollectdPacketEncoder.encrypted(payload, user: "relay", password: "nope",
                                                   iv: [UInt8](repeating: 7, count: 16), cryptography: crypto)
        }
    }

    /// PROTOCOL-NOTES.md §7, listener configuration × packet → value lists accepted.
    static let matrix: [(String, CollectdSecurityLevel, Bool, [Packet: Int])] = [
        ("none, no AuthFile", .none, false,
         [.plain: 1, .signedValid: 1, .signedBadPassword: 1, .signedUnknownUser: 1, .encryptedValid: 0, .encryptedWrongKey: 0]),
        ("none + AuthFile", .none, true,
         [.plain: 1, .signedValid: 1, .signedBadPassword: 0, .signedUnknownUser: 0, .encryptedValid: 1, .encryptedWrongKey: 0]),
        ("sign + AuthFile", .sign, true,
         [.plain: 0, .signedValid: 1, .signedBadPassword: 0, .signedUnknownUser: 0, .encryptedValid: 1, .encryptedWrongKey: 0]),
        ("encrypt + AuthFile", .encrypt, true,
         [.plain: 0, .signedValid: 0, .signedBadPassword: 0, .signedUnknownUser: 0, .encryptedValid: 1, .encryptedWrongKey: 0]),
    ]

    @Test("each listener configuration accepts exactly collectd's packets", arguments: matrix.map { $0.0 })
    func acceptanceMatrix(configuration: String) {
        let (_, level, withAuth, expected) = Self.matrix.first { $0.0 == configuration }!
        let d = decoder(level, auth: withAuth ? relayAuth : nil)
        for packet in Packet.allCases {
            let output = d.decode(Self.datagram(packet))
            #expect(output.valueLists.count == expected[packet], "\(configuration): \(packet)")
            if output.valueLists.isEmpty { #expect(!output.rejections.isEmpty, "\(packet) dropped without a reason") }
        }
    }

    @Test("sign and encrypt levels require an AuthFile; an unknown level is an error, never a fallback")
    func configurationErrors() throws {
        #expect(throws: CollectdConfigurationError.authFileRequired(.sign)) { try CollectdPacketDecoder(securityLevel: .sign) }
        #expect(throws: CollectdConfigurationError.authFileRequired(.encrypt)) { try CollectdPacketDecoder(securityLevel: .encrypt) }
        #expect(throws: CollectdConfigurationError.unknownSecurityLevel("encrpyt")) { try CollectdSecurityLevel(parsing: "encrpyt") }
        #expect(try CollectdSecurityLevel(parsing: "Encrypt") == .encrypt)
    }

    @Test("the payload of a signature part is read with fresh state; unverified signed data keeps the state")
    func signedPayloadState() {
        var outer = CollectdPacketWriter()
        outer.host("outer-host")
        var inner = CollectdPacketWriter()
        inner.timeHR(1 << 40); inner.plugin("p"); inner.type("gauge"); inner.values([.gauge(1)])  // no host inside
        let signed = CollectdPacketEncoder.signed(inner.bytes, user: "relay", password: "s3cret", cryptography: crypto)
        let datagram = outer.bytes + signed
        // Verified: fresh state, so the value list has no host.
        let verified = decoder(.none, auth: relayAuth).decode(datagram)
        #expect(verified.valueLists.isEmpty)
        #expect(verified.rejections.map(\.reason) == [.missingField(field: .host)])
        // No AuthFile: the signature is skipped and the walk goes on with the outer state.
        let unverified = decoder().decode(datagram)
        #expect(unverified.valueLists.map(\.host) == ["outer-host"])
    }

    @Test("plain parts after an encryption part are not accepted at level encrypt")
    func plainAfterEncrypted() {
        let datagram = Self.datagram(.encryptedValid) + simpleDatagram(value: 9)
        let output = decoder(.encrypt, auth: relayAuth).decode(datagram)
        #expect(output.valueLists.map(\.values) == [[.gauge(1)]])
        #expect(output.valueLists.first?.security == .encrypted)
        #expect(output.rejections.map(\.reason) == [.unauthenticated(security: .none)])
    }

    @Test("a failed signature drops the whole datagram, also what came before it")
    func failedSignatureDropsEverything() {
        let datagram = simpleDatagram(value: 5) + Self.datagram(.signedBadPassword)
        let output = decoder(.none, auth: relayAuth).decode(datagram)
        #expect(output.valueLists.isEmpty)
        #expect(output.rejections.last?.reason == .signatureMismatch(user: "relay"))
        #expect(output.rejections.last?.values == 1)
    }

    @Test("short and malformed security parts are rejected with a reason")
    func malformedSecurityParts() {
        var shortSignature = CollectdPacketWriter()
        shortSignature.raw(type: CollectdPartType.signSHA256, payload: [UInt8](repeating: 0, count: 32))
        #expect(decoder(.sign, auth: relayAuth).decode(shortSignature.bytes).rejections.map(\.reason)
                == [.signaturePartTooShort(length: 36)])
        var zeroUser = CollectdPacketWriter()
        zeroUser.raw(type: CollectdPartType.encryptAES256, payload: [0, 0] + [UInt8](repeating: 0, count: 40))
        #expect(decoder(.encrypt, auth: relayAuth).decode(zeroUser.bytes).rejections.map(\.reason)
                == [.encryptionBadUsernameLength(length: 0)])
        var longUser = CollectdPacketWriter()
        longUser.raw(type: CollectdPartType.encryptAES256, payload: [0, 200] + [UInt8](repeating: 0, count: 40))
        #expect(decoder(.encrypt, auth: relayAuth).decode(longUser.bytes).rejections.map(\.reason)
                == [.encryptionBadUsernameLength(length: 200)])
        var tiny = CollectdPacketWriter()
        tiny.raw(type: CollectdPartType.encryptAES256, payload: [0])
        #expect(decoder(.encrypt, auth: relayAuth).decode(tiny.bytes).rejections.map(\.reason)
                == [.encryptionPartTooShort(length: 5)])
    }

    @Test("security parts nested deeper than four levels are refused")
    func nestingLimit() {
        var payload = simpleDatagram()
        for _ in 0..<6 { payload = CollectdPacketEncoder.signed(payload, user: "relay", password: "s3cret", cryptography: crypto) }
        let output = decoder(.sign, auth: relayAuth).decode(payload)
        #expect(output.valueLists.isEmpty)
        #expect(output.rejections.map(\.reason) == [.nestingTooDeep])
    }

    @Test("AuthFile: user: password lines, comments and blanks ignored, malformed lines rejected with their number")
    func authFileParsing() throws {
        let file = try CollectdAuthFile(parsing: "# users\nrelay: s3cret\n\n  alice :  wonder land \n")
        #expect(file.passwords == ["relay": "s3cret", "alice": "wonder land"])
        #expect(throws: CollectdConfigurationError.authFileSyntax(line: 2, text: "nocolon")) {
            try CollectdAuthFile(parsing: "a: b\nnocolon\n")
        }
        #expect(throws: CollectdConfigurationError.authFileSyntax(line: 1, text: "empty:")) {
            try CollectdAuthFile(parsing: "empty:\n")
        }
    }
}
