import Testing
@testable import EstuaryWire
import EstuaryModel

// Graphite templates (InfluxDB 1.x `[[graphite]] templates`): the expectations follow
// services/graphite/parser.go and config.go of InfluxDB 1.12 and the cases of their tests,
// plus the corners of the matcher tree. See Docs/graphite-templates.md.

@Suite struct GraphiteTemplateTests {
    /// The point tag (Swift Testing has its own `Tag`).
    typealias PointTag = EstuaryModel.Tag

    /// One path through one template list, and what should come out.
    struct ApplyCase: Sendable, CustomTestStringConvertible {
        let name: String
        let templates: [String]
        var separator = "."
        let path: String
        let measurement: String
        var tags: [PointTag] = []
        var field = "value"

        var testDescription: String { name }
    }

    /// One template list that must be refused, and how.
    struct ErrorCase: Sendable, CustomTestStringConvertible {
        let name: String
        let templates: [String]
        let error: GraphiteTemplateError

        var testDescription: String { name }
    }

    // MARK: - Entry forms and template elements

    static let elementCases: [ApplyCase] = [
        // Forms of an entry.
        .init(name: "template only is the default template",
              templates: [".host.measurement*"], path: "servers.web01.cpu.load",
              measurement: "cpu.load", tags: [PointTag("host", "web01")]),
        .init(name: "filter then template",
              templates: ["servers.* .host.measurement*"], path: "servers.web01.cpu",
              measurement: "cpu", tags: [PointTag("host", "web01")]),
        .init(name: "template then tags when the second part has =",
              templates: ["measurement.host region=us-west"], path: "cpu.web01",
              measurement: "cpu", tags: [PointTag("host", "web01"), PointTag("region", "us-west")]),
        .init(name: "filter, template and tags",
              templates: ["servers.localhost .host.measurement* zone=1c,region=us-east"],
              path: "servers.localhost.cpu_load",
              measurement: "cpu_load",
              tags: [PointTag("host", "localhost"), PointTag("region", "us-east"), PointTag("zone", "1c")]),
        .init(name: "runs of spaces and tabs separate the parts",
              templates: ["servers.localhost        .host.measurement*  \t  zone=1c"],
              path: "servers.localhost.cpu_load",
              measurement: "cpu_load", tags: [PointTag("host", "localhost"), PointTag("zone", "1c")]),
        .init(name: "leading and trailing whitespace around a lone template is ignored",
              templates: ["  measurement.host  "], path: "cpu.web01",
              measurement: "cpu", tags: [PointTag("host", "web01")]),

        // measurement.
        .init(name: "metric only", templates: ["measurement"], path: "cpu", measurement: "cpu"),
        .init(name: "metric with single series",
              templates: ["measurement.hostname"], path: "cpu.server01",
              measurement: "cpu", tags: [PointTag("hostname", "server01")]),
        .init(name: "metric with multiple series",
              templates: ["measurement.region.hostname"], path: "cpu.us-west.server01",
              measurement: "cpu", tags: [PointTag("hostname", "server01"), PointTag("region", "us-west")]),
        .init(name: "measurement used several times is joined with the separator",
              templates: [".host.measurement.cpu.measurement"], path: "servers.localhost.cpu.cpu0.user",
              measurement: "cpu.user", tags: [PointTag("cpu", "cpu0"), PointTag("host", "localhost")]),
        .init(name: "measurement used several times with separator _",
              templates: [".host.measurement.cpu.measurement"], separator: "_",
              path: "servers.localhost.cpu.cpu0.user",
              measurement: "cpu_user", tags: [PointTag("cpu", "cpu0"), PointTag("host", "localhost")]),
        .init(name: "measurement* takes the rest of the path",
              templates: ["env.zone.host.measurement*"], path: "prod.us-west.server01.cpu.load",
              measurement: "cpu.load",
              tags: [PointTag("env", "prod"), PointTag("host", "server01"), PointTag("zone", "us-west")]),
        .init(name: "measurement then measurement* with separator _ joins every component with _",
              templates: ["servers.localhost .host.measurement.measurement*"], separator: "_",
              path: "servers.localhost.cpu.cpu_load.10",
              measurement: "cpu_cpu_load_10", tags: [PointTag("host", "localhost")]),
        .init(name: "measurement* with a multi-byte separator",
              templates: ["measurement*"], separator: "::", path: "a.b.c", measurement: "a::b::c"),
        .init(name: "elements after measurement* are never reached",
              templates: ["measurement*.host"], path: "cpu.web01", measurement: "cpu.web01"),
        .init(name: "the path stopping before every measurement element gives the raw path",
              templates: [".host.measurement"], path: "servers.web01",
              measurement: "servers.web01", tags: [PointTag("host", "web01")]),
        .init(name: "the raw path keeps its dots whatever the separator",
              templates: ["..measurement"], separator: "_", path: "a.b", measurement: "a.b"),
        .init(name: "an empty measurement component gives the raw path",
              templates: ["measurement.host"], path: ".web01",
              measurement: ".web01", tags: [PointTag("host", "web01")]),
        .init(name: "an empty path gives an empty measurement",
              templates: [], path: "", measurement: ""),

        // Path shorter or longer than the template.
        .init(name: "path longer than the template ignores the extra components",
              templates: ["measurement"], path: "foo.cpu", measurement: "foo"),
        .init(name: "path shorter than the template ignores the extra elements",
              templates: ["measurement.A.B.C"], path: "foo", measurement: "foo"),

        // Tags.
        .init(name: "a tag used several times is joined with the separator",
              templates: ["hostname.hostname.hostname.measurement.region"],
              path: "server01.example.org.cpu.us-west",
              measurement: "cpu", tags: [PointTag("hostname", "server01.example.org"), PointTag("region", "us-west")]),
        .init(name: "a repeated tag is joined with separator _",
              templates: ["host.host.measurement"], separator: "_", path: "web01.example.cpu",
              measurement: "cpu", tags: [PointTag("host", "web01_example")]),
        .init(name: "empty elements skip their components",
              templates: [".zone..measurement*"], path: "ignore.us-west.ignore-this-too.cpu.load",
              measurement: "cpu.load", tags: [PointTag("zone", "us-west")]),
        .init(name: "tags come out sorted by key",
              templates: ["measurement.zone.app.host"], path: "cpu.z1.api.web01",
              measurement: "cpu", tags: [PointTag("app", "api"), PointTag("host", "web01"), PointTag("zone", "z1")]),
        .init(name: "a tag with an empty value is left out",
              templates: ["measurement.host"], path: "cpu.", measurement: "cpu"),
        .init(name: "a repeated tag of empty components is the separator, not empty",
              templates: ["measurement.host.host"], path: "cpu..", measurement: "cpu", tags: [PointTag("host", ".")]),
        .init(name: "any other word is a tag name, even one with a star",
              templates: ["measurement.host*.measurements"], path: "cpu.web01.x",
              measurement: "cpu", tags: [PointTag("host*", "web01"), PointTag("measurements", "x")]),

        // Extra tags of the template.
        .init(name: "extra tags apply to the matched point",
              templates: ["current.* measurement.measurement region=us-west"], separator: "_",
              path: "current.users", measurement: "current_users", tags: [PointTag("region", "us-west")]),
        .init(name: "extra tags apply even when the path is shorter than the template",
              templates: ["measurement.host dc=1a"], path: "cpu",
              measurement: "cpu", tags: [PointTag("dc", "1a")]),
        .init(name: "an extra tag and a path tag of the same key are joined, extra tag first",
              templates: [".host.measurement* host=pool"], path: "servers.web01.cpu",
              measurement: "cpu", tags: [PointTag("host", "pool.web01")]),
        .init(name: "an extra tag and a path tag of the same key are joined with separator _",
              templates: [".host.measurement* host=pool"], separator: "_", path: "servers.web01.cpu",
              measurement: "cpu", tags: [PointTag("host", "pool_web01")]),
        .init(name: "an extra tag given twice keeps its last value",
              templates: ["measurement a=1,a=2"], path: "cpu", measurement: "cpu", tags: [PointTag("a", "2")]),
        .init(name: "extra tags of another template do not apply",
              templates: ["cpu.* measurement.host t=cpu", "mem.* measurement.host t=mem"], path: "mem.web01",
              measurement: "mem", tags: [PointTag("host", "web01"), PointTag("t", "mem")]),

        // field.
        .init(name: "no field element gives the field value",
              templates: ["measurement.host"], path: "cpu.web01",
              measurement: "cpu", tags: [PointTag("host", "web01")], field: "value"),
        .init(name: "field names the field",
              templates: ["current.* measurement.measurement.field"], separator: "_",
              path: "current.users.logged_in", measurement: "current_users", field: "logged_in"),
        .init(name: "field with a filter, sensu style",
              templates: ["sensu.metric.* ..measurement.host.interface.field"],
              path: "sensu.metric.net.server0.eth0.rx_packets",
              measurement: "net", tags: [PointTag("host", "server0"), PointTag("interface", "eth0")], field: "rx_packets"),
        .init(name: "field* takes the rest of the path",
              templates: ["env.zone.host.measurement.measurement.field*"],
              path: "prod.us-west.server01.cpu.util.idle.percent",
              measurement: "cpu.util",
              tags: [PointTag("env", "prod"), PointTag("host", "server01"), PointTag("zone", "us-west")],
              field: "idle.percent"),
        .init(name: "field* is joined with separator _",
              templates: ["measurement.measurement.region.field*"], separator: "_",
              path: "cpu.usage.eu-east.idle.percentage",
              measurement: "cpu_usage", tags: [PointTag("region", "eu-east")], field: "idle_percentage"),
        .init(name: "field beyond the end of the path gives value",
              templates: ["measurement.host.field"], path: "cpu.web01",
              measurement: "cpu", tags: [PointTag("host", "web01")], field: "value"),
        .init(name: "an empty field component gives value",
              templates: ["measurement.field"], path: "cpu.", measurement: "cpu", field: "value"),
        .init(name: "field* reached overrides field",
              templates: ["measurement.field.field*"], path: "cpu.idle.a.b", measurement: "cpu", field: "a.b"),
        .init(name: "field stays when field* is past the end of the path",
              templates: ["measurement.field.field*"], path: "cpu.idle", measurement: "cpu", field: "idle"),
        .init(name: "measurement after field* is never reached, so the raw path is the measurement",
              templates: ["field*.measurement"], path: "a.b", measurement: "a.b", field: "a.b"),
    ]

