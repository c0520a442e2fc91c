/// The URLs, headers and bodies of an output's requests, from its configuration. Pure.
struct InfluxEndpoint: Sendable {
    let configuration: InfluxDBOutputConfiguration

    /// The base URL without a trailing slash (a path prefix such as `/influx` is kept).
    var base: String {
        var url = configuration.url
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }

    /// v1 `{url}/write?db=…[&rp=…]&precision=ns`; v2 `{url}/api/v2/write?org=…&bucket=…&precision=ns`.
    var writeURL: String {
        switch configuration.api {
        case .v1:
            var url = base + "/write?db=" + Self.percentEncode(configuration.database)
            if let rp = configuration.retentionPolicy, !rp.isEmpty {
                url += "&rp=" + Self.percentEncode(rp)
            }
            return url + "&precision=ns"
        case .v2:
            return base + "/api/v2/write?org=" + Self.percentEncode(configuration.org ?? "")
                + "&bucket=" + Self.percentEncode(bucket) + "&precision=ns"
        }
    }

    /// The v2 bucket: `bucket`, else `database` (`database/rp` when a retention policy is set,
    /// which is how InfluxDB 1.8's v2 API names a database and retention policy).
    var bucket: String {
        if let bucket = configuration.bucket, !bucket.isEmpty { return bucket }
        if let rp = configuration.retentionPolicy, !rp.isEmpty { return configuration.database + "/" + rp }
        return configuration.database
    }

    /// v1 `{url}/query` (for `CREATE DATABASE`).
    var queryURL: String { base + "/query" }

    /// The authentication header, if the configuration has credentials.
    var authorization: String? {
        switch configuration.api {
        case .v1:
            guard let user = configuration.username, !user.isEmpty else { return nil }
            let credentials = Array((user + ":" + (configuration.password ?? "")).utf8)
            return "Authorization: Basic " + Self.base64(credentials)
        case .v2:
            guard let token = configuration.token, !token.isEmpty else { return nil }
            return "Authorization: Token " + token
        }
    }

    /// The header lines of a write request.
    func writeHeaders(gzip: Bool) -> [String] {
        var headers = ["Content-Type: text/plain; charset=utf-8"]
        if gzip { headers.append("Content-Encoding: gzip") }
        if let authorization { headers.append(authorization) }
        return headers
    }

    /// The header lines of a `/query` request.
    var queryHeaders: [String] {
        var headers = ["Content-Type: application/x-www-form-urlencoded"]
        if let authorization { headers.append(authorization) }
        return headers
    }

    /// The form body `q=CREATE DATABASE "<database>"`, with the identifier quoted and escaped.
    var createDatabaseBody: [UInt8] {
        Array(("q=" + Self.percentEncode("CREATE DATABASE " + Self.quoteIdentifier(configuration.database))).utf8)
    }

    /// An InfluxQL identifier in double quotes (`"` and `\` escaped).
    static func quoteIdentifier(_ name: String) -> String {
        var out = "\""
        for c in name {
            if c == "\"" || c == "\\" { out.append("\\") }
            out.append(c)
        }
        return out + "\""
    }

    /// Percent-encodes everything but RFC 3986's unreserved characters.
    static func percentEncode(_ text: String) -> String {
        let hex: [UInt8] = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for b in text.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(b)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Standard base64 with padding.
    static func base64(_ bytes: [UInt8]) -> String {
        let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i + 3 <= bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(alphabet[Int(n >> 6 & 63)])
            out.append(alphabet[Int(n & 63)])
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let n = UInt32(bytes[i]) << 16
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(contentsOf: Array("==".utf8))
        } else if rest == 2 {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(alphabet[Int(n >> 6 & 63)])
            out.append(UInt8(ascii: "="))
        }
        return String(decoding: out, as: UTF8.self)
    }
}
