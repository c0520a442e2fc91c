import CLinuxEvents
import CNetSNMP
import EstuaryRuntime
import EstuarySNMP
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The engine's polls: starting one when its device is due, driving its state machine with
/// each answer, finishing it (status, lateness) and learning from it for the next.
extension SNMPEngine {
    func startPoll(_ slot: DeviceSlot, now: UInt64) {
        let group = slot.group
        let settings = slot.settings
        slot.startedAt = now
        slot.startedWall = clock.wallNow()
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

    /// Carries out what the last callback decided: the next request, or the end.
    func process(_ slot: DeviceSlot) {
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

    func finishPoll(_ slot: DeviceSlot) {
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

        let now = clock.monotonicNow()
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
        let columns = table.columns.compactMap { IFMIB.Column(oid: $0) }
        var indexes = Set<UInt>()
        for index in table.indexes where index.count == 1 { indexes.insert(index[0]) }
        slot.capabilities = InterfaceCapabilities.learn(from: table, columns: columns)
        slot.knownIndexes = indexes
        slot.lastRefresh = clock.monotonicNow()
        slot.needsRefresh = false
    }
}
