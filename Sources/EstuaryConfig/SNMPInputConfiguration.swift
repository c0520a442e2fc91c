import EstuarySNMP
import TOMLKit

/// One `[[inputs.snmp]]`: devices polled over SNMP, with their defaults (version,
/// credentials, timing), named credentials for devices that differ, the schema, and the
/// tables and scalars to read besides the interfaces.
public struct SNMPInputConfiguration: Sendable, Hashable {
    /// `name`: this input in logs and self-metrics; unique among inputs.
    public var name: String
    /// `targets`: devices written inline, `address[:port] [name] [credentials]`.
    public var targets: [SNMPTarget]
    /// `targets_file`: a file of one device per line, the same syntax, `#` comments; re-read
    /// on SIGHUP. Relative to the working directory.
    public var targetsFile: String?
    /// `version`, `community`, `username`, `security_level`, `auth_protocol`,
    /// `auth_password`, `priv_protocol`, `priv_password`, `context_name`.
    public var credentials: SNMPCredentials
    /// `[inputs.snmp.credentials.NAME]`: credentials a target names.
    public var namedCredentials: [String: SNMPCredentials]
    /// `interval`, seconds.
    public var interval: Double
    /// `timeout`, seconds: per request, before each retransmission.
    public var timeout: Double
    /// `retries`.
    public var retries: Int
    /// `max_repetitions`: GETBULK's, to start with.
    public var maxRepetitions: Int
    /// `schema`.
    public var schema: SNMPSchema
    /// `rates`: per-second rates instead of raw counters (collectd schema).
    public var rates: Bool
    /// `index_refresh`, seconds: how often ifDescr and ifAlias are walked again.
    public var indexRefresh: Double
    /// `window`: polls in flight at most.
    public var window: Int
    /// `[[inputs.snmp.table]]`.
    public var tables: [SNMPTableSpec]
    /// `[[inputs.snmp.scalar]]`.
    public var scalars: [SNMPScalarSpec]
    /// The devices: inline targets, then the targets file's, as loaded.
    public var devices: [SNMPDeviceSettings]

    public static let intervalRange = 1.0...86400.0
    public static let timeoutRange = 0.01...60.0
    public static let retriesRange = 0...10
    public static let maxRepetitionsRange = 1...1000
    public static let windowRange = 1...10000
    public static let indexRefreshRange = 10.0...604800.0

    public init(name: String = "snmp", targets: [SNMPTarget] = [], targetsFile: String? = nil,
                credentials: SNMPCredentials = SNMPCredentials(), namedCredentials: [String: SNMPCredentials] = [:],
                interval: Double = 60, timeout: Double = 2, retries: Int = 1, maxRepetitions: Int = 10,
                schema: SNMPSchema = .collectd, rates: Bool = false, indexRefresh: Double = 600, window: Int = 500,
                tables: [SNMPTableSpec] = [], scalars: [SNMPScalarSpec] = [], devices: [SNMPDeviceSettings] = []) {
        self.name = name
        self.targets = targets
        self.targetsFile = targetsFile
        self.credentials = credentials
        self.namedCredentials = namedCredentials
        self.interval = interval
        self.timeout = timeout
        self.retries = retries
        self.maxRepetitions = maxRepetitions
        self.schema = schema
        self.rates = rates
        self.indexRefresh = indexRefresh
        self.window = window
        self.tables = tables
        self.scalars = scalars
        self.devices = devices
    }

    /// The device settings for `target` under this input's defaults.
    public func device(_ target: SNMPTarget) -> SNMPDeviceSettings? {
        var credentials = self.credentials
        if let reference = target.credentials {
            guard let named = namedCredentials[reference] else { return nil }
            credentials = named
        }
        return SNMPDeviceSettings(target: target, credentials: credentials, interval: interval, timeout: timeout,
                                  retries: retries, maxRepetitions: maxRepetitions, indexRefresh: indexRefresh, rates: rates,
                                  tables: tables, scalars: scalars)
    }

