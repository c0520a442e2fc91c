/// What one poll of a device asks for and how.
public struct DevicePollPlan: Sendable {
    public var version: SNMPVersion
    /// Scalar instances (`….0`), fetched in the first request by GETNEXT on their parents
    /// (GETBULK non-repeaters on v2c/v3), so they cost no extra round trip.
    public var scalars: [SNMPObjectIdentifier]
    /// The columns of the main walk (the interface tables).
    public var columns: [SNMPObjectIdentifier]
    /// Columns added to the main walk when `refreshTrigger` fires (index columns after a reboot).
    public var refreshColumns: [SNMPObjectIdentifier]
    public var refreshTrigger: RefreshTrigger?
    /// Instances fetched by GET after the main walk (configured scalars).
    public var gets: [SNMPObjectIdentifier]
    /// Columns of a second walk (configured tables).
    public var extraColumns: [SNMPObjectIdentifier]
    /// GETBULK max-repetitions to start with (what this device was last seen to take).
    public var maxRepetitions: Int
    /// Columns per request to start with.
    public var maxColumnsPerRequest: Int
    /// A walk that needs more requests than this is a looping agent: the poll fails.
    public var maxRequests: Int
    /// The device answered its last poll: a timeout of a large GETBULK is then more likely
    /// the size than the device, and is retried smaller.
    public var deviceAnswered: Bool
    /// The row indexes the last refresh saw; a row outside them walks the refresh columns
    /// in the same poll. Nil: no check.
    public var knownIndexes: Set<UInt>?
    /// A device that has not answered gets one more try with a quarter of the
    /// repetitions (it may drop large GETBULKs from the start). The poller turns this off
    /// once that try failed, so a dead device costs one timeout per poll, not two.
    public var retrySmallerWhenSilent: Bool

    public init(version: SNMPVersion, scalars: [SNMPObjectIdentifier] = [], columns: [SNMPObjectIdentifier] = [],
                refreshColumns: [SNMPObjectIdentifier] = [], refreshTrigger: RefreshTrigger? = nil,
                gets: [SNMPObjectIdentifier] = [], extraColumns: [SNMPObjectIdentifier] = [], maxRepetitions: Int = 10,
                maxColumnsPerRequest: Int = 64, maxRequests: Int = 1000, deviceAnswered: Bool = false,
                knownIndexes: Set<UInt>? = nil, retrySmallerWhenSilent: Bool = true) {
        self.knownIndexes = knownIndexes
        self.retrySmallerWhenSilent = retrySmallerWhenSilent
        self.version = version
        self.scalars = scalars
        self.columns = columns
        self.refreshColumns = refreshColumns
        self.refreshTrigger = refreshTrigger
        self.gets = gets
        self.extraColumns = extraColumns
        self.maxRepetitions = maxRepetitions
        self.maxColumnsPerRequest = maxColumnsPerRequest
        self.maxRequests = maxRequests
        self.deviceAnswered = deviceAnswered
    }
}

/// When to walk the refresh columns in the same poll: the agent restarted (sysUpTime went
/// back) or its number of interfaces changed since the last poll.
public struct RefreshTrigger: Sendable {
    public var sysUpTimeScalar: Int
    public var previousSysUpTime: UInt32?
    public var ifNumberScalar: Int
    public var previousIfNumber: Int64?

    public init(sysUpTimeScalar: Int, previousSysUpTime: UInt32?, ifNumberScalar: Int, previousIfNumber: Int64?) {
        self.sysUpTimeScalar = sysUpTimeScalar
        self.previousSysUpTime = previousSysUpTime
        self.ifNumberScalar = ifNumberScalar
        self.previousIfNumber = previousIfNumber
    }
}

/// How a poll ended.
public enum DevicePollOutcome: Sendable, Equatable {
    /// Every walk and GET finished.
    case complete
    /// The device stopped answering (after the session's retries).
    case timeout
    /// The agent answered with an error, looped, or the request could not be sent.
    case failed(String)
}

/// The next step of a poll.
public enum DevicePollAction: Sendable, Equatable {
    case send(SNMPRequest)
    case finished
}