    @Test(arguments: elementCases)
    func elements(_ c: ApplyCase) throws {
        try expectApply(c)
    }

    // MARK: - Default template and filters

    static let matchingCases: [ApplyCase] = [
        // The default template.
        .init(name: "no templates: the whole path is the measurement",
              templates: [], path: "servers.localhost.cpu.loadavg.10",
              measurement: "servers.localhost.cpu.loadavg.10"),
        .init(name: "no templates: the separator does not apply to the built-in default",
              templates: [], separator: "_", path: "current.users", measurement: "current.users"),
        .init(name: "no filter matches and no default template: the whole path, dots kept",
              templates: ["foo.bar measurement.measurement"], separator: "_",
              path: "current.users", measurement: "current.users"),
        .init(name: "filter that does not match from the first component falls to the default",
              templates: ["servers.localhost .host.measurement*"], path: "miss.servers.localhost.cpu_load",
              measurement: "miss.servers.localhost.cpu_load"),
        .init(name: "path going past the filter's branch falls to the default",
              templates: ["servers.*.cpu .host.measurement.cpu.measurement"],
              path: "servers.localhost.memory.VmallocChunk",
              measurement: "servers.localhost.memory.VmallocChunk"),
        .init(name: "a configured default template applies when no filter matches",
              templates: ["servers.* .host.measurement*", "env.app.measurement*"],
              path: "dev.http.requests.200",
              measurement: "requests.200", tags: [PointTag("app", "http"), PointTag("env", "dev")]),
        .init(name: "a configured default template uses the separator",
              templates: ["env.app.measurement*"], separator: "_", path: "dev.http.requests.200",
              measurement: "requests_200", tags: [PointTag("app", "http"), PointTag("env", "dev")]),
        .init(name: "a filter is preferred to the configured default template",
              templates: ["env.app.measurement*", "servers.* .host.measurement*"],
              path: "servers.web01.cpu", measurement: "cpu", tags: [PointTag("host", "web01")]),

        // Filters.
        .init(name: "exact filter matches a prefix of the path",
              templates: ["servers.localhost .host.measurement*"], path: "servers.localhost.cpu_load",
              measurement: "cpu_load", tags: [PointTag("host", "localhost")]),
        .init(name: "wildcard filter component matches any component",
              templates: ["servers.* .host.measurement*"], path: "servers.localhost.cpu_load",
              measurement: "cpu_load", tags: [PointTag("host", "localhost")]),
        .init(name: "filter components are compared exactly and case-sensitively",
              templates: ["Servers.* .host.measurement*"], path: "servers.localhost.cpu_load",
              measurement: "servers.localhost.cpu_load"),
        .init(name: "a lone star filter matches every path",
              templates: ["* .measurement*", "measurement.host"], path: "servers.cpu",
              measurement: "cpu"),
        .init(name: "a filter longer than the path does not match",
              templates: ["servers.localhost.cpu .host.measurement*"], path: "servers.localhost",
              measurement: "servers.localhost"),
        .init(name: "exact component beats wildcard (wildcard listed first)",
              templates: ["servers.* .wrong.measurement*", "servers.localhost .host.measurement*"],
              path: "servers.localhost.cpu_load", measurement: "cpu_load", tags: [PointTag("host", "localhost")]),
        .init(name: "exact component beats wildcard (exact listed first)",
              templates: ["servers.localhost .host.measurement*", "servers.* .wrong.measurement*"],
              path: "servers.localhost.cpu_load", measurement: "cpu_load", tags: [PointTag("host", "localhost")]),
        .init(name: "longest matching filter wins",
              templates: [
                  "*.* .wrong.measurement*",
                  "servers.* .wrong.measurement*",
                  "servers.localhost .wrong.measurement*",
                  "servers.localhost.cpu .host.resource.measurement*",
                  "*.localhost .wrong.measurement*",
              ],
              path: "servers.localhost.cpu.cpu_load",
              measurement: "cpu_load", tags: [PointTag("host", "localhost"), PointTag("resource", "cpu")]),
        .init(name: "multiple wildcards: exact first component then wildcard wins",
              templates: [
                  "*.* .wrong.measurement*",
                  "servers.* .host.measurement*",
                  "servers.localhost .wrong.measurement*",
                  "*.localhost .wrong.measurement*",
              ],
              path: "servers.server01.cpu_load", measurement: "cpu_load", tags: [PointTag("host", "server01")]),
        .init(name: "tie between servers.* and *.localhost goes to the exact earlier component",
              templates: ["*.localhost .right.measurement* won=star", "servers.* .host.measurement* won=servers"],
              path: "servers.localhost.cpu",
              measurement: "cpu", tags: [PointTag("host", "localhost"), PointTag("won", "servers")]),
        .init(name: "the more specific of two wildcard filters wins",
              templates: ["current.* measurement.measurement", "current.*.* measurement.measurement.service"],
              separator: "_", path: "current.users.facebook",
              measurement: "current_users", tags: [PointTag("service", "facebook")]),
        .init(name: "a longer wildcard filter that does not match falls back to the shorter one",
              templates: ["current.* measurement.service", "current.*.*.test measurement.measurement.service"],
              separator: "_", path: "current.users.facebook",
              measurement: "current", tags: [PointTag("service", "users")]),
        .init(name: "filter selects among templates of different shape",
              templates: ["cpu.* measurement.measurement.region", "mem.* measurement.measurement.host"],
              separator: "_", path: "mem.cached.localhost",
              measurement: "mem_cached", tags: [PointTag("host", "localhost")]),

        // The tree never backtracks.
        .init(name: "an exact branch that dead-ends does not fall back to a wildcard sibling",
              templates: [
                  "taskmanagerTask.alarm-detector.Assign.alarmDefinitionId metricsType.process.nodeId.x.alarmDefinitionId.measurement.field rule=1",
                  "taskmanagerTask.*.*.*.* metricsType.process.nodeId.measurement rule=2",
              ],
              path: "taskmanagerTask.alarm-detector.Assign.numRecordsInPerSecond.m5_rate",
              measurement: "taskmanagerTask.alarm-detector.Assign.numRecordsInPerSecond.m5_rate"),
        .init(name: "the exact branch itself still matches when it is complete",
              templates: [
                  "taskmanagerTask.alarm-detector.Assign.alarmDefinitionId metricsType.process.nodeId.x.alarmDefinitionId.measurement.field rule=1",
                  "taskmanagerTask.*.*.*.* metricsType.process.nodeId.measurement rule=2",
              ],
              path: "taskmanagerTask.alarm-detector.Assign.alarmDefinitionId.timeout_errors.duration.p75",
              measurement: "duration",
              tags: [PointTag("alarmDefinitionId", "timeout_errors"), PointTag("metricsType", "taskmanagerTask"),
                     PointTag("nodeId", "Assign"), PointTag("process", "alarm-detector"), PointTag("rule", "1"),
                     PointTag("x", "alarmDefinitionId")],
              field: "p75"),
        .init(name: "an exact branch that dead-ends does not fall back to the shorter filter above it",
              templates: ["servers .measurement* f=short", "servers.localhost.cpu .measurement* f=long"],
              path: "servers.localhost.mem", measurement: "servers.localhost.mem"),
        .init(name: "a component with no branch stops at the shorter filter",
              templates: ["servers .measurement* f=short", "servers.localhost.cpu .measurement* f=long"],
              path: "servers.other.mem", measurement: "other.mem", tags: [PointTag("f", "short")]),

        // A wildcard node takes its parent's template when it is created.
        .init(name: "wildcard inherits the shorter filter listed before it",
              templates: ["servers .host.measurement* f=short", "servers.*.cpu .host.measurement* f=long"],
              path: "servers.web01.mem",
              measurement: "mem", tags: [PointTag("f", "short"), PointTag("host", "web01")]),
        .init(name: "wildcard does not inherit the shorter filter listed after it",
              templates: ["servers.*.cpu .host.measurement* f=long", "servers .host.measurement* f=short"],
              path: "servers.web01.mem", measurement: "servers.web01.mem"),
        .init(name: "the shorter filter still matches its own node whatever the order",
              templates: ["servers.*.cpu .host.measurement* f=long", "servers .host.measurement* f=short"],
              path: "servers", measurement: "servers", tags: [PointTag("f", "short")]),
        .init(name: "the longer filter matches whatever the order",
              templates: ["servers.*.cpu .host.measurement* f=long", "servers .host.measurement* f=short"],
              path: "servers.web01.cpu.idle",
              measurement: "cpu.idle", tags: [PointTag("f", "long"), PointTag("host", "web01")]),
        .init(name: "inheritance runs down a chain of wildcards",
              templates: ["a .x.y.measurement* f=short", "a.*.*.z .x.y.measurement* f=long"],
              path: "a.b.c.d", measurement: "d", tags: [PointTag("f", "short"), PointTag("x", "b"), PointTag("y", "c")]),
    ]

