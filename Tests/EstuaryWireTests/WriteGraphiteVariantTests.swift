import EstuaryModel
import EstuaryTestSupport
@testable import EstuaryWire
import Testing

/// collectd's own write_graphite output for capture/plain under ten option sets
/// (reference/graphite-<variant>.txt). Line i is data source i of the capture's value lists,
/// in order, so the identity each line must map to is known from the binary decoding.
@Suite("write_graphite option sets")
struct WriteGraphiteVariantTests {
    struct Variant: Sendable, CustomTestStringConvertible {
        var name: String
        var options: WriteGraphiteOptions
        var preserveSeparator = false
        var useTags = false
        var testDescription: String { name }
    }

    static let variants: [Variant] = [
        Variant(name: "default", options: WriteGraphiteOptions()),
        Variant(name: "storerates_false", options: WriteGraphiteOptions()),
        Variant(name: "separate_instances", options: WriteGraphiteOptions(separateInstances: true)),
        Variant(name: "always_append_ds", options: WriteGraphiteOptions(alwaysAppendDS: true)),
        Variant(name: "prefix_postfix", options: WriteGraphiteOptions(prefix: "collectd.", postfix: ".x")),
        Variant(name: "escape_dash", options: WriteGraphiteOptions(escapeCharacter: UInt8(ascii: "-"))),
        Variant(name: "reverse_host", options: WriteGraphiteOptions(reverseHost: true)),
        Variant(name: "drop_duplicate_fields", options: WriteGraphiteOptions(dropDuplicateFields: true)),
        Variant(name: "use_tags", options: WriteGraphiteOptions(), useTags: true),
        Variant(name: "preserve_separator", options: WriteGraphiteOptions(), preserveSeparator: true),
    ]

    /// (value list, data-source index) of capture/plain in wire order.
    static let dataSources: [(CollectdValueList, Int)] = {
        let decoder = try! CollectdPacketDecoder()
        var result: [(CollectdValueList, Int)] = []
        for file in Fixtures.files(in: Fixtures.collectd + "/capture/plain", suffix: ".bin") {
            for list in decoder.decode(Fixtures.bytes(file)).valueLists {
                for index in list.values.indices { result.append((list, index)) }
            }
        }
        return result
    }()

    /// The identity write_graphite's escaping leaves for data source `index` of `list`.
    static func expectedIdentity(_ list: CollectdValueList, _ index: Int, _ variant: Variant) -> CollectdPathIdentity {
        let escape = variant.options.escapeCharacter
        let keepDots = variant.preserveSeparator || variant.useTags
        func e(_ s: String) -> String { WriteGraphiteEscaping.escape(s, escape: escape, preserveSeparator: keepDots) }
        let sources = Fixtures.typesDB[list.type]!
        return CollectdPathIdentity(host: e(list.host), plugin: e(list.plugin), pluginInstance: e(list.pluginInstance),
                                    type: e(list.type), typeInstance: e(list.typeInstance), dsName: sources[index].name)
    }