/// One poll of one device as a state machine, free of I/O: it says which request to send
/// next and takes the answers (or a timeout), until it is finished. The first request
/// carries the scalars and the start of the main walk; the walk goes on until every column
/// ended; then the configured GETs and the second walk. It adapts to the agent: a tooBig
/// answer halves max-repetitions (then the columns per request), a timed-out GETBULK from a
/// device known to answer is retried with half the repetitions (devices that silently drop
/// large responses), v1's noSuchName ends a column or drops a scalar.
public struct DevicePoll: Sendable {
    public let plan: DevicePollPlan
    /// The scalars' values, in plan order (nil when missing).
    public private(set) var scalars: [SNMPValue?]
    public private(set) var main: TableWalk
    public private(set) var gets: [SNMPValue?]
    public private(set) var extra: TableWalk
    public private(set) var outcome: DevicePollOutcome?
    /// The refresh columns were added to the main walk.
    public private(set) var refreshed = false
    /// Max-repetitions and columns per request as the poll ended (what the device takes).
    public private(set) var maxRepetitions: Int
    public private(set) var maxColumnsPerRequest: Int
    public private(set) var requests = 0
    public private(set) var responses = 0
    /// Variable bindings received.
    public private(set) var varbinds = 0
    /// Requests retried smaller after a timeout or tooBig.
    public private(set) var reductions = 0
    /// The device answered at least once during this poll.
    public private(set) var answered = false

    private enum Phase { case main, gets, extra, done }
    private var phase: Phase = .main
    private var scalarsPending: [Int]
    private var getsPending: [Int]
    /// Scalars at the front of the request in flight.
    private var scalarsInFlight: [Int] = []
    private var lastRequest: SNMPRequest?
    private var timeoutRetries = 0

    public init(plan: DevicePollPlan) {
        self.plan = plan
        scalars = Array(repeating: nil, count: plan.scalars.count)
        main = TableWalk(columns: plan.columns, expectedRows: plan.knownIndexes?.count ?? 0)
        gets = Array(repeating: nil, count: plan.gets.count)
        extra = TableWalk(columns: plan.extraColumns)
        scalarsPending = Array(plan.scalars.indices)
        getsPending = Array(plan.gets.indices)
        maxRepetitions = max(1, plan.maxRepetitions)
        maxColumnsPerRequest = max(1, plan.maxColumnsPerRequest)
    }

    public var isFinished: Bool { outcome != nil }

    /// The first request.
    public mutating func start() -> DevicePollAction {
        advance()
    }

    /// Takes the answer to the last request.
    public mutating func receive<Response: SNMPResponseReading>(_ response: Response) -> DevicePollAction {
        guard outcome == nil, lastRequest != nil else { return .finished }
        responses += 1
        answered = true
        varbinds += response.varbindCount
        let status = response.errorStatus
        if status == SNMPErrorStatus.tooBig { return shrink(reason: "tooBig") }
        if status == SNMPErrorStatus.noSuchName && plan.version == .v1 { return dropNoSuchName(response.errorIndex) }
        if status != SNMPErrorStatus.noError {
            return finish(.failed("agent answered \(SNMPErrorStatus.name(status)) (index \(response.errorIndex))"))
        }
        switch phase {
        case .main:
            let skip = takeScalars(response)
            let moved = main.absorb(response, skip: skip)
            if !moved && !main.isFinished { return finish(.failed("the agent's answer did not continue the walk")) }
            checkRefresh()
        case .gets:
            takeGets(response)
        case .extra:
            let moved = extra.absorb(response, skip: 0)
            if !moved && !extra.isFinished { return finish(.failed("the agent's answer did not continue the walk")) }
        case .done:
            return .finished
        }
        return advance()
    }

    /// The last request got no answer after the session's retries.
    public mutating func timedOut() -> DevicePollAction {
        guard outcome == nil else { return .finished }
        guard let last = lastRequest else { return finish(.timeout) }
        if case .getBulk(_, let repetitions) = last.kind, repetitions > 1 {
            if answered || plan.deviceAnswered {
                // Known to answer: the size is the likely cause. Halve, up to three times.
                if timeoutRetries < 3 {
                    timeoutRetries += 1
                    return shrink(reason: "timeout")
                }
            } else if timeoutRetries == 0 && plan.retrySmallerWhenSilent {
                // Never heard from: dead, or dropping large GETBULKs from the start. One more
                // try with a quarter of the repetitions tells them apart (a dead device costs
                // one more timeout, within its own interval).
                timeoutRetries += 1
                maxRepetitions = max(1, repetitions / 4)
                reductions += 1
                return resend()
            }
        }
        return finish(.timeout)
    }

