/// collectd write_graphite's escaping of one identifier field (format_graphite.c, as
/// PROTOCOL-NOTES.md §8 describes it): dots (unless PreserveSeparator), white space and
/// control characters (C locale), and the characters forbidden in the whole path
/// (space, tab, `"`, `\`, `:`, `!`, `,`, `/`, `(`, `)`, CR, LF) become the escape character.
/// Bytes from 0x80 up (UTF-8) are kept.
public enum WriteGraphiteEscaping {
    public static func escape(_ field: String, escape: UInt8, preserveSeparator: Bool = false) -> String {
        var bytes = Array(field.utf8)
        for i in bytes.indices {
            let b = bytes[i]
            let isSpace = b == 0x20 || (b >= 0x09 && b <= 0x0D)
            let isControl = b < 0x20 || b == 0x7F
            let forbidden = "\"\\:!,/()".utf8.contains(b)
            if (b == UInt8(ascii: ".") && !preserveSeparator) || isSpace || isControl || forbidden {
                bytes[i] = escape
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
