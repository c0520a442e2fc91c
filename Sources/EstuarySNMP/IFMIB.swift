/// The objects of SNMPv2-MIB and IF-MIB (RFC 2863) the poller reads: the system scalars
/// and the ifTable and ifXTable columns, with their MIB names (the Telegraf schema's field
/// names).
public enum IFMIB {
    public static let sysUpTime: SNMPObjectIdentifier = "1.3.6.1.2.1.1.3.0"
    public static let sysName: SNMPObjectIdentifier = "1.3.6.1.2.1.1.5.0"
    public static let ifNumber: SNMPObjectIdentifier = "1.3.6.1.2.1.2.1.0"

    /// The scalars every poll asks for, in this order.
    public static let scalars = [sysUpTime, sysName, ifNumber]
    public static let sysUpTimeScalar = 0
    public static let sysNameScalar = 1
    public static let ifNumberScalar = 2

    /// An interface column.
    public enum Column: Int, CaseIterable, Sendable {
        // ifTable, 1.3.6.1.2.1.2.2.1.N
        case ifDescr, ifType, ifSpeed, ifAdminStatus, ifOperStatus
        case ifInOctets, ifInUcastPkts, ifInNUcastPkts, ifInDiscards, ifInErrors
        case ifOutOctets, ifOutUcastPkts, ifOutNUcastPkts, ifOutDiscards, ifOutErrors
        // ifXTable, 1.3.6.1.2.1.31.1.1.1.N
        case ifName, ifInMulticastPkts, ifInBroadcastPkts, ifOutMulticastPkts, ifOutBroadcastPkts
        case ifHCInOctets, ifHCInUcastPkts, ifHCInMulticastPkts, ifHCInBroadcastPkts
        case ifHCOutOctets, ifHCOutUcastPkts, ifHCOutMulticastPkts, ifHCOutBroadcastPkts
        case ifHighSpeed, ifAlias, ifCounterDiscontinuityTime

        /// The column's OID (parsed once).
        public var oid: SNMPObjectIdentifier { Column.oids[rawValue] }

        private static let oids: [SNMPObjectIdentifier] = Column.allCases.map(\.literalOID)
        private static let byOID: [SNMPObjectIdentifier: Column] =
            Dictionary(uniqueKeysWithValues: Column.allCases.map { ($0.literalOID, $0) })

        /// The column with this OID, if it is one of these.
        public init?(oid: SNMPObjectIdentifier) {
            guard let column = Column.byOID[oid] else { return nil }
            self = column
        }

        private var literalOID: SNMPObjectIdentifier {
            switch self {
            case .ifDescr: return "1.3.6.1.2.1.2.2.1.2"
            case .ifType: return "1.3.6.1.2.1.2.2.1.3"
            case .ifSpeed: return "1.3.6.1.2.1.2.2.1.5"
            case .ifAdminStatus: return "1.3.6.1.2.1.2.2.1.7"
            case .ifOperStatus: return "1.3.6.1.2.1.2.2.1.8"
            case .ifInOctets: return "1.3.6.1.2.1.2.2.1.10"
            case .ifInUcastPkts: return "1.3.6.1.2.1.2.2.1.11"
            case .ifInNUcastPkts: return "1.3.6.1.2.1.2.2.1.12"
            case .ifInDiscards: return "1.3.6.1.2.1.2.2.1.13"
            case .ifInErrors: return "1.3.6.1.2.1.2.2.1.14"
            case .ifOutOctets: return "1.3.6.1.2.1.2.2.1.16"
            case .ifOutUcastPkts: return "1.3.6.1.2.1.2.2.1.17"
            case .ifOutNUcastPkts: return "1.3.6.1.2.1.2.2.1.18"
            case .ifOutDiscards: return "1.3.6.1.2.1.2.2.1.19"
            case .ifOutErrors: return "1.3.6.1.2.1.2.2.1.20"
            case .ifName: return "1.3.6.1.2.1.31.1.1.1.1"
            case .ifInMulticastPkts: return "1.3.6.1.2.1.31.1.1.1.2"
            case .ifInBroadcastPkts: return "1.3.6.1.2.1.31.1.1.1.3"
            case .ifOutMulticastPkts: return "1.3.6.1.2.1.31.1.1.1.4"
            case .ifOutBroadcastPkts: return "1.3.6.1.2.1.31.1.1.1.5"
            case .ifHCInOctets: return "1.3.6.1.2.1.31.1.1.1.6"
            case .ifHCInUcastPkts: return "1.3.6.1.2.1.31.1.1.1.7"
            case .ifHCInMulticastPkts: return "1.3.6.1.2.1.31.1.1.1.8"
            case .ifHCInBroadcastPkts: return "1.3.6.1.2.1.31.1.1.1.9"
            case .ifHCOutOctets: return "1.3.6.1.2.1.31.1.1.1.10"
            case .ifHCOutUcastPkts: return "1.3.6.1.2.1.31.1.1.1.11"
            case .ifHCOutMulticastPkts: return "1.3.6.1.2.1.31.1.1.1.12"
            case .ifHCOutBroadcastPkts: return "1.3.6.1.2.1.31.1.1.1.13"
            case .ifHighSpeed: return "1.3.6.1.2.1.31.1.1.1.15"
            case .ifAlias: return "1.3.6.1.2.1.31.1.1.1.18"
            case .ifCounterDiscontinuityTime: return "1.3.6.1.2.1.31.1.1.1.19"
            }
        }