    /// The request could not be sent or the agent refused it (security errors).
    public mutating func failed(_ reason: String) -> DevicePollAction {
        guard outcome == nil else { return .finished }
        return finish(.failed(reason))
    }

    /// The agent answered something other than a response (an SNMPv3 report): it is up,
    /// even if it refuses.
    public mutating func markAnswered() {
        answered = true
    }

    /// Ends the poll from outside (its time is up); what was collected stays readable.
    public mutating func abort(_ reason: String) {
        if outcome == nil { outcome = .failed(reason) }
        phase = .done
    }

    // MARK: - Steps

    private mutating func advance() -> DevicePollAction {
        while true {
            if requests >= plan.maxRequests {
                return finish(.failed("more than \(plan.maxRequests) requests: the agent may be looping"))
            }
            switch phase {
            case .main:
                if !main.isFinished || !scalarsPending.isEmpty { return send(walkRequest(extra: false)) }
                if !refreshed, let known = plan.knownIndexes, hasUnknownRow(known) {
                    addRefreshColumns()
                    continue
                }
                phase = .gets
            case .gets:
                if !getsPending.isEmpty { return send(SNMPRequest(kind: .get, names: getsPending.map { plan.gets[$0] })) }
                phase = .extra
            case .extra:
                if !extra.isFinished { return send(walkRequest(extra: true)) }
                phase = .done
            case .done:
                return finish(.complete)
            }
        }
    }

    private mutating func walkRequest(extra useExtra: Bool) -> SNMPRequest {
        scalarsInFlight = useExtra ? [] : scalarsPending
        let scalarNames = scalarsInFlight.map { plan.scalars[$0].parent }
        let limit = maxColumnsPerRequest
        let columns: [SNMPObjectIdentifier]
        if useExtra {
            columns = extra.isFinished ? [] : extra.nextRequest(limit: limit)
        } else {
            columns = main.isFinished ? [] : main.nextRequest(limit: limit)
        }
        if plan.version == .v1 {
            return SNMPRequest(kind: .getNext, names: scalarNames + columns)
        }
        return SNMPRequest(kind: .getBulk(nonRepeaters: scalarNames.count,
                                          maxRepetitions: columns.isEmpty ? 0 : repetitions(extra: useExtra)),
                           names: scalarNames + columns)
    }

    /// Max-repetitions of the next GETBULK: `maxRepetitions`, or fewer when the last refresh
    /// said how many rows the main table has: the rows still to come and one more, which
    /// shows each column's end. The agent is spared the rows past the table (the start of
    /// the next columns) that a full request would fetch at the end of every walk. A guess
    /// that is too small (interfaces added since) costs one more request, never a value.
    private func repetitions(extra useExtra: Bool) -> Int {
        guard !useExtra, let expected = plan.knownIndexes?.count, expected > 0 else { return maxRepetitions }
        let remaining = expected - main.table.rowCount
        guard remaining >= 0 else { return maxRepetitions }
        return min(maxRepetitions, remaining + 1)
    }

    private mutating func send(_ request: SNMPRequest) -> DevicePollAction {
        requests += 1
        lastRequest = request
        return .send(request)
    }

    private mutating func finish(_ result: DevicePollOutcome) -> DevicePollAction {
        if outcome == nil { outcome = result }
        phase = .done
        return .finished
    }

    /// The request was too big (tooBig, or a large GETBULK that timed out): fewer
    /// repetitions, then fewer columns; the same request again.
    private mutating func shrink(reason: String) -> DevicePollAction {
        guard let last = lastRequest else { return finish(.failed(reason)) }
        if case .getBulk = last.kind, maxRepetitions > 1 {
            maxRepetitions = max(1, maxRepetitions / 2)
        } else if maxColumnsPerRequest > 1 && (phase == .main || phase == .extra) {
            maxColumnsPerRequest = max(1, min(maxColumnsPerRequest, requestedColumnCount) / 2)
        } else {
            return finish(reason == "timeout" ? .timeout : .failed("agent answered \(reason) to the smallest request"))
        }
        reductions += 1
        return resend()
    }