    /// Reads the targets file again (SIGHUP) and returns every device, or every mistake
    /// (with the file's name and line).
    public func reloadDevices() -> Result<[SNMPDeviceSettings], ConfigurationErrors> {
        var errors: [ConfigurationError] = []
        var devices: [SNMPDeviceSettings] = []
        var seen = Set<String>()
        for target in targets {
            if let device = device(target) {
                devices.append(device)
                seen.insert(target.agent)
            }
        }
        if let targetsFile {
            let keyPath = "targets_file"
            switch Self.readTargets(file: targetsFile, keyPath: keyPath, known: Set(namedCredentials.keys)) {
            case .success(let fileTargets):
                for target in fileTargets {
                    if seen.contains(target.agent) {
                        errors.append(ConfigurationError(file: targetsFile, keyPath: "",
                                                         message: "\(target.agent) is also listed in targets"))
                        continue
                    }
                    seen.insert(target.agent)
                    if let device = device(target) { devices.append(device) }
                }
            case .failure(let failure):
                errors += failure.errors
            }
        }
        return errors.isEmpty ? .success(devices) : .failure(ConfigurationErrors(errors: errors))
    }

    /// The targets of a file, or its mistakes with their lines.
    static func readTargets(file: String, keyPath: String, known: Set<String>) -> Result<[SNMPTarget], ConfigurationErrors> {
        let text: String
        do {
            text = try readTextFile(file)
        } catch {
            return .failure(ConfigurationErrors(errors: [ConfigurationError(file: file, keyPath: "", message: "the targets file \(error.description)")]))
        }
        let (targets, problems) = SNMPTargetList.parse(text)
        var errors = problems.map { ConfigurationError(file: file, line: $0.line, keyPath: "", message: $0.message) }
        var good: [SNMPTarget] = []
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        for target in targets {
            if let reference = target.credentials, !known.contains(reference) {
                let line = lines.firstIndex { $0.contains(reference) && $0.contains(target.host) }.map { $0 + 1 }
                errors.append(ConfigurationError(file: file, line: line, keyPath: "",
                                                 message: "unknown credentials '\(reference)' for \(target.agent) (define [inputs.snmp.credentials.\(reference)])"))
                continue
            }
            good.append(target)
        }
        return errors.isEmpty ? .success(good) : .failure(ConfigurationErrors(errors: errors))
    }
}

extension SNMPInputConfiguration {
    static let credentialKeys = ["version", "community", "username", "security_level", "auth_protocol", "auth_password",
                                 "priv_protocol", "priv_password", "context_name"]

    init?(reading reader: TableReader, defaultName: String) {
        var input = SNMPInputConfiguration()
        input.name = readName(reader, default: defaultName)
        input.credentials = Self.readCredentials(reader, defaults: SNMPCredentials())
        input.interval = reader.duration("interval", default: input.interval, range: Self.intervalRange)
        input.timeout = reader.duration("timeout", default: input.timeout, range: Self.timeoutRange)
        input.retries = reader.int("retries", default: input.retries, range: Self.retriesRange)
        input.maxRepetitions = reader.int("max_repetitions", default: input.maxRepetitions, range: Self.maxRepetitionsRange)
        input.schema = reader.choice("schema", default: input.schema)
        input.rates = reader.bool("rates", default: input.rates)
        input.indexRefresh = reader.duration("index_refresh", default: input.indexRefresh, range: Self.indexRefreshRange)
        input.window = reader.int("window", default: input.window, range: Self.windowRange)

        if let table = reader.value("credentials") {
            if let named = table.table {
                for key in named.keys.sorted() {
                    let path = reader.keyPath("credentials") + "." + key
                    guard let sub = named[key]?.table else {
                        reader.diagnostics.error(path, "expected a table [\(reader.path.replacingBrackets).credentials.\(key)]")
                        continue
                    }
                    guard key.utf8.allSatisfy({ SNMPTargetList.isNameByte($0) }) else {
                        reader.diagnostics.error(path, "bad credentials name '\(key)': use letters, digits, '_', '-' and '.'")
                        continue
                    }
                    let subReader = TableReader(table: sub, path: path, diagnostics: reader.diagnostics)
                    input.namedCredentials[key] = Self.readCredentials(subReader, defaults: input.credentials)
                    subReader.finish()
                }
            } else {
                reader.error("credentials", "expected tables such as [inputs.snmp.credentials.core], got \(describe(table))")
            }
        }

        input.tables = Self.readTables(reader)
        input.scalars = Self.readScalars(reader)

        if let entries = reader.stringArray("targets") {
            var seen: [String: Int] = [:]
            for (position, entry) in entries.enumerated() {
                let words = entry.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
                do {
                    let target = try SNMPTargetList.entry(words)
                    if let first = seen[target.agent] {
                        reader.error("targets[\(position)]", "\(target.agent) is already listed at targets[\(first)]")
                        continue
                    }
                    if let reference = target.credentials, input.namedCredentials[reference] == nil {
                        reader.error("targets[\(position)]", "unknown credentials '\(reference)' (define [inputs.snmp.credentials.\(reference)])")
                        continue
                    }
                    seen[target.agent] = position
                    input.targets.append(target)
                } catch {
                    reader.error("targets[\(position)]", error.message)
                }
            }
        }
        input.targetsFile = reader.nonEmptyString("targets_file")
        if !reader.contains("targets") && !reader.contains("targets_file") {
            reader.error("targets", "no device to poll: set targets = [\"192.0.2.1\", ...] and/or targets_file")
        }
        if input.rates && input.schema == .telegraf {
            reader.error("rates", "rates apply to the collectd schema; the telegraf schema carries raw counters (use non_negative_derivative in queries)")
        }
        if input.timeout * Double(input.retries + 1) >= input.interval {
            reader.error("timeout", "timeout × (retries + 1) = \(DurationSyntax.format(input.timeout * Double(input.retries + 1))) "
                         + "must be shorter than interval (\(DurationSyntax.format(input.interval))), or a dead device could never be polled on time")
        }
        reader.finish()

        if input.targetsFile != nil {
            switch input.reloadDevices() {
            case .success(let devices): input.devices = devices
            case .failure(let failure):
                for error in failure.errors { reader.diagnostics.append(error) }
            }
        } else {
            input.devices = input.targets.compactMap { input.device($0) }
        }
        self = input
    }

