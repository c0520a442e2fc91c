import EstuaryCrypto
import EstuaryModel
import EstuaryTestSupport
import EstuaryWire
import Foundation
import Testing

/// Decodes datagram files into points the way `estuary decode collectd` does.
func decodeCollectd(_ files: [String], level: CollectdSecurityLevel = .none, schema: CollectdSchema = .split,
                    authFile: CollectdAuthFile? = Fixtures.authFile, storeRates: Bool = false)
    -> (points: [Point], rejections: [CollectdRejection]) {
    let decoder = try! CollectdPacketDecoder(securityLevel: level, authFile: authFile,
                                             cryptography: authFile == nil ? nil : LibcryptoCollectdCryptography())
    var mapper = CollectdPointMapper(typesDB: Fixtures.typesDB, schema: schema, storeRates: storeRates)
    var points: [Point] = []
    var rejections: [CollectdRejection] = []
    var stats = CollectdMappingStats()
    for file in files {
        let output = decoder.decode(Fixtures.bytes(file))
        rejections += output.rejections
        for list in output.valueLists { mapper.map(list, into: &points, rejections: &rejections, stats: &stats) }
    }
    return (points, rejections)
}

@Suite("collectd golden captures")
struct CollectdGoldenTests {
    static let sets = ["plain", "sign", "encrypt"]

    @Test("real collectd captures decode to the expected points", arguments: sets, CollectdSchema.allCases)
    func captureMatchesExpected(set: String, schema: CollectdSchema) {
        let files = Fixtures.files(in: Fixtures.collectd + "/capture/" + set, suffix: ".bin")
        #expect(files.count == 127)
        // The level that matches how the set was sent: a listener at that level accepts it all.
        let level: CollectdSecurityLevel = set == "plain" ? .none : (set == "sign" ? .sign : .encrypt)
        let (points, rejections) = decodeCollectd(files, level: level, schema: schema)
        let expected = Fixtures.points(lineProtocol: Fixtures.collectd + "/expected/\(set).\(schema.rawValue).lp")
        let comparison = PointMultisetComparison(actual: points, expected: expected)
        #expect(comparison.matches, "\(comparison)")
        // The only values left out are the NaN and infinite gauges of the exec plugin.
        #expect(rejections.allSatisfy { $0.reason.code == "non_finite" })
        #expect(rejections.count == 224)
    }

    static let badFiles = Fixtures.files(in: Fixtures.collectd + "/bad", suffix: ".bin").map {
        String($0.split(separator: "/").last!.dropLast(4))
    }

    @Test("malformed datagrams keep every valid value list the framing allows", arguments: badFiles, CollectdSchema.allCases)
    func badDatagramMatchesExpected(name: String, schema: CollectdSchema) {
        let (points, _) = decodeCollectd([Fixtures.collectd + "/bad/\(name).bin"], schema: schema)
        let expected = Fixtures.points(lineProtocol: Fixtures.collectd + "/expected/bad/\(name).\(schema.rawValue).lp")
        let comparison = PointMultisetComparison(actual: points, expected: expected)
        #expect(comparison.matches, "\(comparison)")
    }

    /// The "Sign / Encrypt" column of expected/bad/RULES.md: split points per level.
    static let pointsAtSignAndEncrypt: [(String, Int, Int)] = [
        ("control_good_plain", 0, 0),
        ("control_good_sign", 28, 0),
        ("control_good_encrypt", 22, 22),
        ("control_sign_inside_encrypt", 20, 20),
        ("sign_wrong_hmac", 0, 0),
        ("encrypt_wrong_password", 0, 0),
        ("missing_host", 0, 0),
    ]

    @Test("security levels sign and encrypt accept only what RULES.md says", arguments: pointsAtSignAndEncrypt)
    func securityLevelColumns(name: String, atSign: Int, atEncrypt: Int) {
        let file = Fixtures.collectd + "/bad/\(name).bin"
        #expect(decodeCollectd([file], level: .sign).points.count == atSign)
        #expect(decodeCollectd([file], level: .encrypt).points.count == atEncrypt)
    }

    @Test("every rejection names its reason and byte offset, as RULES.md logs them")
    func rejectionOffsets() {
        let cases: [(String, Int, String)] = [
            ("truncated_in_values_part", 561, "part_length_exceeds_datagram"),
            ("truncated_in_part_header", 299, "truncated_part_header"),
            ("part_length_zero", 251, "part_length_too_small"),
            ("part_length_2", 226, "part_length_too_small"),
            ("string_part_length_4", 370, "bad_string_part"),
            ("part_length_exceeds_datagram", 234, "part_length_exceeds_datagram"),
            ("values_count_mismatch", 333, "values_count_mismatch"),
            ("values_count_zero", 300, "values_empty"),
            ("values_unknown_ds_type", 312, "unknown_ds_type_code"),
            ("unknown_part_type", 190, "unknown_part_type"),
            ("string_too_long", 429, "bad_string_part"),
            ("sign_wrong_hmac", 0, "signature_mismatch"),
            ("sign_unknown_user", 0, "signature_unknown_user"),
            ("encrypt_unknown_user", 0, "encryption_unknown_user"),
            ("encrypt_flipped_ciphertext_bit", 0, "encryption_checksum_mismatch"),
            ("truncated_encrypted", 0, "part_length_exceeds_datagram"),
            ("missing_host", 71, "missing_field"),
            ("missing_time", 82, "missing_time"),
            ("random_1400", 0, "part_length_exceeds_datagram"),
        ]
        for (name, offset, code) in cases {
            let (_, rejections) = decodeCollectd([Fixtures.collectd + "/bad/\(name).bin"])
            #expect(rejections.contains { $0.offset == offset && $0.reason.code == code },
                    "\(name): expected \(code) at \(offset), got \(rejections.prefix(3))")
        }
    }

    @Test("signed payloads and decrypted encrypted payloads equal the plain datagram of the same index")
    func securedPayloadsEqualPlain() {
        let plain = Fixtures.files(in: Fixtures.collectd + "/capture/plain", suffix: ".bin")
        for (index, file) in plain.enumerated() where index % 16 == 0 {
            let name = String(file.split(separator: "/").last!)
            let plainLists = decodeCollectd([file]).points
            let signedLists = decodeCollectd([Fixtures.collectd + "/capture/sign/" + name], level: .sign).points
            let encryptedLists = decodeCollectd([Fixtures.collectd + "/capture/encrypt/" + name], level: .encrypt).points
            #expect(plainLists == signedLists)
            #expect(plainLists == encryptedLists)
        }
    }
}
