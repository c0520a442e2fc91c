import Dispatch
import Testing

/// A trait for the heavy end-to-end suites (real servers, load generators, outages, kill -9,
/// thousands of connections, descriptor exhaustion): a suite that carries it runs while no
/// other such suite runs. The light tests still run beside it; two heavy suites never share
/// the two cores, the ephemeral ports or the descriptor table.
///
/// Its tests also run on threads of their own (`OwnThreadsExecutor`), not on Swift's
/// cooperative threads: there are only as many of those as cores, and a heavy test that
/// blocks one (waiting for a server, a log line, a child) would stall the light tests.
///
/// Put it on a suite, with `.serialized` so that its own tests also run one at a time:
/// `@Suite("spool end to end", .serialized, .runsAlone)`. Never on a suite nested in another
/// that carries it (the gate is not re-entrant).
public struct RunsAloneTrait: SuiteTrait, TestTrait, TestScoping {
    static let gate = TestGate(permits: 1)

    public var isRecursive: Bool { false }

    public func scopeProvider(for test: Test, testCase: Test.Case?) -> RunsAloneTrait? {
        // Once around the whole suite (or the whole test function), not per test case.
        testCase == nil ? self : nil
    }

    public func provideScope(for test: Test, testCase: Test.Case?,
                             performing function: @Sendable () async throws -> Void) async throws {
        try await Self.gate.run(function)
    }
}

extension Trait where Self == RunsAloneTrait {
    /// This suite runs while no other `.runsAlone` suite runs.
    public static var runsAlone: RunsAloneTrait { RunsAloneTrait() }
}

/// The gate behind `.runsAlone` and `.ownThreads`: at most `permits` holders at a time; the
/// others wait in order without holding a thread.
actor TestGate {
    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(permits: Int) {
        free = permits
    }

    func enter() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }  // the permit passes to us on resume
    }

    func leave() {
        if waiting.isEmpty {
            free += 1
        } else {
            waiting.removeFirst().resume()
        }
    }

    /// `function` holding a permit, on threads of its own (`OwnThreadsExecutor`).
    nonisolated func run(_ function: @Sendable () async throws -> Void) async throws {
        await enter()
        do {
            try await withTaskExecutorPreference(OwnThreadsExecutor.shared) { try await function() }
        } catch {
            await leave()
            throw error
        }
        await leave()
    }
}

/// A trait for suites whose tests block on I/O (a real server, a child, a socket, a log line):
/// each of their tests runs on threads of its own (`OwnThreadsExecutor`), not on Swift's
/// cooperative threads, of which there are only as many as cores (two such tests waiting at
/// once used to stall every unit test in the process for 30 s); and at most
/// `OwnThreadsTrait.concurrentTests` of them run at once, so that the servers they start do
/// not starve each other of the two cores.
public struct OwnThreadsTrait: SuiteTrait, TestTrait, TestScoping {
    /// I/O-bound tests running at once (each test function, with all its cases).
    public static let concurrentTests = 2
    static let gate = TestGate(permits: concurrentTests)

    public var isRecursive: Bool { true }

    public func scopeProvider(for test: Test, testCase: Test.Case?) -> OwnThreadsTrait? {
        // Once around each test function, not around the suite or each case.
        !test.isSuite && testCase == nil ? self : nil
    }

    public func provideScope(for test: Test, testCase: Test.Case?,
                             performing function: @Sendable () async throws -> Void) async throws {
        try await Self.gate.run(function)
    }
}

extension Trait where Self == OwnThreadsTrait {
    /// Each of this suite's tests runs on threads of its own, off Swift's cooperative pool, and
    /// at most `OwnThreadsTrait.concurrentTests` such tests run at once.
    public static var ownThreads: OwnThreadsTrait { OwnThreadsTrait() }
}

/// A task executor that runs every job on a serial dispatch queue of its own: each gets a
/// thread outside Swift's cooperative pool (dispatch gives a serial queue its own thread), so a
/// job that blocks holds only that thread.
///
/// A test's own unstructured tasks do not inherit it: start them with
/// `Task(executorPreference: OwnThreadsExecutor.shared) { … }` when they block or pace.
public final class OwnThreadsExecutor: TaskExecutor {
    public static let shared = OwnThreadsExecutor()

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        DispatchQueue(label: "estuary.tests.runs-alone").async { job.runSynchronously(on: executor) }
    }
}