    @Test("every line maps back to its collectd identity", arguments: variants)
    func linesMapToIdentities(variant: Variant) {
        let lines = Fixtures.text(Fixtures.collectd + "/reference/graphite-\(variant.name).txt")
            .utf8.split(separator: UInt8(ascii: "\n")).map { Array($0) }
        #expect(lines.count == Self.dataSources.count)
        let mapper = WriteGraphitePathMapper(options: variant.options, typesDB: Fixtures.typesDB)
        let parser = GraphiteLineParser()
        var mapped = 0, nonFinite = 0, wrong: [String] = [], unmapped: [String] = []
        for (line, (list, index)) in zip(lines, Self.dataSources) {
            line.withUnsafeBytes { bytes in
                guard case .success(let parsed)? = parser.parse(bytes) else {
                    // write_graphite sends NaN for first samples of rates and NaN gauges.
                    if case .failure(.nonFiniteValue)? = parser.parse(bytes) { nonFinite += 1 }
                    return
                }
                let path = UnsafeRawBufferPointer(rebasing: bytes[parsed.path])
                let identity = variant.useTags ? mapper.identity(fromTags: parser.tags(of: parsed, in: bytes))
                                               : mapper.identity(of: path)
                let text = String(decoding: line, as: UTF8.self)
                guard let identity else {
                    unmapped.append(text)
                    return
                }
                var expected = Self.expectedIdentity(list, index, variant)
                if variant.options.reverseHost && list.host.contains(" ") {
                    // ReverseHost reverses the labels before escaping; a label with a space
                    // becomes two labels once escaped and cannot be put back. Documented.
                    expected.host = identity.host
                }
                if identity == expected { mapped += 1 } else { wrong.append("\(text) -> \(identity)") }
            }
        }
        #expect(wrong.isEmpty, "\(wrong.count) wrong, first: \(wrong.prefix(3))")
        if variant.preserveSeparator {
            // PreserveSeparator keeps dots inside fields, so the components cannot be told
            // apart: such lines go to the templates and never to a wrong identity.
            #expect(mapped + unmapped.count + nonFinite == lines.count)
        } else {
            #expect(unmapped.isEmpty, "\(unmapped.count) unmapped, first: \(unmapped.prefix(3))")
            #expect(mapped + nonFinite == lines.count)
        }
    }

    @Test("the data-source component is checked against types.db; unknown shapes go to the templates")
    func shapesThatAreNotCollectd() {
        let mapper = WriteGraphiteMapperHarness(WriteGraphiteOptions())
        #expect(mapper.identity("h.interface-eth0.if_octets") == nil)           // if_octets needs .rx or .tx
        #expect(mapper.identity("h.interface-eth0.if_octets.foo") == nil)       // no such data source
        #expect(mapper.identity("h.cpu-0.percent-idle.value") == nil)           // one DS: not appended by default
        #expect(mapper.identity("h.only") == nil)
        #expect(mapper.identity("h.a.b.c.d") == nil)
        #expect(mapper.identity("h..percent") == nil)
        #expect(mapper.identity("h.exec-x.mytype") ==
                CollectdPathIdentity(host: "h", plugin: "exec", pluginInstance: "x", type: "mytype", dsName: "value",
                                     unknownType: true))
        #expect(mapper.identity("h.exec-x.mytype.rx") ==
                CollectdPathIdentity(host: "h", plugin: "exec", pluginInstance: "x", type: "mytype", dsName: "rx",
                                     unknownType: true))
    }

    @Test("plugin and type instances split at the first dash")
    func firstDash() {
        let mapper = WriteGraphiteMapperHarness(WriteGraphiteOptions())
        #expect(mapper.identity("h.exec-dash-in-instance.gauge-dash-in-ti") ==
                CollectdPathIdentity(host: "h", plugin: "exec", pluginInstance: "dash-in-instance", type: "gauge",
                                     typeInstance: "dash-in-ti", dsName: "value"))
    }

    @Test("prefix and postfix are stuck to the host with no dot added; paths without the prefix are not collectd")
    func prefixAndPostfix() {
        let mapper = WriteGraphiteMapperHarness(WriteGraphiteOptions(prefix: "pre_", postfix: "_post"))
        #expect(mapper.identity("pre_web_post.load.load.shortterm")?.host == "web")
        #expect(mapper.identity("web_post.load.load.shortterm") == nil)
        #expect(mapper.identity("pre_web.load.load.shortterm") == nil)
    }
}

/// Calls the mapper with a String path.
struct WriteGraphiteMapperHarness {
    let mapper: WriteGraphitePathMapper

    init(_ options: WriteGraphiteOptions) {
        mapper = WriteGraphitePathMapper(options: options, typesDB: Fixtures.typesDB)
    }

    func identity(_ path: String) -> CollectdPathIdentity? {
        Array(path.utf8).withUnsafeBytes { mapper.identity(of: $0) }
    }
}
