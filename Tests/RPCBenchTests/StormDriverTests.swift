import NIOCore
import RPCBenchCore
import Synchronization
import Testing

/// A stack-free connection: work runs until its task is cancelled, its deadline passes or the connection closes.
final class FakeConnection: BenchConnection {
    /// Whether `close()` was called.
    let closed = Atomic<Bool>(false)
    /// Work calls seen, and how many carried a timeout.
    let workCalls = Atomic<Int>(0)
    let timedCalls = Atomic<Int>(0)

    func echo(_ request: BenchRequest, timeout: Duration) async -> CallOutcome { .ok }

    func work(_ request: BenchRequest, timeout: Duration?) async -> CallOutcome {
        self.workCalls.add(1, ordering: .relaxed)
        if timeout != nil { self.timedCalls.add(1, ordering: .relaxed) }
        let end = ContinuousClock.now + (timeout ?? .seconds(30))  // "Until cancelled", capped so a bug cannot hang the run
        while ContinuousClock.now < end {
            if Task.isCancelled { return .failed("cancelled") }
            if self.closed.load(ordering: .relaxed) { return .failed("unavailable") }
            try? await Task.sleep(for: .milliseconds(1))
        }
        return timeout == nil ? .ok : .failed("deadlineExceeded")
    }

    func close() async { self.closed.store(true, ordering: .relaxed) }

    /// Whether it was closed (a plain value, for `#expect`).
    var isClosed: Bool { self.closed.load(ordering: .relaxed) }
    /// Work calls that carried a timeout.
    var timed: Int { self.timedCalls.load(ordering: .relaxed) }
}

/// Hands out fresh fake connections and remembers them.
final class FakeConnector: BenchConnector {
    let opened = Mutex<[FakeConnection]>([])

    func withConnection<Result: Sendable>(_ body: (any BenchConnection) async -> Result) async throws -> Result {
        let connection = FakeConnection()
        self.opened.withLock { $0.append(connection) }
        return await body(connection)
    }
}

@Suite("The storm runs over any stack's connections", .timeLimit(.minutes(5)))
struct StormDriverTests {
    @Test("Cancels, short budgets and disconnects go through the connection protocol", .timeLimit(.minutes(1)))
    func stormOverFakeConnections() async {
        var storm = StormConfiguration()
        storm.burst = false
        storm.chain = false
        storm.cancelRate = 20
        storm.cancelAfter = .milliseconds(5)
        storm.deadlineRate = 20
        storm.deadlineBudget = .milliseconds(5)
        storm.disconnectInterval = .milliseconds(100)
        storm.disconnectCalls = 3
        storm.disconnectAfter = .milliseconds(5)
        let shared = FakeConnection()
        let connector = FakeConnector()
        let log = StormLog()
        let driver = StormDriver(
            configuration: storm,
            clients: [shared],
            connector: connector,
            hops: 1,
            propagation: true,
            payload: ByteBuffer(),
            log: log,
            live: nil
        )
        await driver.run(for: .milliseconds(300))
        let records = log.drain()
        let byKind = Dictionary(grouping: records, by: \.kind)
        #expect(byKind[.cancel]?.allSatisfy { $0.outcome == "cancelled" } == true)
        #expect(byKind[.deadline]?.allSatisfy { $0.outcome == "deadlineExceeded" } == true)
        #expect(byKind[.disconnect]?.allSatisfy { $0.outcome == "unavailable" } == true)
        #expect((byKind[.disconnect]?.count ?? 0) == 3 * connector.opened.withLock { $0.count })
        let opened = connector.opened.withLock { $0 }
        #expect(!opened.isEmpty && opened.allSatisfy(\.isClosed))
        #expect(!shared.isClosed)
        #expect(shared.timed == byKind[.deadline]?.count)
    }
}
