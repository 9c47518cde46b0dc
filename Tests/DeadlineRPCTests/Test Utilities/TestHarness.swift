@testable import DeadlineRPC
import Dispatch
import NIOCore
import Synchronization
import Testing

/// Runs `body` with a server on 127.0.0.1 (a free port) and a client connected to it; both are stopped and
/// awaited before it returns, so no task outlives the test.
func withServerAndClient<T: Sendable>(
    router: Router,
    serverConfiguration: RPCServer.Configuration = RPCServer.Configuration(),
    clientConfiguration: RPCClient.Configuration = RPCClient.Configuration(),
    _ body: @Sendable (RPCServer, RPCClient) async throws -> T
) async throws -> T {
    let server = RPCServer(host: "127.0.0.1", port: 0, router: router, configuration: serverConfiguration)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await server.run() }
        let port = try await server.listeningAddress.port!
        let client = RPCClient(host: "127.0.0.1", port: port, configuration: clientConfiguration)
        do {
            let result = try await body(server, client)
            await watchdog("client.close()", describe: { await client.debugSnapshot() }) { await client.close() }
            server.beginGracefulShutdown()
            try await watchdog("server.run() after graceful shutdown", describe: { "server: \(server.stats)" }) {
                try await group.waitForAll()
            }
            return result
        } catch {
            await client.close()
            server.beginGracefulShutdown()
            try? await group.waitForAll()
            throw error
        }
    }
}

/// A one-shot signal a test awaits instead of sleeping.
final class Signal: Sendable {
    private let state = Mutex<(fired: Bool, waiters: [@Sendable () -> Void])>((false, []))

    init() {}

    func fire() {
        let waiters = self.state.withLock { state -> [@Sendable () -> Void] in
            guard !state.fired else { return [] }
            state.fired = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter() }
    }

    var isFired: Bool { self.state.withLock { $0.fired } }

    /// Waits for the signal; after `timeout` (generous: it only turns a would-be hang into a failure) it records
    /// an issue and returns false.
    @discardableResult
    func wait(timeout: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation) async -> Bool {
        let fired = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let once = ResumeOnce(continuation)
            let already = self.state.withLock { state -> Bool in
                if state.fired { return true }
                state.waiters.append(once.asVoid)
                return false
            }
            if already {
                once.resume(true)
                return
            }
            let nanos = Int(timeout.components.seconds) * 1_000_000_000 + Int(timeout.components.attoseconds / 1_000_000_000)
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(nanos)) { once.resume(false) }
        }
        if !fired { Issue.record("The awaited event did not happen within \(timeout).", sourceLocation: sourceLocation) }
        return fired
    }
}

/// Holds an event loop's thread until released: the test's way to order two events on that loop without
/// sleeping (NIO runs the loop's queued jobs before its due timers, and both before reading sockets).
final class LoopGate: Sendable {
    let held = Signal()
    private let semaphore = DispatchSemaphore(value: 0)
    private let released = Atomic<Bool>(false)

    init() {}

    /// Run on the loop: fires ``held``, then blocks the loop's thread until ``release()``.
    func hold() {
        self.held.fire()
        self.semaphore.wait()
    }

    func release() {
        if !self.released.exchange(true, ordering: .relaxed) { self.semaphore.signal() }
    }
}

/// Resumes a continuation at most once, whichever of the event or the timeout comes first.
final class ResumeOnce: Sendable {
    private let continuation: Mutex<CheckedContinuation<Bool, Never>?>

    init(_ continuation: CheckedContinuation<Bool, Never>) {
        self.continuation = Mutex(continuation)
    }

    func resume(_ value: Bool) {
        let continuation = self.continuation.withLock { c -> CheckedContinuation<Bool, Never>? in
            defer { c = nil }
            return c
        }
        continuation?.resume(returning: value)
    }

    var asVoid: @Sendable () -> Void { { self.resume(true) } }
}

extension RPCServer {
    /// Waits until the server's counters satisfy `condition`: woken by the runtime at each change of a counter
    /// (``ServerCounters/changed()``), no polling. After `timeout` (generous: it only turns a would-be hang into a
    /// failure) it records an issue with the counters as they are, and returns false.
    @discardableResult
    func stats(
        until condition: @escaping @Sendable (ServerStats) -> Bool,
        timeout: Duration = .seconds(30),
        sourceLocation: SourceLocation = #_sourceLocation
    ) async -> Bool {
        let counters = self.metrics.counters
        return await awaitCondition(
            "The server's counters", timeout: timeout, sourceLocation: sourceLocation, now: { counters.snapshot }
        ) { await counters.wait(until: condition) }
    }
}

/// Runs `wait` (which returns nil only when cancelled) for at most `timeout`; past it, records an issue saying
/// what `now` reads and returns false.
func awaitCondition<Value: Sendable>(
    _ what: String,
    timeout: Duration,
    sourceLocation: SourceLocation,
    now: @Sendable () -> Value,
    _ wait: @escaping @Sendable () async -> Value?
) async -> Bool {
    let reached = await withTaskGroup(of: Value?.self) { group in
        group.addTask { await wait() }
        group.addTask {
            try? await Task.sleep(for: timeout)  // A timeout, not an ordering: the wait above ends at its event.
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first
    }
    if reached == nil {
        Issue.record("\(what) did not reach the awaited condition within \(timeout); now: \(now())", sourceLocation: sourceLocation)
    }
    return reached != nil
}

/// Polls `condition` every millisecond until it holds or `timeout` passes. Only for what nothing can signal: the
/// process's descriptor table (descriptors close inside NIO and the kernel) and other processes. Counters of the
/// runtime are awaited with ``RPCServer/stats(until:timeout:sourceLocation:)`` instead, and the test router's
/// gauge with ``HandlerGauge/waitUntil(running:timeout:sourceLocation:)``.
func eventually(timeout: Duration = .seconds(5), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(1))
    }
    return condition()
}

struct Echo: Codable, Sendable, Equatable {
    var text: String
}

enum TestMethods {
    static let echo = Method<Echo, Echo>.unary("test.Echo/Get")
    static let raw = Method<ByteBuffer, ByteBuffer>.raw("test.Raw/Echo", kind: .unary)
    static let expand = Method<Echo, Echo>.serverStreaming("test.Echo/Expand")
    static let collect = Method<Echo, Echo>.clientStreaming("test.Echo/Collect")
    static let update = Method<Echo, Echo>.bidirectional("test.Echo/Update")
    static let wait = Method<Echo, Echo>.unary("test.Slow/Wait")
}

/// Runs `body`; if it has not finished after `limit`, records an issue naming `step` with what `describe` reports
/// (printed at once, so a run that hangs says where), then keeps waiting for it.
func watchdog<T>(
    _ step: String,
    after limit: Duration = .seconds(60),
    describe: @escaping @Sendable () async -> String = { "" },
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> T
) async rethrows -> T {
    let dog = Task {
        try await Task.sleep(for: limit)
        let state = await describe()
        Issue.record("\(step) has not finished after \(limit). \(state)", sourceLocation: sourceLocation)
    }
    defer { dog.cancel() }
    return try await body()
}
