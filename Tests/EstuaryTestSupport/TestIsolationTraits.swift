import Testing

/// A trait for the heavy end-to-end suites (real servers, load generators, outages, kill -9,
/// thousands of connections, descriptor exhaustion): a suite that carries it runs while no
/// other such suite runs. The light tests still run beside it; two heavy suites never share
/// the two cores, the ephemeral ports or the descriptor table.
///
/// Put it on a suite, with `.serialized` so that its own tests also run one at a time:
/// `@Suite("spool end to end", .serialized, .runsAlone)`. Never on a suite nested in another
/// that carries it (the gate is not re-entrant).
public struct RunsAloneTrait: SuiteTrait, TestTrait, TestScoping {
    public var isRecursive: Bool { false }

    public func scopeProvider(for test: Test, testCase: Test.Case?) -> RunsAloneTrait? {
        // Once around the whole suite (or the whole test function), not per test case.
        testCase == nil ? self : nil
    }

    public func provideScope(for test: Test, testCase: Test.Case?,
                             performing function: @Sendable () async throws -> Void) async throws {
        await HeavySuiteGate.shared.enter()
        do {
            try await function()
        } catch {
            await HeavySuiteGate.shared.leave()
            throw error
        }
        await HeavySuiteGate.shared.leave()
    }
}

extension Trait where Self == RunsAloneTrait {
    /// This suite runs while no other `.runsAlone` suite runs.
    public static var runsAlone: RunsAloneTrait { RunsAloneTrait() }
}

/// The gate behind `.runsAlone`: one holder at a time, the others wait in order without
/// holding a thread.
actor HeavySuiteGate {
    static let shared = HeavySuiteGate()
    private var held = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func enter() async {
        if !held {
            held = true
            return
        }
        await withCheckedContinuation { waiting.append($0) }  // `held` passes to us on resume
    }

    func leave() {
        if waiting.isEmpty {
            held = false
        } else {
            waiting.removeFirst().resume()
        }
    }
}