    /// Version and credentials; `defaults` fills what a credentials table leaves out.
    static func readCredentials(_ reader: TableReader, defaults: SNMPCredentials) -> SNMPCredentials {
        var credentials = defaults
        credentials.version = reader.choice("version", default: defaults.version)
        if let community = reader.string("community") {
            if community.isEmpty { reader.error("community", "must not be empty") } else { credentials.community = community }
        }
        credentials.username = reader.string("username") ?? defaults.username
        credentials.authProtocol = caseInsensitiveChoice(reader, "auth_protocol", default: defaults.authProtocol)
        credentials.privProtocol = caseInsensitiveChoice(reader, "priv_protocol", default: defaults.privProtocol)
        credentials.authPassword = reader.string("auth_password") ?? defaults.authPassword
        credentials.privPassword = reader.string("priv_password") ?? defaults.privPassword
        credentials.contextName = reader.string("context_name") ?? defaults.contextName
        if reader.contains("security_level") {
            credentials.securityLevel = caseInsensitiveChoice(reader, "security_level", default: defaults.securityLevel)
        } else if reader.contains("priv_password") || (defaults.securityLevel == .noAuthNoPriv && !credentials.privPassword.isEmpty) {
            credentials.securityLevel = .authPriv
        } else if reader.contains("auth_password") || (defaults.securityLevel == .noAuthNoPriv && !credentials.authPassword.isEmpty) {
            credentials.securityLevel = credentials.privPassword.isEmpty ? .authNoPriv : .authPriv
        }
        if credentials.version == .v3 {
            if credentials.username.isEmpty {
                reader.error("username", "required for version \"3\": the SNMPv3 user")
            }
            if credentials.securityLevel != .noAuthNoPriv && credentials.authPassword.utf8.count < 8 {
                reader.error("auth_password", "security level \(credentials.securityLevel.rawValue) needs an auth_password of at least 8 characters (RFC 3414)")
            }
            if credentials.securityLevel == .authPriv && credentials.privPassword.utf8.count < 8 {
                reader.error("priv_password", "security level authPriv needs a priv_password of at least 8 characters (RFC 3414)")
            }
        }
        return credentials
    }