        /// The MIB object name (`ifHCInOctets`).
        public var name: String { "\(self)" }

        /// Counters (rates apply to these); the rest are gauges, enums, strings and time stamps.
        public var isCounter: Bool {
            switch self {
            case .ifInOctets, .ifInUcastPkts, .ifInNUcastPkts, .ifInDiscards, .ifInErrors,
                 .ifOutOctets, .ifOutUcastPkts, .ifOutNUcastPkts, .ifOutDiscards, .ifOutErrors,
                 .ifInMulticastPkts, .ifInBroadcastPkts, .ifOutMulticastPkts, .ifOutBroadcastPkts,
                 .ifHCInOctets, .ifHCInUcastPkts, .ifHCInMulticastPkts, .ifHCInBroadcastPkts,
                 .ifHCOutOctets, .ifHCOutUcastPkts, .ifHCOutMulticastPkts, .ifHCOutBroadcastPkts:
                return true
            default:
                return false
            }
        }

        /// ifXTable columns (absent on agents without IF-MIB's extension table, and on v1 the
        /// 64-bit ones).
        public var isExtension: Bool { rawValue >= Column.ifName.rawValue }

        /// Counter64 columns, which SNMPv1 cannot carry.
        public var is64Bit: Bool { rawValue >= Column.ifHCInOctets.rawValue && rawValue <= Column.ifHCOutBroadcastPkts.rawValue }
    }

    /// The 64-bit counters collectd's four interface types are made of.
    public static let hcCounters: [Column] = [.ifHCInOctets, .ifHCInUcastPkts, .ifHCInMulticastPkts, .ifHCInBroadcastPkts,
                                              .ifHCOutOctets, .ifHCOutUcastPkts, .ifHCOutMulticastPkts, .ifHCOutBroadcastPkts]
    /// Their 32-bit fallbacks from ifTable.
    public static let counters32: [Column] = [.ifInOctets, .ifInUcastPkts, .ifInNUcastPkts,
                                              .ifOutOctets, .ifOutUcastPkts, .ifOutNUcastPkts]
    /// Errors and discards exist only as 32-bit counters.
    public static let errorCounters: [Column] = [.ifInErrors, .ifOutErrors, .ifInDiscards, .ifOutDiscards]
    /// What naming needs beyond ifName (walked on refresh).
    public static let labels: [Column] = [.ifDescr, .ifAlias]
}

/// What an agent's interface tables offer, learnt from a full walk and used to ask only for
/// what it has afterwards.
public struct InterfaceCapabilities: Sendable, Equatable {
    /// ifXTable answers (ifName exists).
    public var hasExtensionTable: Bool
    /// The 64-bit counters exist for every interface that has 32-bit ones.
    public var hasCompleteHC: Bool
    /// Some 64-bit counters exist.
    public var hasHC: Bool

    public init(hasExtensionTable: Bool, hasCompleteHC: Bool, hasHC: Bool) {
        self.hasExtensionTable = hasExtensionTable
        self.hasCompleteHC = hasCompleteHC
        self.hasHC = hasHC
    }

    /// Learns from a walk that asked for every column (`InterfaceColumns.full`).
    public static func learn(from table: SNMPTable, columns: [IFMIB.Column]) -> InterfaceCapabilities {
        func position(_ c: IFMIB.Column) -> Int? { columns.firstIndex(of: c) }
        let hasName = position(.ifName).map { table.valueCount(column: $0) > 0 } ?? false
        var hasHC = false
        var complete = true
        if let hc = position(.ifHCInOctets) {
            let legacy = position(.ifInOctets)
            for row in 0..<table.rowCount {
                let has64 = table.value(row: row, column: hc)?.unsigned != nil
                if has64 { hasHC = true }
                if !has64, let legacy, table.value(row: row, column: legacy) != nil { complete = false }
            }
        } else {
            complete = false
        }
        return InterfaceCapabilities(hasExtensionTable: hasName, hasCompleteHC: hasHC && complete, hasHC: hasHC)
    }
}

/// Which interface columns a poll asks for.
public enum InterfaceColumns {
    /// Everything: the first poll of a device and every refresh (learns capabilities and
    /// names again).
    public static func full(version: SNMPVersion, rates: Bool) -> [IFMIB.Column] {
        IFMIB.Column.allCases.filter { column in
            if version == .v1 && column.is64Bit { return false }
            if column == .ifType { return false }
            if column == .ifCounterDiscontinuityTime && !rates { return false }
            return true
        }
    }

    /// What a routine poll needs, given what the agent has: the states and the counters
    /// collectd's interface types are made of (64-bit where complete, else 32-bit). Names and
    /// speeds come from the last full walk (refreshed periodically, after a restart, when the
    /// interface count changes or an unknown ifIndex shows up).
    public static func routine(version: SNMPVersion, capabilities: InterfaceCapabilities, rates: Bool) -> [IFMIB.Column] {
        var columns: [IFMIB.Column] = [.ifAdminStatus, .ifOperStatus]
        let use64 = version != .v1 && capabilities.hasHC
        if !use64 || !capabilities.hasCompleteHC {
            columns += IFMIB.counters32
        }
        if use64 { columns += IFMIB.hcCounters }
        columns += IFMIB.errorCounters
        if rates && capabilities.hasExtensionTable { columns.append(.ifCounterDiscontinuityTime) }
        return columns
    }
}
