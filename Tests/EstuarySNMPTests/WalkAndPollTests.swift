import EstuarySNMP
import Testing

/// Parses an OID (a variable, so the failable parser runs, not the literal conversion).
func parsed(_ text: String) -> SNMPObjectIdentifier? { SNMPObjectIdentifier(text) }
func oid(_ text: String) -> SNMPObjectIdentifier { parsed(text)! }

/// An agent's MIB view in memory, answering requests the way RFC 3416 says (v2c), or v1
/// (noSuchName for the whole PDU at the end of the MIB): the state machines under test
/// are pure, so they are driven without a network here; the real agents are in the
/// integration tests.
struct MIBView {
    var objects: [(SNMPObjectIdentifier, SNMPValue)]

    init(_ objects: [(SNMPObjectIdentifier, SNMPValue)]) {
        self.objects = objects.sorted { $0.0 < $1.0 }
    }

    func next(after name: SNMPObjectIdentifier) -> (SNMPObjectIdentifier, SNMPValue)? {
        objects.first { name < $0.0 }
    }

    func answer(_ request: SNMPRequest, v1: Bool = false) -> SNMPResponse {
        switch request.kind {
        case .get:
            return SNMPResponse(varbinds: request.names.map { name in (name, objects.first { $0.0 == name }?.1 ?? .noSuchObject) })
        case .getNext:
            var varbinds: [(SNMPObjectIdentifier, SNMPValue)] = []
            for (i, name) in request.names.enumerated() {
                guard let next = next(after: name) else {
                    if v1 { return SNMPResponse(errorStatus: SNMPErrorStatus.noSuchName, errorIndex: i + 1, varbinds: request.names.map { ($0, .null) }) }
                    varbinds.append((name, .endOfMibView))
                    continue
                }
                varbinds.append(next)
            }
            return SNMPResponse(varbinds: varbinds)
        case .getBulk(let nonRepeaters, let repetitions):
            var varbinds: [(SNMPObjectIdentifier, SNMPValue)] = []
            for name in request.names.prefix(nonRepeaters) { varbinds.append(next(after: name) ?? (name, .endOfMibView)) }
            var cursors = Array(request.names.dropFirst(nonRepeaters))
            for _ in 0..<repetitions {
                for i in cursors.indices {
                    if let next = next(after: cursors[i]) {
                        varbinds.append(next)
                        cursors[i] = next.0
                    } else {
                        varbinds.append((cursors[i], .endOfMibView))
                    }
                }
            }
            return SNMPResponse(varbinds: varbinds)
        }
    }
}

/// An interface table for `count` interfaces: HC octets in and out, ifName, and the system scalars.
func switchMIB(interfaces count: UInt, upTime: UInt32 = 5000, withNames: Bool = true) -> MIBView {
    var objects: [(SNMPObjectIdentifier, SNMPValue)] = [
        (IFMIB.sysUpTime, .timeTicks(upTime)), (IFMIB.sysName, .octets(Array("sw1".utf8))), (IFMIB.ifNumber, .integer(Int64(count))),
    ]
    for i in 1...count {
        objects.append((IFMIB.Column.ifHCInOctets.oid.appending([i]), .counter64(UInt64(i) * 100)))
        objects.append((IFMIB.Column.ifHCOutOctets.oid.appending([i]), .counter64(UInt64(i) * 200)))
        if withNames { objects.append((IFMIB.Column.ifName.oid.appending([i]), .octets(Array("Gi\(i)".utf8)))) }
    }
    return MIBView(objects)
}

/// Answers every request a poll sends from `mib`; returns the requests.
@discardableResult
func run(_ poll: inout DevicePoll, mib: MIBView, v1: Bool = false, limit: Int = 200) -> [SNMPRequest] {
    var sent: [SNMPRequest] = []
    var action = poll.start()
    while case .send(let request) = action, sent.count < limit {
        sent.append(request)
        action = poll.receive(mib.answer(request, v1: v1))
    }
    return sent
}

@Suite("table walks")
struct TableWalkTests {
    let columns = [oid("1.3.6.1.2.1.2.2.1.10"), oid("1.3.6.1.2.1.2.2.1.16")]

