import CLinuxEvents
import CNetSNMP
import EstuaryRuntime
import EstuarySNMP
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The engine's libnetsnmp sessions: opening one per poll (with SNMPv3 discovery and keys),
/// sending each request, the library's callback with the answer, timeouts, closing.
extension SNMPEngine {
    func openSession(_ slot: DeviceSlot) -> Bool {
        let settings = slot.settings
        let credentials = settings.credentials
        let keys = credentials.version == .v3 ? NetSNMPLibrary.keys(for: credentials) : nil
        if credentials.version == .v3, keys == nil {
            slot.step = .action(slot.poll!.failed("cannot derive the SNMPv3 keys from the passwords"))
            return false
        }
        let magic = Unmanaged.passUnretained(slot).toOpaque()
        let handle: UnsafeMutableRawPointer? = settings.target.peerName.withCString { peer in
            credentials.community.withCString { community in
                credentials.username.withCString { user in
                    credentials.contextName.withCString { context in
                        let authKey = keys?.auth ?? []
                        let privKey = keys?.priv ?? []
                        return authKey.withUnsafeBufferPointer { auth in
                            privKey.withUnsafeBufferPointer { priv in
                                slot.engineID.withUnsafeBufferPointer { engine in
                                    var parameters = estuary_snmp_session_parameters()
                                    parameters.peername = peer
                                    parameters.version = NetSNMPLibrary.versionCode(credentials.version)
                                    parameters.community = UnsafeRawPointer(community).assumingMemoryBound(to: UInt8.self)
                                    parameters.community_length = credentials.community.utf8.count
                                    parameters.retries = Int32(settings.retries)
                                    parameters.timeout_us = Int(settings.timeout * 1e6)
                                    parameters.security_name = user
                                    parameters.security_level = NetSNMPLibrary.levelCode(credentials.securityLevel)
                                    if credentials.securityLevel != .noAuthNoPriv {
                                        parameters.auth_proto = NetSNMPLibrary.authCode(credentials.authProtocol)
                                        parameters.auth_key = auth.baseAddress
                                        parameters.auth_key_length = auth.count
                                    }
                                    if credentials.securityLevel == .authPriv {
                                        parameters.priv_proto = NetSNMPLibrary.privCode(credentials.privProtocol)
                                        parameters.priv_key = priv.baseAddress
                                        parameters.priv_key_length = priv.count
                                    }
                                    parameters.engine_id = engine.baseAddress
                                    parameters.engine_id_length = engine.count
                                    parameters.context_name = credentials.contextName.isEmpty ? nil : context
                                    return errorText.withUnsafeMutableBufferPointer { text in
                                        estuary_snmp_open(&parameters, snmpCallback, magic, text.baseAddress, text.count)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        guard let handle else {
            let why = lastErrorText
            slot.step = .action(slot.poll!.failed("cannot open a session to \(settings.target.peerName): \(why)"))
            return false
        }
        let socket = estuary_snmp_socket(handle)
        let data = UInt64(slot.generation) << 32 | UInt64(slot.index)
        guard socket >= 0, estuary_epoll_add_readable(epoll, socket, data) == 0 else {
            snmp_sess_close(handle)
            slot.step = .action(slot.poll!.failed("cannot watch the session's socket: \(String(cString: strerror(errno)))"))
            return false
        }
        slot.session = handle
        slot.socket = socket
        return true
    }

    func closeSession(_ slot: DeviceSlot) {
        guard let session = slot.session else { return }
        if slot.socket >= 0 { _ = estuary_epoll_remove(epoll, slot.socket) }
        // Closing calls back (TIMED_OUT) for a request still outstanding: with the session
        // already gone from the slot, the callback ignores it.
        slot.session = nil
        snmp_sess_close(session)
        slot.step = nil
        slot.socket = -1
        slot.timerToken = 0
    }

    func readable(slot index: Int, generation: UInt32) {
        guard index < slots.count, let slot = slots[index], slot.generation == generation,
              let session = slot.session, let fdSet else { return }
        _ = estuary_snmp_read(session, slot.socket, fdSet)
        process(slot)
    }

    func scheduleRequestTimeout(_ slot: DeviceSlot) {
        guard let session = slot.session, let fdSet else { return }
        let micros = estuary_snmp_next_timeout_us(session, fdSet)
        guard micros >= 0 else {
            slot.timerToken = 0
            return
        }
        schedule(slot, .requestTimeout, at: clock.monotonicNow() + UInt64(micros) * 1000 + 1_000_000)
    }

    func sendRequest(_ slot: DeviceSlot, _ request: SNMPRequest) {
        guard let session = slot.session else {
            slot.step = .action(slot.poll!.failed("no session"))
            return
        }
        var flat: [UInt] = []
        var lengths: [Int] = []
        flat.reserveCapacity(request.names.count * 12)
        for name in request.names {
            flat += name.components
            lengths.append(name.components.count)
        }
        let command: Int32
        var nonRepeaters = 0
        var repetitions = 0
        switch request.kind {
        case .get: command = estuary_SNMP_MSG_GET
        case .getNext: command = estuary_SNMP_MSG_GETNEXT
        case .getBulk(let n, let r):
            command = estuary_SNMP_MSG_GETBULK
            nonRepeaters = n
            repetitions = r
        }
        let requestID = flat.withUnsafeBufferPointer { oids in
            lengths.withUnsafeBufferPointer { lens in
                errorText.withUnsafeMutableBufferPointer { text in
                    estuary_snmp_send(session, command, oids.baseAddress, lens.baseAddress, Int32(lengths.count),
                                      nonRepeaters, repetitions, text.baseAddress, text.count)
                }
            }
        }
        guard requestID != 0 else {
            slot.step = .action(slot.poll!.failed("cannot send the request: \(lastErrorText)"))
            return
        }
        groups[slot.group].settings.metrics.requests.add()
        scheduleRequestTimeout(slot)
    }

    /// Called by libnetsnmp inside `snmp_sess_read2` and `snmp_sess_timeout`.
    func callback(_ slot: DeviceSlot, operation: Int32, pdu: UnsafeMutablePointer<netsnmp_pdu>?) {
        guard slot.poll != nil, slot.session != nil else { return }
        switch operation {
        case NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE:
            guard let pdu else { return }
            if pdu.pointee.command == estuary_SNMP_MSG_REPORT {
                // Reports come again as SEC_ERROR unless the library handles them (resends).
                return
            }
            noteAnswer(slot)
            if slot.discovering {
                slot.step = .discovered
                return
            }
            slot.step = .action(slot.poll!.receive(NetSNMPResponse(pdu: pdu)))
        case NETSNMP_CALLBACK_OP_TIMED_OUT:
            slot.step = .action(slot.poll!.timedOut())
        case NETSNMP_CALLBACK_OP_SEND_FAILED:
            slot.step = .action(slot.poll!.failed("the request could not be sent"))
        case NETSNMP_CALLBACK_OP_SEC_ERROR:
            noteAnswer(slot)
            slot.poll!.markAnswered()
            if slot.discovering, let pdu, pdu.pointee.securityEngineIDLen > 0, let id = pdu.pointee.securityEngineID {
                slot.engineID = Array(UnsafeBufferPointer(start: id, count: pdu.pointee.securityEngineIDLen))
                slot.step = .discovered
                return
            }
            let reason = pdu.map { NetSNMPResponse(pdu: $0).reportReason() } ?? "security error"
            slot.step = .action(slot.poll!.failed("SNMPv3: \(reason)"))
        default:
            break  // RESEND and the rest: nothing to do
        }
    }

    private func noteAnswer(_ slot: DeviceSlot) {
        if slot.firstAnswerAt == nil {
            slot.firstAnswerAt = clock.monotonicNow()
            slot.firstAnswerWall = clock.wallNow()
        }
    }
}

/// libnetsnmp's callback: finds the device through `callback_magic` and hands over.
private let snmpCallback: netsnmp_callback = { operation, _, _, pdu, magic in
    guard let magic else { return 1 }
    let slot = Unmanaged<DeviceSlot>.fromOpaque(magic).takeUnretainedValue()
    slot.engine.callback(slot, operation: operation, pdu: pdu)
    return 1
}
