/// The line each key of a TOML document is on, by key path, so that errors found after parsing
/// (TOMLKit does not keep source positions) can still name a line.
///
/// Key paths name array-of-tables elements by index: the `listen = ...` line inside the second
/// `[[inputs.collectd]]` is `inputs.collectd[1].listen`; the header itself is
/// `inputs.collectd[1]` (and the first such header is also `inputs.collectd`). The elements of
/// an array value are indexed too: `inputs.graphite[0].templates[2]`, on the line where that
/// element starts. Keys inside inline tables are not indexed.
///
/// The scanner runs only on text TOMLKit has accepted, so it can be simple: it follows table
/// headers, `key = value` lines, strings (all four kinds, multi-line ones too), comments and
/// bracket depth, which is enough to never mistake the inside of a value for a key.
struct SourceLineIndex {
    private var lines: [String: Int] = [:]

    init(_ text: String) {
        var scanner = Scanner(bytes: Array(text.utf8))
        scanner.run()
        lines = scanner.lines
    }

    /// The line of `keyPath`, or of its nearest enclosing table or key that has one
    /// (a missing key is reported on its table's header).
    func line(of keyPath: String) -> Int? {
        var path = Substring(keyPath)
        while !path.isEmpty {
            if let line = lines[String(path)] { return line }
            if path.last == "]", let open = path.lastIndex(of: "[") {
                path = path[..<open]
            } else if let dot = path.lastIndex(of: ".") {
                path = path[..<dot]
            } else {
                return nil
            }
        }
        return nil
    }

    /// The line of exactly `keyPath`, if it is in the text.
    func exactLine(of keyPath: String) -> Int? {
        lines[keyPath]
    }

    /// The first place where TOMLKit's parser (toml++ 3) would stop on an assertion instead of
    /// reporting an error: a table header whose key starts with a character no key can start
    /// with (`[)x]`, a lone `[`), or an array element that starts with `}`, a control character
    /// or a non-ASCII character (`a = [}]`, a Unicode line separator). toml++ asserts that
    /// these cannot happen and aborts the process (built without assertions, it goes on with
    /// undefined behaviour), so they must be refused before the text reaches it. Returns the
    /// line, the column (from 1), the byte offset where that line starts, and what is wrong.
    static func firstParserTrap(_ text: String) -> ParserTrap? {
        var scanner = Scanner(bytes: Array(text.utf8))
        scanner.run()
        return scanner.trap
    }
}

/// Where and why a text would make TOMLKit's parser abort (see `firstParserTrap`).
struct ParserTrap {
    var line: Int
    var column: Int
    var lineStart: Int
    var message: String
    /// In a table header (which starts a statement), not inside a value.
    var isHeader: Bool
}

private struct Scanner {
    let bytes: [UInt8]
    var index = 0
    var line = 1
    var lines: [String: Int] = [:]
    /// Path of the table the following keys belong to ("" for the root).
    var table = ""
    /// How many elements each array of tables has had so far, by path.
    var arrayTableCounts: [String: Int] = [:]
    /// The first place toml++ would abort on (see `firstParserTrap`).
    var trap: ParserTrap?

    init(bytes: [UInt8]) {
        self.bytes = bytes
        // A UTF-8 byte order mark is not part of the first key.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
    }

    var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    func peek(_ offset: Int) -> UInt8? { index + offset < bytes.count ? bytes[index + offset] : nil }

    mutating func record(_ path: String, line: Int) {
        if lines[path] == nil { lines[path] = line }
    }