    @Test("rows are assembled by index, not by position: a sparse column and a column that ends early")
    func sparse() {
        var walk = TableWalk(columns: columns)
        // Column 2 has no row 2 and no row 7; the MIB goes on after it.
        let mib = MIBView([
            (columns[0].appending([1]), .counter32(10)), (columns[0].appending([2]), .counter32(20)),
            (columns[0].appending([3]), .counter32(30)), (columns[0].appending([7]), .counter32(70)),
            (columns[1].appending([1]), .counter32(11)), (columns[1].appending([3]), .counter32(31)),
            (oid("1.3.6.1.2.1.2.2.1.17.1"), .counter32(5)),
        ])
        let names = walk.nextRequest(limit: 10)
        #expect(names == columns)
        walk.absorb(mib.answer(SNMPRequest(kind: .getBulk(nonRepeaters: 0, maxRepetitions: 10), names: names)), skip: 0)
        #expect(walk.isFinished)
        let table = walk.table
        #expect(table.rowCount == 4)
        #expect(table.value(row: table.row(index: 2)!, column: 0) == .counter32(20))
        #expect(table.value(row: table.row(index: 2)!, column: 1) == nil)
        #expect(table.value(row: table.row(index: 3)!, column: 1) == .counter32(31))
        #expect(table.value(row: table.row(index: 7)!, column: 0) == .counter32(70))
        #expect(table.value(row: table.row(index: 7)!, column: 1) == nil)
    }

    @Test("a walk continues from the last index of each column, request after request")
    func continues() {
        var walk = TableWalk(columns: columns)
        var objects: [(SNMPObjectIdentifier, SNMPValue)] = []
        for i in 1...25 {
            let index = UInt(i)
            objects.append((columns[0].appending([index]), .counter32(UInt32(i))))
            objects.append((columns[1].appending([index]), .counter32(UInt32(i * 2))))
        }
        let mib = MIBView(objects)
        var requests = 0
        while !walk.isFinished && requests < 10 {
            let names = walk.nextRequest(limit: 10)
            requests += 1
            walk.absorb(mib.answer(SNMPRequest(kind: .getBulk(nonRepeaters: 0, maxRepetitions: 10), names: names)), skip: 0)
        }
        #expect(requests == 3)
        #expect(walk.table.rowCount == 25)
        #expect(walk.table.value(row: walk.table.row(index: 25)!, column: 1) == .counter32(50))
    }

    @Test("an agent answering a name that does not increase ends the column (no endless loop), counted")
    func nonIncreasing() {
        var walk = TableWalk(columns: [columns[0]])
        _ = walk.nextRequest(limit: 1)
        walk.absorb(SNMPResponse(varbinds: [(columns[0].appending([5]), .counter32(1)), (columns[0].appending([5]), .counter32(1)),
                                            (columns[0].appending([4]), .counter32(1))]), skip: 0)
        #expect(walk.isFinished)
        #expect(walk.nonIncreasing == 1)
        #expect(walk.table.rowCount == 1)
    }

    @Test("noSuchObject and endOfMibView end a column; names outside it too")
    func exceptions() {
        var walk = TableWalk(columns: columns)
        _ = walk.nextRequest(limit: 2)
        walk.absorb(SNMPResponse(varbinds: [(columns[0], .noSuchObject), (columns[1], .endOfMibView)]), skip: 0)
        #expect(walk.isFinished)
        #expect(walk.table.rowCount == 0)
    }

    @Test("multi-component indexes (a table indexed by two numbers)")
    func pathIndexes() {
        let column = oid("1.3.6.1.4.1.9999.1.1.2")
        var walk = TableWalk(columns: [column])
        _ = walk.nextRequest(limit: 1)
        walk.absorb(SNMPResponse(varbinds: [(column.appending([1, 5]), .integer(1)), (column.appending([1, 6]), .integer(2)),
                                            (column.appending([2, 1]), .integer(3)), (oid("1.3.6.1.4.1.9999.1.1.3.1.5"), .integer(0))]), skip: 0)
        #expect(walk.isFinished)
        #expect(walk.table.indexes == [[1, 5], [1, 6], [2, 1]])
        #expect(walk.table.value(row: walk.table.row(index: [2, 1])!, column: 0) == .integer(3))
    }
}

