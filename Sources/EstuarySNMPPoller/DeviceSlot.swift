import EstuarySNMP

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
