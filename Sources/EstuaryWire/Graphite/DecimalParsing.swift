/// Number parsing on bytes for the graphite hot path: a fast exact path for the common
/// decimal forms, falling back to the standard library for everything else.
enum DecimalParsing {
    /// Powers of ten that are exact doubles.
    static let exactPowersOfTen: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ]

    /// Parses a double the way strtod does (decimal, exponent, `nan`, `inf`, `infinity`,
    /// case-insensitive, optional sign). Returns nil when the bytes are not a whole number.
    static func parseDouble(_ bytes: UnsafeRawBufferPointer) -> Double? {
        let count = bytes.count
        guard count > 0 else { return nil }
        var i = 0
        var negative = false
        if bytes[0] == UInt8(ascii: "-") { negative = true; i = 1 } else if bytes[0] == UInt8(ascii: "+") { i = 1 }
        var mantissa: UInt64 = 0
        var digits = 0
        var exponent = 0
        var sawDigit = false
        while i < count, bytes[i] &- 48 < 10 {
            if digits < 19 {
                mantissa = mantissa &* 10 &+ UInt64(bytes[i] &- 48)
                if mantissa != 0 { digits += 1 }
            } else {
                exponent += 1
            }
            sawDigit = true
            i += 1
        }
        if i < count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            while i < count, bytes[i] &- 48 < 10 {
                if digits < 19 {
                    mantissa = mantissa &* 10 &+ UInt64(bytes[i] &- 48)
                    if mantissa != 0 { digits += 1 }
                    exponent -= 1
                }
                sawDigit = true
                i += 1
            }
        }
        if i == count && sawDigit && digits < 19 && mantissa <= (1 << 53) && exponent >= -22 && exponent <= 22 {
            var value = Double(mantissa)
            if exponent < 0 { value /= exactPowersOfTen[-exponent] } else { value *= exactPowersOfTen[exponent] }
            return negative ? -value : value
        }
        // nan and inf are common in write_graphite's output (first samples of rates): no strings for them.
        if !sawDigit && i < count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[i...])
            if equalsIgnoringCase(rest, "nan") { return negative ? -Double.nan : Double.nan }
            if equalsIgnoringCase(rest, "inf") || equalsIgnoringCase(rest, "infinity") {
                return negative ? -Double.infinity : Double.infinity
            }
        }
        return slowParseDouble(bytes)
    }

    @inline(__always)
    private static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ word: StaticString) -> Bool {
        guard bytes.count == word.utf8CodeUnitCount else { return false }
        let letters = word.utf8Start
        for i in 0..<bytes.count where bytes[i] | 0x20 != letters[i] { return false }
        return true
    }

    private static func slowParseDouble(_ bytes: UnsafeRawBufferPointer) -> Double? {
        // Reject what strtod would accept but graphite must not (hex floats, leading space).
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "+"),
                 UInt8(ascii: "e"), UInt8(ascii: "E"), UInt8(ascii: "n"), UInt8(ascii: "N"), UInt8(ascii: "a"),
                 UInt8(ascii: "A"), UInt8(ascii: "i"), UInt8(ascii: "I"), UInt8(ascii: "f"), UInt8(ascii: "F"),
                 UInt8(ascii: "t"), UInt8(ascii: "T"), UInt8(ascii: "y"), UInt8(ascii: "Y"):
                continue
            default:
                return nil
            }
        }
        let text = String(decoding: bytes, as: UTF8.self)
        if let value = Double(text) { return value }
        // Swift does not read a signed NaN ("-nan", as glibc prints it).
        let lower = text.lowercased()
        if lower == "-nan" || lower == "+nan" { return -Double.nan }
        return nil
    }
}