@Suite("device polls")
struct DevicePollTests {
    let columns = [IFMIB.Column.ifHCInOctets.oid, IFMIB.Column.ifHCOutOctets.oid]

    @Test("v2c: the scalars ride in the first GETBULK as non-repeaters; the walk takes ceil(rows / repetitions) requests")
    func v2cPoll() {
        var poll = DevicePoll(plan: DevicePollPlan(version: .v2c, scalars: IFMIB.scalars, columns: columns, maxRepetitions: 10))
        let sent = run(&poll, mib: switchMIB(interfaces: 25))
        #expect(poll.outcome == .complete)
        #expect(sent.count == 3)
        #expect(sent[0].kind == .getBulk(nonRepeaters: 3, maxRepetitions: 10))
        #expect(sent[0].names.prefix(3).map(\.description) == ["1.3.6.1.2.1.1.3", "1.3.6.1.2.1.1.5", "1.3.6.1.2.1.2.1"])
        #expect(sent[1].kind == .getBulk(nonRepeaters: 0, maxRepetitions: 10))
        #expect(poll.scalars[IFMIB.sysUpTimeScalar] == .timeTicks(5000))
        #expect(poll.main.table.rowCount == 25)
        #expect(poll.answered)
    }

    @Test("tooBig halves max-repetitions, then the same request again")
    func tooBig() {
        var poll = DevicePoll(plan: DevicePollPlan(version: .v2c, scalars: [], columns: columns, maxRepetitions: 40))
        guard case .send(let first) = poll.start() else { Issue.record("no request"); return }
        #expect(first.kind == .getBulk(nonRepeaters: 0, maxRepetitions: 40))
        guard case .send(let second) = poll.receive(SNMPResponse(errorStatus: SNMPErrorStatus.tooBig, varbinds: [])) else {
            Issue.record("no retry"); return
        }
        #expect(second.kind == .getBulk(nonRepeaters: 0, maxRepetitions: 20))
        #expect(second.names == first.names)
        #expect(poll.reductions == 1)
    }

    @Test("a GETBULK that times out on a device known to answer is retried with half the repetitions (devices that drop large answers)")
    func timeoutShrinks() {
        var poll = DevicePoll(plan: DevicePollPlan(version: .v2c, scalars: [], columns: columns, maxRepetitions: 40, deviceAnswered: true))
        _ = poll.start()
        guard case .send(let retry) = poll.timedOut() else { Issue.record("no retry"); return }
        #expect(retry.kind == .getBulk(nonRepeaters: 0, maxRepetitions: 20))
    }

    @Test("a device never heard from gets one more try with a quarter of the repetitions, then counts as dead")
    func deadDevice() {
        var poll = DevicePoll(plan: DevicePollPlan(version: .v2c, scalars: IFMIB.scalars, columns: columns, maxRepetitions: 40))
        _ = poll.start()
        guard case .send(let retry) = poll.timedOut() else { Issue.record("no retry"); return }
        #expect(retry.kind == .getBulk(nonRepeaters: 3, maxRepetitions: 10))
        #expect(poll.timedOut() == .finished)
        #expect(poll.outcome == .timeout)
        #expect(!poll.answered)
        #expect(poll.requests == 2)
    }

    @Test("a device that drops GETBULKs above 5 repetitions from the first poll on is polled all the same")
    func dropsLargeBulks() {
        var poll = DevicePoll(plan: DevicePollPlan(version: .v2c, scalars: IFMIB.scalars, columns: columns, maxRepetitions: 10))
        let mib = switchMIB(interfaces: 12)
        var action = poll.start()
        var sent = 0
        while case .send(let request) = action, sent < 50 {
            sent += 1
            if case .getBulk(_, let repetitions) = request.kind, repetitions > 5 {
                action = poll.timedOut()
            } else {
                action = poll.receive(mib.answer(request))
            }
        }
        #expect(poll.outcome == .complete)
        #expect(poll.maxRepetitions <= 5)
        #expect(poll.main.table.rowCount == 12)
    }

