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
/// Every schedule decision (which device is due, which poll is past its interval, which request
/// to hand to the library's timeout handling) is made by `clock`; epoll still sleeps in real
/// time, and libnetsnmp keeps its own retransmission times.
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

    enum Command {
        case setDevices(group: Int, devices: [SNMPDeviceSettings], immediate: Bool)
        case stop
    }

    private let logger: Logger
    let clock: any Clock
    private let commands = Mutex<[Command]>([])
    var groups: [GroupState] = []
    var epoll: Int32 = -1
    private var wakeFD: Int32 = -1
    private var thread: pthread_t?
    private var started = false

    // Engine-thread state.
    var slots: [DeviceSlot?] = []
    private var freeSlots: [Int] = []
    private var slotByKey: [String: Int] = [:]
    var timers = TimerHeap()
    var fdSet: UnsafeMutablePointer<netsnmp_large_fd_set>?
    private var stopping = false
    var nextToken: UInt64 = 1
    var keys = KeyCache()
    var errorText = [CChar](repeating: 0, count: 512)

    private static let wakeData: UInt64 = .max

    /// The library's last message in `errorText`.
    var lastErrorText: String {
        String(decoding: errorText.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    init(logger: Logger, clock: any Clock = SystemClock()) {
        self.logger = logger
        self.clock = clock
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

    func send(_ command: Command) {
        commands.withLock { $0.append(command) }
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    // MARK: - The loop

    private func run() {
        estuary_set_thread_name("estuary-snmp")
        var ready = [UInt64](repeating: 0, count: 256)
        while !stopping {
            let now = clock.monotonicNow()
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

    /// What `setDevices` does on the engine thread (tests without the thread call it directly).
    func replaceDevices(group: Int, devices: [SNMPDeviceSettings], immediate: Bool) {
        let now = clock.monotonicNow()
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

    func schedule(_ slot: DeviceSlot, _ kind: TimerHeap.Kind, at: UInt64) {
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

    /// Fires the timers due by the clock now: the loop does it every turn; tests without the
    /// thread call it after moving the clock.
    func fireDueTimers() {
        fireTimers(now: clock.monotonicNow())
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

    func due(_ slot: DeviceSlot, now: UInt64) {
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
    func fillWindow(group: Int) {
        while groups[group].inFlight < groups[group].settings.window, !groups[group].waiting.isEmpty {
            let index = groups[group].waiting.removeFirst()
            guard let slot = slots[index], slot.isWaiting else { continue }
            slot.isWaiting = false
            let now = clock.monotonicNow()
            let interval = UInt64(slot.settings.interval * 1e9)
            if now >= slot.scheduledAt + interval {
                groups[group].settings.metrics.skipped.add()
                groups[group].settings.metrics.late.add()
                continue
            }
            startPoll(slot, now: now)
        }
    }

    // MARK: - Types

    struct GroupState {
        var settings: GroupSettings
        var inFlight = 0
        var waiting: [Int] = []
        var pending = SNMPEngineDelivery()
    }

    struct KeyCache {
        var generation: UInt32 = 0
        mutating func nextGeneration() -> UInt32 {
            generation &+= 1
            return generation
        }
    }
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
