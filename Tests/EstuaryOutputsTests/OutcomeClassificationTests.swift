@testable import EstuaryOutputs
import Testing

/// One answer and what it must mean. Bodies are the exact ones InfluxDB 1.6.7 returned
/// (notes/anchors-influxdb-collectd.md §2.3), plus 2.x and proxy forms.
struct OutcomeCase: CustomTestStringConvertible, Sendable {
    var name: String
    var status: Int
    var lines: Int = 4
    var body: String
    var headers: [String: String] = [:]
    var expected: InfluxWriteOutcome
    var testDescription: String { name }
}

let outcomeCases: [OutcomeCase] = [
    OutcomeCase(name: "204 good batch", status: 204, body: "", expected: .accepted),
    OutcomeCase(name: "200 any 2xx", status: 200, body: "{}", expected: .accepted),
    OutcomeCase(name: "1 unparsable line among 4", status: 400,
                body: #"{"error":"partial write: unable to parse 'cpu,host=b v= 1700000001000000000': missing field value dropped=0"}"#,
                expected: .partialWrite(rejectedLines: 1, message: "partial write: unable to parse 'cpu,host=b v= 1700000001000000000': missing field value dropped=0")),
    OutcomeCase(name: "2 unparsable lines among 4 (joined by \\n)", status: 400,
                body: #"{"error":"partial write: unable to parse 'cpu,host=b v=bad 1700000002000000000': invalid boolean\nunable to parse 'cpu host=c': invalid boolean dropped=0"}"#,
                expected: .partialWrite(rejectedLines: 2, message: "partial write: unable to parse 'cpu,host=b v=bad 1700000002000000000': invalid boolean\nunable to parse 'cpu host=c': invalid boolean dropped=0")),
    OutcomeCase(name: "all lines unparsable: no partial write prefix", status: 400,
                body: #"{"error":"unable to parse 'types2 u=3u 1700000010000000000': invalid number"}"#,
                expected: .rejected(reason: .badRequest, message: "unable to parse 'types2 u=3u 1700000010000000000': invalid number")),
    OutcomeCase(name: "gzip header but body not gzip", status: 400, body: #"{"error":"gzip: invalid header"}"#,
                expected: .rejected(reason: .badRequest, message: "gzip: invalid header")),
    OutcomeCase(name: "no db parameter", status: 400, body: #"{"error":"database is required"}"#,
                expected: .rejected(reason: .badRequest, message: "database is required")),
    OutcomeCase(name: "413 body too large", status: 413, body: #"{"error":"Request Entity Too Large"}"#,
                expected: .tooLarge(message: "Request Entity Too Large")),
    OutcomeCase(name: "database does not exist", status: 404, body: #"{"error":"database not found: \"nosuchdb\""}"#,
                expected: .databaseNotFound(message: #"database not found: "nosuchdb""#)),
    OutcomeCase(name: "retention policy does not exist: a 500 that must not be retried", status: 500,
                body: #"{"error":"retention policy not found: nosuchrp"}"#,
                expected: .rejected(reason: .retentionPolicy, message: "retention policy not found: nosuchrp")),
    OutcomeCase(name: "field type conflict, 1 line", status: 400, lines: 1,
                body: #"{"error":"partial write: field type conflict: input field \"v\" on measurement \"conf\" is type integer, already exists as type float dropped=1"}"#,
                expected: .partialWrite(rejectedLines: 1, message: #"partial write: field type conflict: input field "v" on measurement "conf" is type integer, already exists as type float dropped=1"#)),
    OutcomeCase(name: "type conflict in line 2 of 3", status: 400, lines: 3,
                body: #"{"error":"partial write: field type conflict: input field \"v\" on measurement \"conf\" is type integer, already exists as type float dropped=1"}"#,
                expected: .partialWrite(rejectedLines: 1, message: #"partial write: field type conflict: input field "v" on measurement "conf" is type integer, already exists as type float dropped=1"#)),
    OutcomeCase(name: "2 type conflicts + 1 parse error + 1 good line (parse error not reported)", status: 400, lines: 4,
                body: #"{"error":"partial write: field type conflict: input field \"v\" on measurement \"conf\" is type string, already exists as type float dropped=2"}"#,
                expected: .partialWrite(rejectedLines: 2, message: #"partial write: field type conflict: input field "v" on measurement "conf" is type string, already exists as type float dropped=2"#)),
    OutcomeCase(name: "point older than the retention policy", status: 400, lines: 2,
                body: #"{"error":"partial write: points beyond retention policy dropped=1"}"#,
                expected: .partialWrite(rejectedLines: 1, message: "partial write: points beyond retention policy dropped=1")),
    OutcomeCase(name: "max-values-per-tag exceeded", status: 400, lines: 5,
                body: #"{"error":"partial write: max-values-per-tag limit exceeded (3/3): measurement=\"mv2\" tag=\"host\" value=\"d\" dropped=1"}"#,
                expected: .partialWrite(rejectedLines: 1, message: #"partial write: max-values-per-tag limit exceeded (3/3): measurement="mv2" tag="host" value="d" dropped=1"#)),
    OutcomeCase(name: "dropped=N larger than the request is capped", status: 400, lines: 3,
                body: #"{"error":"partial write: points beyond retention policy dropped=9"}"#,
                expected: .partialWrite(rejectedLines: 3, message: "partial write: points beyond retention policy dropped=9")),
    OutcomeCase(name: "partial write without a count is at least one line", status: 400, lines: 3,
                body: #"{"error":"partial write: something new"}"#,
                expected: .partialWrite(rejectedLines: 1, message: "partial write: something new")),
    OutcomeCase(name: "engine cache full: retryable 500", status: 500,
                body: #"{"error":"engine: cache-max-memory-size exceeded: (270155/200000)"}"#,
                expected: .serverError(status: 500, retryAfter: nil, message: "engine: cache-max-memory-size exceeded: (270155/200000)")),
    OutcomeCase(name: "throttled: plain-text 503 without Retry-After", status: 503, body: "request throttled, queue full\n",
                expected: .throttled(status: 503, retryAfter: nil, message: "request throttled, queue full")),
    OutcomeCase(name: "503 with Retry-After", status: 503, body: "", headers: ["Retry-After": " 3 "],
                expected: .throttled(status: 503, retryAfter: 3, message: "")),
    OutcomeCase(name: "429 with Retry-After (2.x/Cloud)", status: 429,
                body: #"{"code":"too many requests","message":"org exceeded write limits"}"#, headers: ["retry-after": "7"],
                expected: .throttled(status: 429, retryAfter: 7, message: "org exceeded write limits")),
    OutcomeCase(name: "Retry-After as an HTTP date is ignored", status: 503, body: "",
                headers: ["Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"],
                expected: .throttled(status: 503, retryAfter: nil, message: "")),
    OutcomeCase(name: "502 from a proxy", status: 502, body: "<html>bad gateway</html>",
                expected: .serverError(status: 502, retryAfter: nil, message: "<html>bad gateway</html>")),
    OutcomeCase(name: "auth on, no credentials", status: 401,
                body: #"{"error":"unable to parse authentication credentials"}"#,
                headers: ["Www-Authenticate": #"Basic realm="InfluxDB""#],
                expected: .unauthorized(status: 401, message: "unable to parse authentication credentials")),
    OutcomeCase(name: "auth on, wrong password", status: 401, body: #"{"error":"authorization failed"}"#,
                expected: .unauthorized(status: 401, message: "authorization failed")),
    OutcomeCase(name: "user with READ only", status: 403,
                body: #"{"error":"\"reader\" user is not authorized to write to database \"wt\""}"#,
                expected: .unauthorized(status: 403, message: #""reader" user is not authorized to write to database "wt""#)),
    OutcomeCase(name: "v2 endpoint on 1.6.7", status: 404, body: "404 page not found\n",
                expected: .notFound(message: "404 page not found")),
    OutcomeCase(name: "v2 bucket not found", status: 404, body: #"{"code":"not found","message":"bucket \"b\" not found"}"#,
                expected: .notFound(message: #"bucket "b" not found"#)),
    OutcomeCase(name: "GET /write", status: 405, body: "Method Not Allowed",
                expected: .unexpectedStatus(status: 405, message: "Method Not Allowed")),
    OutcomeCase(name: "v2 partial write", status: 400,
                lines: 10,
                body: #"{"code":"invalid","message":"partial write: field type conflict: input field \"v\" on measurement \"m\" is type integer, already exists as type float dropped=3"}"#,
                expected: .partialWrite(rejectedLines: 3, message: #"partial write: field type conflict: input field "v" on measurement "m" is type integer, already exists as type float dropped=3"#)),
    OutcomeCase(name: "error text only in X-Influxdb-Error", status: 400, body: "",
                headers: ["X-Influxdb-Error": "partial write: points beyond retention policy dropped=1"],
                expected: .partialWrite(rejectedLines: 1, message: "partial write: points beyond retention policy dropped=1")),
    OutcomeCase(name: "JSON escapes: \\u, \\t, \\/", status: 400, body: #"{"error":"bad \u00e9\t\/x \ud83d\ude00"}"#,
                expected: .rejected(reason: .badRequest, message: "bad é\t/x 😀")),
    OutcomeCase(name: "other keys before error", status: 400, body: #"{"n":[1,{"a":"}"}],"error":"x"}"#,
                expected: .rejected(reason: .badRequest, message: "x")),
    OutcomeCase(name: "v2 points beyond the retention period: 422 partial write, never retried", status: 422, lines: 5,
                body: #"{"code":"unprocessable entity","message":"failure writing points to database: partial write: points beyond retention policy dropped=2"}"#,
                expected: .partialWrite(rejectedLines: 2, message: "failure writing points to database: partial write: points beyond retention policy dropped=2")),
    OutcomeCase(name: "422 without a partial write: rejected, not retried", status: 422,
                body: #"{"code":"unprocessable entity","message":"no points"}"#,
                expected: .rejected(reason: .badRequest, message: "no points")),
    OutcomeCase(name: "a 500 with the partial write inside the message", status: 500, lines: 4,
                body: #"{"error":"failure writing points to database: partial write: points beyond retention policy dropped=4"}"#,
                expected: .partialWrite(rejectedLines: 4, message: "failure writing points to database: partial write: points beyond retention policy dropped=4")),
    OutcomeCase(name: "1xx/3xx are unexpected", status: 301, body: "moved",
                expected: .unexpectedStatus(status: 301, message: "moved")),
]

@Suite("InfluxDB answers: outcome classification")
struct OutcomeClassificationTests {
    @Test(arguments: outcomeCases)
    func classifies(_ c: OutcomeCase) {
        let outcome = InfluxWriteOutcome.classify(status: c.status, body: Array(c.body.utf8), headers: c.headers, lines: c.lines)
        #expect(outcome == c.expected)
    }

    @Test("garbage bodies never crash and fall back to text")
    func garbage() {
        let bodies: [[UInt8]] = [[0xFF, 0xFE, 0x00, 0x7B], Array(#"{"error":"unterminated"#.utf8), Array(#"{"error":"\u12"}"#.utf8),
                                 Array(#"{"error":"\"#.utf8), Array("{".utf8), Array(#"{"error":5}"#.utf8), [],
                                 Array(repeating: 0x7B, count: 100_000)]
        for body in bodies {
            for status in [0, 99, 200, 400, 401, 404, 413, 429, 500, 503, 599, 600, 999] {
                _ = InfluxWriteOutcome.classify(status: status, body: body, headers: ["Retry-After": "-1"], lines: 0)
            }
        }
        let outcome = InfluxWriteOutcome.classify(status: 400, body: Array(#"{"error":5}"#.utf8), headers: [:], lines: 1)
        #expect(outcome == .rejected(reason: .badRequest, message: #"{"error":5}"#))
    }

    @Test("reasons name the counters and states")
    func reasons() {
        #expect(InfluxWriteOutcome.accepted.reason == nil)
        #expect(InfluxWriteOutcome.rejected(reason: .retentionPolicy, message: "").reason == "retention_policy")
        #expect(InfluxWriteOutcome.transportFailure(message: "x").reason == "transport")
        for reason in ["unauthorized", "database_not_found", "not_found", "too_large", "throttled", "server_error",
                       "unexpected_status", "transport"] {
            #expect(OutputMetrics.failureReasons.contains(reason))
        }
    }

    @Test("dropped=N is read from the last occurrence; quoted unparsable lines are added")
    func droppedParsing() {
        #expect(InfluxWriteOutcome.droppedCount("partial write: x dropped=12") == 12)
        #expect(InfluxWriteOutcome.droppedCount("dropped=1 and dropped=7") == 7)
        #expect(InfluxWriteOutcome.droppedCount("dropped=") == nil)
        #expect(InfluxWriteOutcome.droppedCount("nothing") == nil)
        #expect(InfluxWriteOutcome.partialWriteRejectedLines(
            "partial write: unable to parse 'a': x\nunable to parse 'b': y\nunable to parse 'c': z dropped=1", lines: 10) == 4)
    }
}