    @Test("v1: GETNEXT one row at a time; noSuchName at the end of the MIB ends that column and the rest goes on")
    func v1() {
        let column = IFMIB.Column.ifInOctets.oid
        var poll = DevicePoll(plan: DevicePollPlan(version: .v1, scalars: [IFMIB.sysUpTime], columns: [column]))
        guard case .send(let first) = poll.start() else { Issue.record("no request"); return }
        #expect(first.kind == .getNext)
        #expect(first.names == [IFMIB.sysUpTime.parent, column])
        var action = poll.receive(SNMPResponse(varbinds: [(IFMIB.sysUpTime, .timeTicks(9)), (column.appending([1]), .counter32(7))]))
        guard case .send(let second) = action else { Issue.record("no second request"); return }
        #expect(second.names == [column.appending([1])])
        // The agent has nothing after it: v1 fails the whole PDU with noSuchName, index 1.
        action = poll.receive(SNMPResponse(errorStatus: SNMPErrorStatus.noSuchName, errorIndex: 1, varbinds: [(column.appending([1]), .null)]))
        #expect(action == .finished)
        #expect(poll.outcome == .complete)
        #expect(poll.main.table.rowCount == 1)
        #expect(poll.scalars[0] == .timeTicks(9))
    }

    @Test("sysUpTime went back (the agent restarted): the refresh columns are walked in the same poll")
    func refreshOnRestart() {
        let trigger = RefreshTrigger(sysUpTimeScalar: IFMIB.sysUpTimeScalar, previousSysUpTime: 900_000,
                                     ifNumberScalar: IFMIB.ifNumberScalar, previousIfNumber: 4)
        var poll = DevicePoll(plan: DevicePollPlan(version: .v2c, scalars: IFMIB.scalars, columns: columns,
                                                   refreshColumns: [IFMIB.Column.ifName.oid], refreshTrigger: trigger))
        run(&poll, mib: switchMIB(interfaces: 4, upTime: 100))
        #expect(poll.outcome == .complete)
        #expect(poll.refreshed)
        #expect(poll.main.columns.contains(IFMIB.Column.ifName.oid))
        let table = poll.main.table
        #expect(table.value(row: table.row(index: 3)!, column: 2) == .octets(Array("Gi3".utf8)))
        #expect(table.value(row: table.row(index: 3)!, column: 0) == .counter64(300))
    }

    @Test("no refresh when sysUpTime moved on and the interface count is the same")
    func noRefresh() {
        let trigger = RefreshTrigger(sysUpTimeScalar: IFMIB.sysUpTimeScalar, previousSysUpTime: 100,
                                     ifNumberScalar: IFMIB.ifNumberScalar, previousIfNumber: 4)
        var poll = DevicePoll(plan: DevicePollPlan(version: .v2c, scalars: IFMIB.scalars, columns: columns,
                                                   refreshColumns: [IFMIB.Column.ifName.oid], refreshTrigger: trigger,
                                                   knownIndexes: [1, 2, 3, 4]))
        run(&poll, mib: switchMIB(interfaces: 4, upTime: 200))
        #expect(poll.outcome == .complete)
        #expect(!poll.refreshed)
    }

    @Test("an ifIndex the last refresh did not see walks the refresh columns in the same poll")
    func refreshOnNewInterface() {
        var poll = DevicePoll(plan: DevicePollPlan(version: .v2c, scalars: IFMIB.scalars, columns: columns,
                                                   refreshColumns: [IFMIB.Column.ifName.oid], knownIndexes: [1, 2, 3]))
        run(&poll, mib: switchMIB(interfaces: 4))
        #expect(poll.refreshed)
        #expect(poll.outcome == .complete)
    }