    @Test(arguments: matchingCases)
    func matching(_ c: ApplyCase) throws {
        try expectApply(c)
    }

    private func expectApply(_ c: ApplyCase) throws {
        let set = try GraphiteTemplateSet(c.templates, separator: c.separator)
        let expected = GraphiteTemplateResult(measurement: c.measurement, tags: c.tags, field: c.field)
        #expect(set.apply(c.path) == expected)
        // The byte entry point gives the same result.
        let bytes = Array(c.path.utf8)
        let fromBytes = bytes.withUnsafeBytes { set.apply($0) }
        #expect(fromBytes == expected)
    }

    // MARK: - Configuration errors

    static let errorCases: [ErrorCase] = [
        .init(name: "empty entry", templates: [""],
              error: .emptyTemplate(index: 0, template: "")),
        .init(name: "whitespace-only entry", templates: ["     "],
              error: .emptyTemplate(index: 0, template: "     ")),
        .init(name: "more than three parts", templates: ["a measurement b c"],
              error: .tooManyParts(index: 0, template: "a measurement b c")),
        .init(name: "no measurement element", templates: ["a.b.c"],
              error: .missingMeasurement(index: 0, template: "a.b.c")),
        .init(name: "star before measurement is not measurement*", templates: ["*measurement"],
              error: .missingMeasurement(index: 0, template: "*measurement")),
        .init(name: "only tags and skips", templates: [".host.region"],
              error: .missingMeasurement(index: 0, template: ".host.region")),
        .init(name: "a word starting with measurement is not measurement", templates: ["measurements.host"],
              error: .missingMeasurement(index: 0, template: "measurements.host")),
        .init(name: "blank filter then a template without measurement", templates: [".    .server measurement*"],
              error: .missingMeasurement(index: 0, template: ".    .server measurement*")),
        .init(name: "field used twice", templates: ["current.* measurement.field.field"],
              error: .repeatedField(index: 0, template: "current.* measurement.field.field")),
        .init(name: "field used twice even past measurement*", templates: ["measurement*.field.field"],
              error: .repeatedField(index: 0, template: "measurement*.field.field")),
        .init(name: "measurement* and field* together", templates: ["env.zone.host.measurement*.field*"],
              error: .greedyMeasurementAndField(index: 0, template: "env.zone.host.measurement*.field*")),
        .init(name: "filter starting with a dot", templates: [".server measurement*"],
              error: .emptyFilterComponent(index: 0, template: ".server measurement*", filter: ".server")),
        .init(name: "filter with an empty middle component", templates: ["a..b measurement*"],
              error: .emptyFilterComponent(index: 0, template: "a..b measurement*", filter: "a..b")),
        .init(name: "filter ending with a dot", templates: ["a. measurement*"],
              error: .emptyFilterComponent(index: 0, template: "a. measurement*", filter: "a.")),
        .init(name: "partial wildcard in a filter", templates: ["server* measurement*"],
              error: .partialWildcardInFilter(index: 0, template: "server* measurement*", filter: "server*")),
        .init(name: "partial wildcard in a later filter component", templates: ["servers.*web measurement*"],
              error: .partialWildcardInFilter(index: 0, template: "servers.*web measurement*", filter: "servers.*web")),
        .init(name: "tag without =", templates: ["*.server measurement* foo"],
              error: .invalidTag(index: 0, template: "*.server measurement* foo", tag: "foo")),
        .init(name: "tag with two =", templates: ["*.server measurement* foo=bar="],
              error: .invalidTag(index: 0, template: "*.server measurement* foo=bar=", tag: "foo=bar=")),
        .init(name: "trailing comma in tags", templates: ["*.server measurement* foo=bar,"],
              error: .invalidTag(index: 0, template: "*.server measurement* foo=bar,", tag: "")),
        .init(name: "tag with empty key and value", templates: ["*.server measurement* ="],
              error: .invalidTag(index: 0, template: "*.server measurement* =", tag: "=")),
        .init(name: "tag with empty value in the two-part form", templates: ["measurement foo="],
              error: .invalidTag(index: 0, template: "measurement foo=", tag: "foo=")),
        .init(name: "tag with empty key", templates: ["measurement =bar"],
              error: .invalidTag(index: 0, template: "measurement =bar", tag: "=bar")),
        .init(name: "three parts are always filter, template, tags", templates: ["measurement a=b c=d"],
              error: .missingMeasurement(index: 0, template: "measurement a=b c=d")),
        .init(name: "duplicate filter", templates: ["foo measurement*", "foo .host.measurement"],
              error: .duplicateFilter(index: 1, template: "foo .host.measurement", filter: "foo", firstIndex: 0)),
        .init(name: "duplicate default template", templates: ["measurement*", ".host.measurement"],
              error: .duplicateFilter(index: 1, template: ".host.measurement", filter: "", firstIndex: 0)),
        .init(name: "duplicate default template, one with extra tags",
              templates: ["servers.* .host.measurement*", "measurement*", "measurement.host dc=1"],
              error: .duplicateFilter(index: 2, template: "measurement.host dc=1", filter: "", firstIndex: 1)),
        .init(name: "error carries the index of the bad entry", templates: ["servers.* .host.measurement*", "a.b.c"],
              error: .missingMeasurement(index: 1, template: "a.b.c")),
        .init(name: "the first bad entry is reported", templates: ["measurement", "", "x.y"],
              error: .emptyTemplate(index: 1, template: "")),
    ]

