import CNetSNMP
import EstuarySNMP

/// A libnetsnmp response PDU, read in place by the poll state machines (valid only during
/// the library's callback, which frees the PDU afterwards).
struct NetSNMPResponse: SNMPResponseReading {
    let pdu: UnsafeMutablePointer<netsnmp_pdu>

    var errorStatus: Int { Int(estuary_pdu_error_status(pdu)) }
    var errorIndex: Int { Int(estuary_pdu_error_index(pdu)) }

    var varbindCount: Int {
        var count = 0
        var cursor = pdu.pointee.variables
        while let variable = cursor {
            count += 1
            cursor = variable.pointee.next_variable
        }
        return count
    }

    func forEachVarBind(_ body: (UnsafeBufferPointer<UInt>, SNMPValue) -> Void) {
        var cursor = pdu.pointee.variables
        while let variable = cursor {
            let name = UnsafeBufferPointer(start: variable.pointee.name, count: variable.pointee.name_length)
            body(name, Self.value(variable))
            cursor = variable.pointee.next_variable
        }
    }

    /// The binding's value in Estuary's types.
    static func value(_ variable: UnsafeMutablePointer<netsnmp_variable_list>) -> SNMPValue {
        let v = variable.pointee
        switch v.type {
        case SNMPValue.Tag.integer:
            guard let p = v.val.integer else { return .null }
            return .integer(Int64(p.pointee))
        case SNMPValue.Tag.octetString:
            return .octets(bytes(v))
        case SNMPValue.Tag.opaque:
            return .opaque(bytes(v))
        case SNMPValue.Tag.null:
            return .null
        case SNMPValue.Tag.objectIdentifier:
            guard let p = v.val.objid else { return .null }
            let count = v.val_len / MemoryLayout<oid>.stride
            return .objectIdentifier(Array(UnsafeBufferPointer(start: p, count: count)))
        case SNMPValue.Tag.ipAddress:
            let b = bytes(v)
            guard b.count == 4 else { return .octets(b) }
            return .ipAddress(UInt32(b[0]) << 24 | UInt32(b[1]) << 16 | UInt32(b[2]) << 8 | UInt32(b[3]))
        case SNMPValue.Tag.counter32:
            guard let p = v.val.integer else { return .null }
            return .counter32(UInt32(truncatingIfNeeded: p.pointee))
        case SNMPValue.Tag.gauge32, 0x47:  // Gauge32/Unsigned32, and the obsolete UInteger32
            guard let p = v.val.integer else { return .null }
            return .gauge32(UInt32(truncatingIfNeeded: p.pointee))
        case SNMPValue.Tag.timeTicks:
            guard let p = v.val.integer else { return .null }
            return .timeTicks(UInt32(truncatingIfNeeded: p.pointee))
        case SNMPValue.Tag.counter64:
            guard let p = v.val.counter64 else { return .null }
            return .counter64(UInt64(p.pointee.high & 0xFFFF_FFFF) << 32 | UInt64(p.pointee.low & 0xFFFF_FFFF))
        case SNMPValue.Tag.noSuchObject:
            return .noSuchObject
        case SNMPValue.Tag.noSuchInstance:
            return .noSuchInstance
        case SNMPValue.Tag.endOfMibView:
            return .endOfMibView
        default:
            return .opaque(bytes(v))
        }
    }

    private static func bytes(_ v: netsnmp_variable_list) -> [UInt8] {
        guard let p = v.val.string, v.val_len > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: p, count: min(v.val_len, 65535)))
    }

    /// The USM statistic a report names (why an SNMPv3 request was refused).
    func reportReason() -> String {
        var reason = "the agent sent a report"
        forEachVarBind { name, _ in
            // usmStats: 1.3.6.1.6.3.15.1.1.N.0
            let usmStats: [UInt] = [1, 3, 6, 1, 6, 3, 15, 1, 1]
            guard name.count >= 10, Array(name.prefix(9)) == usmStats else { return }
            switch name[9] {
            case 1: reason = "unsupported security level (usmStatsUnsupportedSecLevels)"
            case 2: reason = "not in time window (usmStatsNotInTimeWindows)"
            case 3: reason = "unknown user name (usmStatsUnknownUserNames)"
            case 4: reason = "unknown engine ID (usmStatsUnknownEngineIDs)"
            case 5: reason = "wrong authentication digest: wrong auth password or protocol (usmStatsWrongDigests)"
            case 6: reason = "decryption error: wrong privacy password or protocol (usmStatsDecryptionErrors)"
            default: break
            }
        }
        return reason
    }
}