    @Test("with the row count known from the last refresh, the last GETBULK asks only for the rows left and one to see the end")
    func repetitionsFitTheKnownTable() throws {
        let mib = switchMIB(interfaces: 12)
        var fitted = DevicePoll(plan: DevicePollPlan(version: .v2c, scalars: IFMIB.scalars, columns: columns, maxRepetitions: 5,
                                                     knownIndexes: Set(1...12)))
        let sent = run(&fitted, mib: mib)
        #expect(fitted.outcome == .complete)
        #expect(fitted.main.table.rowCount == 12)
        // 5 rows, 5 rows, then the 2 left and the end: not 5 more.
        let repetitions = sent.compactMap { request -> Int? in
            if case .getBulk(_, let r) = request.kind { return r }
            return nil
        }
        #expect(repetitions == [5, 5, 3])
        #expect(fitted.maxRepetitions == 5, "what the device takes is unchanged")

        // Unknown size: full requests; the same values either way, with fewer bindings fetched.
        var full = DevicePoll(plan: DevicePollPlan(version: .v2c, scalars: IFMIB.scalars, columns: columns, maxRepetitions: 5))
        _ = run(&full, mib: mib)
        #expect(full.outcome == .complete)
        #expect(full.varbinds > fitted.varbinds)
        for index: UInt in 1...12 {
            let a = try #require(fitted.main.table.row(index: index)), b = try #require(full.main.table.row(index: index))
            for column in columns.indices {
                #expect(fitted.main.table.value(row: a, column: column) == full.main.table.value(row: b, column: column))
            }
        }

        // More interfaces than the refresh saw: one more request, every row still read.
        var grown = DevicePoll(plan: DevicePollPlan(version: .v2c, scalars: IFMIB.scalars, columns: columns, maxRepetitions: 5,
                                                    knownIndexes: Set(1...10)))
        _ = run(&grown, mib: mib)
        #expect(grown.outcome == .complete)
        #expect(grown.main.table.rowCount == 12)
    }

    @Test("an agent that keeps answering without moving on fails the poll instead of looping")
    func stuckAgent() {
        var poll = DevicePoll(plan: DevicePollPlan(version: .v2c, scalars: [], columns: columns, maxRequests: 20))
        var action = poll.start()
        var count = 0
        while case .send = action, count < 100 {
            count += 1
            // Always the same rows: the second answer does not increase.
            action = poll.receive(SNMPResponse(varbinds: [(columns[0].appending([1]), .counter64(1)), (columns[1].appending([1]), .counter64(1))]))
        }
        #expect(poll.outcome != nil)
        #expect(poll.outcome != .complete || poll.main.nonIncreasing > 0)
        #expect(count < 20)
    }
}

@Suite("object identifiers and targets")
struct IdentifierAndTargetTests {
    @Test("OIDs parse with or without a leading dot; bad ones do not")
    func oids() {
        #expect(parsed(".1.3.6.1.2.1")?.components == [1, 3, 6, 1, 2, 1])
        #expect(parsed("1.3.6.1.2.1.31.1.1.1.6.3")?.description == "1.3.6.1.2.1.31.1.1.1.6.3")
        for bad in ["", ".", "1", "1..3", "1.3.", "1.3.x", "IF-MIB::ifName", "1.3.4294967296"] {
            #expect(parsed(bad) == nil, "\(bad)")
        }
        #expect(oid("1.3.6.1.2.1.2") < oid("1.3.6.1.2.1.10"))
        #expect(oid("1.3.6.1") < oid("1.3.6.1.0"))
    }

    @Test("target lines: address, port, name, credentials, comments; every bad line reported with its number")
    func targetLines() {
        let (targets, errors) = SNMPTargetList.parse("""
            # core
            10.0.0.1
            10.0.0.2:1161 core-sw2
            [2001:db8::1]:161 v6-sw core-v3   # trailing comment
            ::1
            switch.example.net - v3creds

            10.0.0.3:0
            10.0.0.4 a b c
            10.0.0.1
            """)
        #expect(targets.map(\.agent) == ["10.0.0.1", "10.0.0.2:1161", "2001:db8::1", "::1", "switch.example.net"])
        #expect(targets[1].name == "core-sw2")
        #expect(targets[2].credentials == "core-v3")
        #expect(targets[2].peerName == "udp6:[2001:db8::1]:161")
        #expect(targets[4].name == nil)
        #expect(targets[4].credentials == "v3creds")
        #expect(errors.map(\.line) == [8, 9, 10])
        #expect(errors[2].message.contains("already listed on line 2"))
    }
}