    @Test(arguments: errorCases)
    func errors(_ c: ErrorCase) {
        #expect(throws: c.error) {
            _ = try GraphiteTemplateSet(c.templates)
        }
    }

    @Test(arguments: errorCases)
    func errorDescriptions(_ c: ErrorCase) {
        let message = c.error.description
        #expect(!message.contains("\n"))
        #expect(message.contains("templates[\(c.error.index)]"))
        #expect(message.contains(c.error.template.debugDescription))
    }

    @Test func errorDescriptionExample() {
        let error = GraphiteTemplateError.duplicateFilter(index: 2, template: "foo measurement*",
                                                          filter: "foo", firstIndex: 0)
        #expect(error.description
            == #"graphite templates[2] "foo measurement*": the filter "foo" is already used by templates[0]"#)
    }

    // MARK: - Edge cases of the byte interface

    @Test func nonASCIIPath() throws {
        let set = try GraphiteTemplateSet(["measurement.host"], separator: "→")
        #expect(set.apply("température.hôte") == GraphiteTemplateResult(measurement: "température",
                                                                            tags: [PointTag("host", "hôte")]))
        let greedy = try GraphiteTemplateSet(["measurement*"], separator: "→")
        #expect(greedy.apply("été.hiver").measurement == "été→hiver")
    }

    @Test func setIsReusableAcrossPaths() throws {
        let set = try GraphiteTemplateSet(["servers.* .host.measurement*", "measurement.measurement"], separator: "_")
        #expect(set.apply("servers.a.cpu.idle") == GraphiteTemplateResult(measurement: "cpu_idle", tags: [PointTag("host", "a")]))
        #expect(set.apply("disk.used.extra") == GraphiteTemplateResult(measurement: "disk_used"))
        #expect(set.apply("servers.b.mem") == GraphiteTemplateResult(measurement: "mem", tags: [PointTag("host", "b")]))
    }

    @Test func emptySeparatorMeansDot() throws {
        let set = try GraphiteTemplateSet(["measurement.measurement"], separator: "")
        #expect(set.apply("cpu.idle").measurement == "cpu.idle")
    }
}