    private var requestedColumnCount: Int {
        switch phase {
        case .main: return main.requested.count
        case .extra: return extra.requested.count
        default: return 1
        }
    }

    /// Builds the request of the current step again (after shrinking or dropping names).
    private mutating func resend() -> DevicePollAction {
        switch phase {
        case .main: return send(walkRequest(extra: false))
        case .extra: return send(walkRequest(extra: true))
        case .gets: return advance()
        case .done: return .finished
        }
    }

    /// v1: the whole PDU failed because of the name at `errorIndex` (1-based): a scalar the
    /// agent lacks, or a column at the end of its MIB. Drop it and ask again.
    private mutating func dropNoSuchName(_ errorIndex: Int) -> DevicePollAction {
        let position = errorIndex - 1
        switch phase {
        case .main, .extra:
            if phase == .main && position >= 0 && position < scalarsInFlight.count {
                let scalar = scalarsInFlight[position]
                scalarsPending.removeAll { $0 == scalar }
                return resend()
            }
            let walkPosition = position - (phase == .main ? scalarsInFlight.count : 0)
            let requested = phase == .main ? main.requested : extra.requested
            guard walkPosition >= 0 && walkPosition < requested.count else {
                return finish(.failed("agent answered noSuchName with error index \(errorIndex)"))
            }
            if phase == .main { main.finish(column: requested[walkPosition]) } else { extra.finish(column: requested[walkPosition]) }
            return advance()
        case .gets:
            guard position >= 0 && position < getsPending.count else {
                return finish(.failed("agent answered noSuchName with error index \(errorIndex)"))
            }
            getsPending.remove(at: position)
            return advance()
        case .done:
            return .finished
        }
    }

    /// Reads the scalars at the front of a main-walk answer; returns how many bindings they took.
    private mutating func takeScalars<Response: SNMPResponseReading>(_ response: Response) -> Int {
        let inFlight = scalarsInFlight
        guard !inFlight.isEmpty else { return 0 }
        var position = 0
        response.forEachVarBind { name, value in
            defer { position += 1 }
            guard position < inFlight.count else { return }
            let scalar = inFlight[position]
            if plan.scalars[scalar].matches(name), !value.isException { scalars[scalar] = value }
        }
        scalarsPending.removeAll()
        scalarsInFlight.removeAll()
        return inFlight.count
    }

    private mutating func takeGets<Response: SNMPResponseReading>(_ response: Response) {
        let pending = getsPending
        var position = 0
        response.forEachVarBind { name, value in
            defer { position += 1 }
            guard position < pending.count else { return }
            let get = pending[position]
            if plan.gets[get].matches(name), !value.isException { gets[get] = value }
        }
        getsPending.removeAll()
    }

    /// After the scalars arrived: walk the refresh columns too if the agent restarted or
    /// its interface count changed.
    private mutating func checkRefresh() {
        guard !refreshed, let trigger = plan.refreshTrigger, !plan.refreshColumns.isEmpty else { return }
        var fire = false
        if let previous = trigger.previousSysUpTime, trigger.sysUpTimeScalar < scalars.count,
           case .timeTicks(let now)? = scalars[trigger.sysUpTimeScalar], now < previous {
            fire = true
        }
        if let previous = trigger.previousIfNumber, trigger.ifNumberScalar < scalars.count,
           case .integer(let now)? = scalars[trigger.ifNumberScalar], now != previous {
            fire = true
        }
        guard fire else { return }
        addRefreshColumns()
    }

    private mutating func addRefreshColumns() {
        let missing = plan.refreshColumns.filter { !main.columns.contains($0) }
        main.add(columns: missing)
        refreshed = true
    }

    /// A row whose one-component index the last refresh did not see (a new interface).
    private func hasUnknownRow(_ known: Set<UInt>) -> Bool {
        for index in main.table.indexes where index.count == 1 && !known.contains(index[0]) { return true }
        return false
    }
}
