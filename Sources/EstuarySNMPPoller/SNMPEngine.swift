import CLinuxEvents
import CNetSNMP
import EstuaryRuntime
import EstuarySNMP
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What the engine hands an input after a turn of its loop: finished polls, and the
/// devices it no longer polls (their state can go).
struct SNMPEngineDelivery: Sendable {
    var samples: [SNMPPollSample] = []
    var removed: [String] = []
}

/// The one thread that talks to libnetsnmp. It owns every session, schedules every device
/// on its own interval (phases spread over the interval), keeps at most `window` polls in
/// flight per input, waits on all sockets with epoll, retransmits and times out requests
/// with the library's single-session API, and hands finished polls to each input in
/// batches. Debian's libnetsnmp has no locks, so nothing else may call it.
///
/// Timing rules: a device's poll must finish within its interval; one that cannot (the
/// window was full too long, or the device is that slow) is ended at its next due time and
/// counted late, never stretched into the next cycle. A dead device costs only its own
/// timeout × (retries + 1).
final class SNMPEngine: @unchecked Sendable {  // engine state is confined to the engine thread
    struct GroupSettings: Sendable {
        var name: String
        var window: Int
        var metrics: SNMPPollerMetrics
        var deliver: @Sendable (SNMPEngineDelivery) -> Void
    }

    private enum Command {
        case setDevices(group: Int, devices: [SNMPDeviceSettings], immediate: Bool)
        case stop
    }

    private let logger: Logger
    private let commands = Mutex<[Command]>([])
    private var groups: [GroupState] = []
    private var epoll: Int32 = -1
    private var wakeFD: Int32 = -1
    private var thread: pthread_t?
    private var started = false

    // Engine-thread state.
    private var slots: [DeviceSlot?] = []
    private var freeSlots: [Int] = []
    private var slotByKey: [String: Int] = [:]
    private var timers = TimerHeap()
    private var fdSet: UnsafeMutablePointer<netsnmp_large_fd_set>?
    private var stopping = false
    private var nextToken: UInt64 = 1
    private var keys = KeyCache()
    private var errorText = [CChar](repeating: 0, count: 512)
    /// The response being read (reused: no allocation per response once grown).
    private var responseScratch = SNMPResponse()

    private static let wakeData: UInt64 = .max