    /// An enum matched without regard to case (`sha256`, `SHA256`, `authpriv`).
    static func caseInsensitiveChoice<Choice: RawRepresentable & CaseIterable>(_ reader: TableReader, _ key: String,
                                                                              default value: Choice) -> Choice
        where Choice.RawValue == String {
        guard let raw = reader.value(key) else { return value }
        let accepted = listing(Choice.allCases.map(\.rawValue))
        guard let text = raw.string else {
            reader.error(key, "expected a string (\(accepted)), got \(describe(raw))")
            return value
        }
        guard let choice = Choice.allCases.first(where: { $0.rawValue.lowercased() == text.lowercased() }) else {
            reader.error(key, "unknown value '\(text)' (expected \(accepted))")
            return value
        }
        return choice
    }

    static func readTables(_ reader: TableReader) -> [SNMPTableSpec] {
        guard let elements = EstuaryConfiguration.arrayOfTables(
            reader, key: "table", message: "write each table as a [[inputs.snmp.table]] table (double brackets)", allowEmpty: true)
        else { return [] }
        var specs: [SNMPTableSpec] = []
        for element in elements {
            let sub = TableReader(table: element.table, path: element.path, diagnostics: reader.diagnostics)
            let measurement = sub.nonEmptyString("measurement")
            if !sub.contains("measurement") { sub.error("measurement", "required key is missing (the measurement each row becomes)") }
            var indexTag: String? = "index"
            if sub.contains("index_tag") {
                let tag = sub.string("index_tag") ?? "index"
                indexTag = tag.isEmpty ? nil : tag
            }
            let tags = readObjects(sub, "tags")
            let fields = readObjects(sub, "fields")
            if sub.value("fields")?.table?.count ?? 0 == 0 {
                sub.error("fields", "at least one field is needed, e.g. fields = { used = \"1.3.6.1.2.1.25.2.3.1.6\" }")
            }
            sub.finish()
            if let measurement, !fields.isEmpty {
                specs.append(SNMPTableSpec(measurement: measurement, indexTag: indexTag, tags: tags, fields: fields))
            }
        }
        return specs
    }

    static func readScalars(_ reader: TableReader) -> [SNMPScalarSpec] {
        guard let elements = EstuaryConfiguration.arrayOfTables(
            reader, key: "scalar", message: "write each group of scalars as a [[inputs.snmp.scalar]] table (double brackets)",
            allowEmpty: true)
        else { return [] }
        var specs: [SNMPScalarSpec] = []
        for element in elements {
            let sub = TableReader(table: element.table, path: element.path, diagnostics: reader.diagnostics)
            let measurement = sub.nonEmptyString("measurement")
            if !sub.contains("measurement") { sub.error("measurement", "required key is missing (the measurement the values become)") }
            let tags = readObjects(sub, "tags")
            let fields = readObjects(sub, "fields")
            if sub.value("fields")?.table?.count ?? 0 == 0 {
                sub.error("fields", "at least one field is needed, e.g. fields = { load1 = \"1.3.6.1.4.1.2021.10.1.3.1\" }")
            }
            sub.finish()
            if let measurement, !fields.isEmpty {
                specs.append(SNMPScalarSpec(measurement: measurement, tags: tags, fields: fields))
            }
        }
        return specs
    }

    /// `{ name = "1.3.6.1...", ... }`: names to numeric OIDs, sorted by name.
    static func readObjects(_ reader: TableReader, _ key: String) -> [SNMPNamedObject] {
        guard let value = reader.value(key) else { return [] }
        guard let table = value.table else {
            reader.error(key, "expected a table of names to OIDs, e.g. { used = \"1.3.6.1.2.1.25.2.3.1.6\" }, got \(describe(value))")
            return []
        }
        var objects: [SNMPNamedObject] = []
        for name in table.keys.sorted() {
            guard let text = table[name]?.string else {
                reader.error("\(key).\(name)", "expected a numeric OID string such as \"1.3.6.1.2.1.1.3.0\"")
                continue
            }
            guard let oid = SNMPObjectIdentifier(text) else {
                reader.error("\(key).\(name)", "bad OID '\(text)': write it numerically (1.3.6.1...); MIB names are not loaded")
                continue
            }
            objects.append(SNMPNamedObject(name: name, oid: oid))
        }
        return objects
    }
}

extension String {
    /// `inputs.snmp[0]` as `inputs.snmp` (for a table header in a message).
    var replacingBrackets: String {
        var result = ""
        var skipping = false
        for character in self {
            if character == "[" { skipping = true; continue }
            if character == "]" { skipping = false; continue }
            if !skipping { result.append(character) }
        }
        return result
    }
}