    mutating func run() {
        while let byte = current {
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                index += 1
            case UInt8(ascii: "\n"):
                line += 1
                index += 1
            case UInt8(ascii: "#"):
                skipToEndOfLine()
            case UInt8(ascii: "["):
                header()
                skipToEndOfLine()
            default:
                keyValue()
                skipToEndOfLine()
            }
        }
    }

    /// Skips to the next newline (not consumed); the rest of a line after a statement can only be
    /// white space or a comment.
    mutating func skipToEndOfLine() {
        while let byte = current, byte != UInt8(ascii: "\n") { index += 1 }
    }

    mutating func skipBlanks() {
        while let byte = current, byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { index += 1 }
    }

    /// `[a.b]` or `[[a.b]]`.
    mutating func header() {
        let headerLine = line
        let isArray = peek(1) == UInt8(ascii: "[")
        index += isArray ? 2 : 1
        checkHeaderStart(isArray: isArray)
        guard let segments = keySegments() else { return }
        var path = ""
        for (position, segment) in segments.enumerated() {
            path = path.isEmpty ? segment : path + "." + segment
            if isArray && position == segments.count - 1 {
                let count = arrayTableCounts[path, default: 0]
                arrayTableCounts[path] = count + 1
                record(path, line: headerLine)
                path += "[\(count)]"
            } else if let count = arrayTableCounts[path] {
                path += "[\(count - 1)]"
            }
        }
        record(path, line: headerLine)
        table = path
    }

    /// After `[` or `[[`: toml++ accepts blanks, then needs a key's first character, a quote,
    /// `]` (reported as an error), `[` after `[` and blanks (an error too; right after `[[` it
    /// is not), or the end of the text (also an error).
    mutating func checkHeaderStart(isArray: Bool) {
        guard trap == nil else { return }
        var position = index
        while position < bytes.count, bytes[position] == UInt8(ascii: " ") || bytes[position] == UInt8(ascii: "\t") { position += 1 }
        guard position < bytes.count else { return }
        let byte = bytes[position]
        if isBareKeyByte(byte) || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") || byte == UInt8(ascii: "]")
            || (byte == UInt8(ascii: "[") && !isArray && position > index) { return }
        setTrap(at: position, "a table header needs a key: expected a letter, digit, '_', '-' or a quote, saw \(shown(position))",
                isHeader: true)
    }

    /// At the start of an array element (after `[` or `,` and any blanks, line breaks and
    /// comments): toml++ reports `,` and `]`, and asserts that nothing else ends a value here.
    mutating func checkArrayElement() {
        guard trap == nil, let byte = current else { return }
        if byte == UInt8(ascii: "}") || byte >= 0x80 || byte == 0x7F
            || (byte < 0x20 && byte != UInt8(ascii: "\t") && byte != UInt8(ascii: "\n") && byte != UInt8(ascii: "\r")) {
            setTrap(at: index, "expected an array element, saw \(shown(index))", isHeader: false)
        }
    }

    mutating func setTrap(at position: Int, _ message: String, isHeader: Bool) {
        var lineStart = position
        while lineStart > 0, bytes[lineStart - 1] != UInt8(ascii: "\n") { lineStart -= 1 }
        trap = ParserTrap(line: line, column: position - lineStart + 1, lineStart: lineStart, message: message, isHeader: isHeader)
    }

    /// The character at `position` as written (a whole UTF-8 sequence), for a message.
    func shown(_ position: Int) -> String {
        let byte = bytes[position]
        if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") { return "the end of the line" }
        if byte < 0x20 || byte == 0x7F { return "the control character 0x" + String(byte, radix: 16, uppercase: true) }
        var end = position + 1
        while end < bytes.count, bytes[end] & 0xC0 == 0x80 { end += 1 }
        return "'" + String(decoding: bytes[position..<end], as: UTF8.self) + "'"
    }

    /// `key = value`, where the key may be dotted or quoted.
    mutating func keyValue() {
        let keyLine = line
        guard let segments = keySegments(), current == UInt8(ascii: "=") else { return }
        index += 1
        var path = table
        for segment in segments {
            path = path.isEmpty ? segment : path + "." + segment
            record(path, line: keyLine)
        }
        value(path: path)
    }

    /// Dot-separated key segments (bare, "basic" or 'literal'), stopping before `=`, `]` or the end
    /// of the line; nil if there is no key.
    mutating func keySegments() -> [String]? {
        var segments: [String] = []
        while true {
            skipBlanks()
            guard let byte = current else { return nil }
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                segments.append(quotedKey(quote: byte))
            default:
                let start = index
                while let byte = current, isBareKeyByte(byte) { index += 1 }
                guard index > start else { return nil }
                segments.append(String(decoding: bytes[start..<index], as: UTF8.self))
            }
            skipBlanks()
            guard current == UInt8(ascii: ".") else { return segments }
            index += 1
        }
    }

    func isBareKeyByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }

    /// A quoted key; escapes in "basic" keys are kept as written except \" and \\.
    mutating func quotedKey(quote: UInt8) -> String {
        index += 1
        var key: [UInt8] = []
        while let byte = current, byte != quote, byte != UInt8(ascii: "\n") {
            if quote == UInt8(ascii: "\""), byte == UInt8(ascii: "\\"), let next = peek(1) {
                key.append(next)
                index += 2
                continue
            }
            key.append(byte)
            index += 1
        }
        if current == quote { index += 1 }
        return String(decoding: key, as: UTF8.self)
    }

    /// A value, up to the end of its statement: records where each element of an array value
    /// starts (`path[0]`, `path[1]`, ...).
    mutating func value(path: String) {
        var brackets: [UInt8] = []
        var element = 0
        var expectingElement = false
        /// Inside an array, after `[` or `,`: the next significant byte starts an element.
        var atArrayElement = false
        while let byte = current {
            if byte == UInt8(ascii: "\n") {
                if brackets.isEmpty { return }
                line += 1
                index += 1
                continue
            }
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r") {
                index += 1
                continue
            }
            if byte == UInt8(ascii: "#") {
                skipToEndOfLine()
                continue
            }
            if atArrayElement {
                checkArrayElement()
                atArrayElement = false
            }
            if expectingElement, brackets == [UInt8(ascii: "[")], byte != UInt8(ascii: "]"), byte != UInt8(ascii: ",") {
                record(path + "[\(element)]", line: line)
                element += 1
                expectingElement = false
            }
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                skipString(quote: byte)
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                brackets.append(byte)
                if brackets == [UInt8(ascii: "[")] { expectingElement = true }
                atArrayElement = byte == UInt8(ascii: "[")
                index += 1
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                if !brackets.isEmpty { brackets.removeLast() }
                index += 1
                if brackets.isEmpty { return }
            case UInt8(ascii: ","):
                if brackets == [UInt8(ascii: "[")] { expectingElement = true }
                atArrayElement = brackets.last == UInt8(ascii: "[")
                index += 1
            default:
                index += 1
            }
        }
    }

    /// Skips a string of any of TOML's four kinds, counting the lines of multi-line ones.
    mutating func skipString(quote: UInt8) {
        let escapes = quote == UInt8(ascii: "\"")
        if peek(1) == quote && peek(2) == quote {
            index += 3
            while let byte = current {
                if escapes && byte == UInt8(ascii: "\\") {
                    if peek(1) == UInt8(ascii: "\n") { line += 1 }
                    index += 2
                    continue
                }
                if byte == UInt8(ascii: "\n") { line += 1 }
                if byte == quote && peek(1) == quote && peek(2) == quote {
                    index += 3
                    // Up to two more quotes may belong to the content ("""a""""").
                    while current == quote { index += 1 }
                    return
                }
                index += 1
            }
            return
        }
        index += 1
        while let byte = current, byte != UInt8(ascii: "\n") {
            if escapes && byte == UInt8(ascii: "\\") {
                index += 2
                continue
            }
            index += 1
            if byte == quote { return }
        }
    }
}