    /// The library's last message in `errorText`.
    private var lastErrorText: String {
        String(decoding: errorText.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    init(logger: Logger) {
        self.logger = logger
    }

    /// Registers an input before `start`; returns its group number.
    func addGroup(_ settings: GroupSettings) -> Int {
        precondition(!started, "groups are added before the engine starts")
        groups.append(GroupState(settings: settings))
        return groups.count - 1
    }

    /// Starts the engine thread. Throws when the kernel refuses epoll or a thread.
    func start() throws(SNMPPollerError) {
        guard !started else { return }
        NetSNMPLibrary.initialize()
        _ = estuary_raise_open_files_limit()
        epoll = estuary_epoll_create()
        wakeFD = estuary_eventfd_create()
        guard epoll >= 0, wakeFD >= 0, estuary_epoll_add_readable(epoll, wakeFD, Self.wakeData) == 0 else {
            throw SNMPPollerError.system("cannot set up epoll: \(String(cString: strerror(errno)))")
        }
        fdSet = estuary_snmp_fd_set_create(1024)
        started = true
        let box = Unmanaged.passRetained(self)
        var handle = pthread_t()
        let result = pthread_create(&handle, nil, { raw in
            let engine = Unmanaged<SNMPEngine>.fromOpaque(raw!).takeRetainedValue()
            engine.run()
            return nil
        }, box.toOpaque())
        guard result == 0 else {
            box.release()
            started = false
            throw SNMPPollerError.system("cannot start the SNMP thread: \(String(cString: strerror(result)))")
        }
        thread = handle
    }

    /// Replaces a group's devices: unchanged devices keep their schedule and state; new ones
    /// are scheduled (at once when `immediate`, else at their phase in the interval).
    func setDevices(group: Int, _ devices: [SNMPDeviceSettings], immediate: Bool = false) {
        send(.setDevices(group: group, devices: devices, immediate: immediate))
    }

    /// Ends every poll in flight (nothing more is delivered) and stops the thread.
    func stop() {
        guard started else { return }
        send(.stop)
        if let thread { pthread_join(thread, nil) }
        thread = nil
        started = false
        close(epoll)
        close(wakeFD)
        estuary_snmp_fd_set_destroy(fdSet)
        fdSet = nil
    }

    private func send(_ command: Command) {
        commands.withLock { $0.append(command) }
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    // MARK: - The loop

    private func run() {
        estuary_set_thread_name("estuary-snmp")
        var ready = [UInt64](repeating: 0, count: 256)
        while !stopping {
            let now = MonotonicClock.now()
            fireTimers(now: now)
            deliver()
            let timeout: Int32
            if let next = timers.next {
                let wait = next > now ? (next - now + 999_999) / 1_000_000 : 0
                timeout = Int32(min(wait, 1000))
            } else {
                timeout = 1000
            }
            let count = ready.withUnsafeMutableBufferPointer { estuary_epoll_wait(epoll, $0.baseAddress, 256, timeout) }
            if count < 0 {
                if errno == EINTR { continue }
                logger.error("epoll_wait failed: the SNMP poller stops", metadata: ["error": "\(String(cString: strerror(errno)))"])
                break
            }
            for i in 0..<Int(count) {
                let data = ready[i]
                if data == Self.wakeData {
                    var value: UInt64 = 0
                    _ = read(wakeFD, &value, 8)
                    runCommands()
                } else {
                    readable(slot: Int(data & 0xFFFF_FFFF), generation: UInt32(data >> 32))
                }
            }
        }
        for index in slots.indices {
            if let slot = slots[index], slot.session != nil { closeSession(slot) }
        }
        slots.removeAll()
        timers.removeAll()
    }

    private func runCommands() {
        let pending = commands.withLock { list -> [Command] in
            let taken = list
            list.removeAll()
            return taken
        }
        for command in pending {
            switch command {
            case .stop:
                stopping = true
            case .setDevices(let group, let devices, let immediate):
                replaceDevices(group: group, devices: devices, immediate: immediate)
            }
        }
    }

    private func deliver() {
        for index in groups.indices where !groups[index].pending.samples.isEmpty || !groups[index].pending.removed.isEmpty {
            let delivery = groups[index].pending
            groups[index].pending = SNMPEngineDelivery()
            groups[index].settings.deliver(delivery)
        }
        for group in groups {
            group.settings.metrics.inFlight.set(group.inFlight)
            group.settings.metrics.waiting.set(group.waiting.count)
        }
    }

    // MARK: - Devices

    private func replaceDevices(group: Int, devices: [SNMPDeviceSettings], immediate: Bool) {
        let now = MonotonicClock.now()
        var wanted: [String: SNMPDeviceSettings] = [:]
        for device in devices { wanted["\(group)/\(device.target.agent)"] = device }
        for (key, index) in slotByKey where key.hasPrefix("\(group)/") {
            guard let slot = slots[index] else { continue }
            if let device = wanted[key], device == slot.settings { continue }
            removeSlot(index)
            groups[group].pending.removed.append(slot.settings.target.agent)
        }
        for (key, device) in wanted where slotByKey[key] == nil {
            let index = freeSlots.popLast() ?? { slots.append(nil); return slots.count - 1 }()
            nextToken &+= 1
            let slot = DeviceSlot(engine: self, settings: device, group: group, index: index,
                                  generation: keys.nextGeneration(), dueToken: nextToken)
            slots[index] = slot
            slotByKey[key] = index
            let interval = UInt64(device.interval * 1e9)
            let phase = immediate ? 0 : Self.phase(of: key, interval: interval)
            slot.nextDue = now + phase
            schedule(slot, .due, at: slot.nextDue)
        }
        groups[group].settings.metrics.devices.set(slotByKey.keys.count(where: { $0.hasPrefix("\(group)/") }))
    }

    private func removeSlot(_ index: Int) {
        guard let slot = slots[index] else { return }
        closeSession(slot)
        if slot.poll != nil {
            slot.poll = nil
            groups[slot.group].inFlight -= 1
        }
        groups[slot.group].waiting.removeAll { $0 == index }
        slot.dueToken = 0
        slot.pollToken = 0
        slots[index] = nil
        slotByKey["\(slot.group)/\(slot.settings.target.agent)"] = nil
        freeSlots.append(index)
    }

    /// Where in the interval a device is polled: the same for a device every run (a hash of
    /// its key), spread evenly over many devices.
    static func phase(of key: String, interval: UInt64) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return interval == 0 ? 0 : hash % interval
    }

    // MARK: - Timers

    private func schedule(_ slot: DeviceSlot, _ kind: TimerHeap.Kind, at: UInt64) {
        let token: UInt64
        switch kind {
        case .due:
            token = slot.dueToken
        case .requestTimeout:
            nextToken &+= 1
            slot.timerToken = nextToken
            token = nextToken
        case .deadline:
            token = slot.pollToken
        }
        timers.push(TimerHeap.Entry(at: at, kind: kind, slot: slot.index, token: token))
    }

    private func fireTimers(now: UInt64) {
        while let entry = timers.pop(dueAt: now) {
            guard entry.slot < slots.count, let slot = slots[entry.slot] else { continue }
            switch entry.kind {
            case .due:
                guard entry.token == slot.dueToken else { continue }
                due(slot, now: now)
            case .requestTimeout:
                guard entry.token == slot.timerToken, let session = slot.session else { continue }
                slot.timerToken = 0
                snmp_sess_timeout(session)
                if slot.step == nil, slot.session != nil {
                    // Retransmitted: wait again.
                    scheduleRequestTimeout(slot)
                }
                process(slot)
            case .deadline:
                guard entry.token == slot.pollToken, slot.poll != nil else { continue }
                slot.poll?.abort("the poll did not finish within its interval")
                slot.late = true
                finishPoll(slot)
            }
        }
    }

    private func due(_ slot: DeviceSlot, now: UInt64) {
        let group = slot.group
        let interval = UInt64(slot.settings.interval * 1e9)
        let dueAt = slot.nextDue
        // Next due time: one interval on, skipping any cycle already past.
        slot.nextDue = dueAt + interval
        while slot.nextDue <= now { slot.nextDue += interval }
        schedule(slot, .due, at: slot.nextDue)
        if slot.poll != nil || slot.isWaiting {
            // The previous cycle is still running or waiting for the window: this one is lost.
            groups[group].settings.metrics.skipped.add()
            groups[group].settings.metrics.late.add()
            return
        }
        slot.scheduledAt = dueAt
        if groups[group].inFlight < groups[group].settings.window {
            startPoll(slot, now: now)
        } else {
            slot.isWaiting = true
            groups[group].waiting.append(slot.index)
        }
    }

    /// Starts polls waiting for the window while it has room.
    private func fillWindow(group: Int) {
        while groups[group].inFlight < groups[group].settings.window, !groups[group].waiting.isEmpty {
            let index = groups[group].waiting.removeFirst()
            guard let slot = slots[index], slot.isWaiting else { continue }
            slot.isWaiting = false
            let now = MonotonicClock.now()
            let interval = UInt64(slot.settings.interval * 1e9)
            if now >= slot.scheduledAt + interval {
                groups[group].settings.metrics.skipped.add()
                groups[group].settings.metrics.late.add()
                continue
            }
            startPoll(slot, now: now)
        }
    }

    // MARK: - Polls

    private func startPoll(_ slot: DeviceSlot, now: UInt64) {
        let group = slot.group
        let settings = slot.settings
        slot.startedAt = now
        slot.startedWall = WallClock.now()
        slot.firstAnswerAt = nil
        slot.firstAnswerWall = nil
        slot.late = false
        slot.step = nil
        let plan = planPoll(slot, now: now)
        slot.poll = DevicePoll(plan: plan)
        nextToken &+= 1
        slot.pollToken = nextToken
        let interval = UInt64(settings.interval * 1e9)
        schedule(slot, .deadline, at: slot.scheduledAt + interval)
        groups[group].inFlight += 1
        groups[group].settings.metrics.polls.add()

        guard openSession(slot) else {
            finishPoll(slot)
            return
        }
        if settings.credentials.version == .v3 && slot.engineID.isEmpty {
            slot.discovering = true
            guard let session = slot.session, estuary_snmp_send_discovery(session) != 0 else {
                slot.step = .action(slot.poll!.failed("cannot send the SNMPv3 discovery request"))
                process(slot)
                return
            }
            scheduleRequestTimeout(slot)
            return
        }
        slot.step = .action(slot.poll!.start())
        process(slot)
    }

    private func planPoll(_ slot: DeviceSlot, now: UInt64) -> DevicePollPlan {
        let settings = slot.settings
        let version = settings.credentials.version
        let refreshDue = slot.capabilities == nil || slot.needsRefresh
            || now &- slot.lastRefresh >= UInt64(settings.indexRefresh * 1e9)
        let full = InterfaceColumns.full(version: version, rates: settings.rates)
        let columns: [IFMIB.Column]
        slot.plannedFull = refreshDue
        if refreshDue || slot.capabilities == nil {
            columns = full
        } else {
            columns = InterfaceColumns.routine(version: version, capabilities: slot.capabilities!, rates: settings.rates)
        }
        let trigger = RefreshTrigger(sysUpTimeScalar: IFMIB.sysUpTimeScalar, previousSysUpTime: slot.lastSysUpTime,
                                     ifNumberScalar: IFMIB.ifNumberScalar, previousIfNumber: slot.lastIfNumber)
        return DevicePollPlan(version: version, scalars: IFMIB.scalars, columns: columns.map(\.oid),
                              refreshColumns: full.map(\.oid), refreshTrigger: trigger,
                              gets: settings.scalars.flatMap(\.instances), extraColumns: settings.tables.flatMap(\.columns),
                              maxRepetitions: slot.maxRepetitions ?? settings.maxRepetitions,
                              maxColumnsPerRequest: slot.maxColumns, maxRequests: 2000, deviceAnswered: slot.answeredLast,
                              knownIndexes: refreshDue ? nil : slot.knownIndexes,
                              retrySmallerWhenSilent: !slot.silentRetryFailed)
    }

    private func openSession(_ slot: DeviceSlot) -> Bool {
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

    private func closeSession(_ slot: DeviceSlot) {
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

    private func readable(slot index: Int, generation: UInt32) {
        guard index < slots.count, let slot = slots[index], slot.generation == generation,
              let session = slot.session, let fdSet else { return }
        _ = estuary_snmp_read(session, slot.socket, fdSet)
        process(slot)
    }

    private func scheduleRequestTimeout(_ slot: DeviceSlot) {
        guard let session = slot.session, let fdSet else { return }
        let micros = estuary_snmp_next_timeout_us(session, fdSet)
        guard micros >= 0 else {
            slot.timerToken = 0
            return
        }
        schedule(slot, .requestTimeout, at: MonotonicClock.now() + UInt64(micros) * 1000 + 1_000_000)
    }

    /// Carries out what the last callback decided: the next request, or the end.
    private func process(_ slot: DeviceSlot) {
        while let step = slot.step {
            slot.step = nil
            switch step {
            case .discovered:
                slot.discovering = false
                if let session = slot.session, estuary_snmp_discovered(session) != 0 {
                    slot.step = .action(slot.poll!.failed("SNMPv3: the agent's engine ID could not be learnt"))
                } else {
                    slot.step = .action(slot.poll!.start())
                }
            case .action(.send(let request)):
                sendRequest(slot, request)
            case .action(.finished):
                finishPoll(slot)
            }
        }
    }

    private func sendRequest(_ slot: DeviceSlot, _ request: SNMPRequest) {
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

    private func finishPoll(_ slot: DeviceSlot) {
        guard var poll = slot.poll else { return }
        let group = slot.group
        if slot.session != nil {
            if slot.settings.credentials.version == .v3, slot.engineID.isEmpty, let session = slot.session {
                var buffer = [UInt8](repeating: 0, count: 64)
                let count = buffer.withUnsafeMutableBufferPointer { estuary_snmp_engine_id(session, $0.baseAddress, 64) }
                slot.engineID = Array(buffer.prefix(count))
            }
            closeSession(slot)
        }
        if poll.outcome == nil { poll.abort("ended") }
        slot.poll = nil
        slot.pollToken = 0
        groups[group].inFlight -= 1
        learn(slot, from: poll)

        let now = MonotonicClock.now()
        let metrics = groups[group].settings.metrics
        metrics.varbinds.add(poll.varbinds)
        metrics.reductions.add(poll.reductions)
        switch poll.outcome {
        case .complete?: metrics.pollsComplete.add()
        case .timeout?: metrics.pollsTimeout.add()
        default: metrics.pollsFailed.add()
        }
        if slot.late { metrics.late.add() }
        let sample = SNMPPollSample(device: slot.settings.identity, poll: poll, tables: slot.settings.tables,
                                    scalars: slot.settings.scalars,
                                    timestamp: slot.firstAnswerWall ?? slot.startedWall,
                                    monotonic: slot.firstAnswerAt ?? slot.startedAt,
                                    duration: Double(now - slot.startedAt) / 1e9,
                                    startDelay: Double(slot.startedAt &- slot.scheduledAt) / 1e9, late: slot.late)
        groups[group].pending.samples.append(sample)
        fillWindow(group: group)
    }

    /// Remembers what this poll taught about the device for the next plan.
    private func learn(_ slot: DeviceSlot, from poll: DevicePoll) {
        // What the device takes is learnt from polls that completed (a dead device's
        // smaller retry says nothing about it).
        if poll.outcome == .complete {
            slot.maxRepetitions = poll.maxRepetitions
            slot.maxColumns = poll.maxColumnsPerRequest
        }
        slot.answeredLast = poll.answered
        if poll.answered {
            slot.silentRetryFailed = false
        } else if poll.plan.retrySmallerWhenSilent && poll.reductions > 0 {
            slot.silentRetryFailed = true
        }
        if poll.scalars.indices.contains(IFMIB.sysUpTimeScalar), case .timeTicks(let t)? = poll.scalars[IFMIB.sysUpTimeScalar] {
            slot.lastSysUpTime = t
        }
        if poll.scalars.indices.contains(IFMIB.ifNumberScalar), case .integer(let n)? = poll.scalars[IFMIB.ifNumberScalar] {
            slot.lastIfNumber = n
        }
        guard poll.main.isFinished, poll.outcome != .timeout else { return }
        let table = poll.main.table
        let walkedFull = poll.refreshed || slot.plannedFull
        guard walkedFull else { return }
        let columns = table.columns.compactMap { InterfaceRowsLookup.column(for: $0) }
        var indexes = Set<UInt>()
        for index in table.indexes where index.count == 1 { indexes.insert(index[0]) }
        slot.capabilities = InterfaceCapabilities.learn(from: table, columns: columns)
        slot.knownIndexes = indexes
        slot.lastRefresh = MonotonicClock.now()
        slot.needsRefresh = false
    }

    // MARK: - Callback

    /// Called by libnetsnmp inside `snmp_sess_read2` and `snmp_sess_timeout`.
    fileprivate func callback(_ slot: DeviceSlot, operation: Int32, pdu: UnsafeMutablePointer<netsnmp_pdu>?) {
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
            NetSNMPResponse(pdu: pdu).copy(into: &responseScratch)
            slot.step = .action(slot.poll!.receive(responseScratch))
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
            slot.firstAnswerAt = MonotonicClock.now()
            slot.firstAnswerWall = WallClock.now()
        }
    }

    // MARK: - Types

    private struct GroupState {
        var settings: GroupSettings
        var inFlight = 0
        var waiting: [Int] = []
        var pending = SNMPEngineDelivery()
    }

    private struct KeyCache {
        var generation: UInt32 = 0
        mutating func nextGeneration() -> UInt32 {
            generation &+= 1
            return generation
        }
    }
}

/// One device as the engine keeps it.
final class DeviceSlot {
    enum Step {
        case action(DevicePollAction)
        case discovered
    }

    unowned(unsafe) let engine: SNMPEngine
    let settings: SNMPDeviceSettings
    let group: Int
    let index: Int
    let generation: UInt32
    var nextDue: UInt64 = 0
    var scheduledAt: UInt64 = 0
    /// Tokens of the slot's timers; unique over all slots, so a reused slot index never
    /// takes a timer of the device it replaced.
    var dueToken: UInt64
    var timerToken: UInt64 = 0
    var pollToken: UInt64 = 0
    var isWaiting = false
    // The poll in flight.
    var poll: DevicePoll?
    var step: Step?
    var session: UnsafeMutableRawPointer?
    var socket: Int32 = -1
    var discovering = false
    var startedAt: UInt64 = 0
    var startedWall: Int64 = 0
    var firstAnswerAt: UInt64?
    var firstAnswerWall: Int64?
    var late = false
    // What earlier polls taught.
    var capabilities: InterfaceCapabilities?
    var knownIndexes: Set<UInt> = []
    var lastRefresh: UInt64 = 0
    var needsRefresh = false
    /// The poll in flight walks every column (a refresh).
    var plannedFull = false
    var maxRepetitions: Int?
    var maxColumns = 64
    var answeredLast = false
    /// The smaller retry of a silent device did not get an answer either: it is dead until
    /// it answers again, and costs one timeout per poll.
    var silentRetryFailed = false
    var engineID: [UInt8] = []
    var lastSysUpTime: UInt32?
    var lastIfNumber: Int64?

    init(engine: SNMPEngine, settings: SNMPDeviceSettings, group: Int, index: Int, generation: UInt32, dueToken: UInt64) {
        self.engine = engine
        self.dueToken = dueToken
        self.settings = settings
        self.group = group
        self.index = index
        self.generation = generation
    }
}

/// libnetsnmp's callback: finds the device through `callback_magic` and hands over.
private let snmpCallback: netsnmp_callback = { operation, _, _, pdu, magic in
    guard let magic else { return 1 }
    let slot = Unmanaged<DeviceSlot>.fromOpaque(magic).takeUnretainedValue()
    slot.engine.callback(slot, operation: operation, pdu: pdu)
    return 1
}

/// Maps interface column OIDs back to columns.
enum InterfaceRowsLookup {
    static let byOID: [SNMPObjectIdentifier: IFMIB.Column] = {
        var map: [SNMPObjectIdentifier: IFMIB.Column] = [:]
        for column in IFMIB.Column.allCases { map[column.oid] = column }
        return map
    }()

    static func column(for oid: SNMPObjectIdentifier) -> IFMIB.Column? { byOID[oid] }
}

/// Why the poller could not start.
public enum SNMPPollerError: Error, Sendable, CustomStringConvertible {
    case system(String)

    public var description: String {
        switch self {
        case .system(let why): return why
        }
    }
}
