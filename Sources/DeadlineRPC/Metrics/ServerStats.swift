import Wire
import Synchronization

/// Live counters of one server, readable at any time without a metrics backend (tests, `rpcbench`, health
/// endpoints). The same figures go to swift-metrics under the names in `docs/`.
public struct ServerStats: Sendable, Hashable {
    /// Calls accepted (handler started or about to start).
    public var callsStarted: Int
    /// Calls whose outcome was sent or decided.
    public var callsFinished: Int
    /// Handler tasks running now (including ones whose call already ended).
    public var handlersInFlight: Int
    /// Handlers running now past the straggler grace period after their call was cancelled or expired.
    public var stragglersNow: Int
    /// Handlers that ever became stragglers.
    public var stragglersTotal: Int
    /// Calls answered `deadlineExceeded` without running the handler (budget spent or below the minimum).
    public var shedCalls: Int
    /// Calls refused at their start because the connection had its maximum of streams, or takes no new calls
    /// (the server is draining it, or the client sent `GOAWAY`).
    public var refusedCalls: Int
    /// Connections open now.
    public var connections: Int
    /// Frames dropped quietly because their stream had already ended (PROTOCOL.md §13.3): a `CANCEL`, `CREDIT`,
    /// message or `HALF_CLOSE` that crossed the call's end. Benign (cancel races produce them), so counted but not
    /// charged to the glitch budget.
    public var lateFramesDropped: Int
    /// Connections refused at the TLS layer: a failed handshake (no or untrusted client certificate, a plaintext
    /// client on a TLS port, the client refusing the server's certificate), no `drpc/1` ALPN, or a TLS client on a
    /// plaintext port. Each is also logged with its cause (`docs/SECURITY.md`).
    public var tlsHandshakeFailures: Int = 0
    /// Reloads of the certificate chain, key and client trust roots (on the interval or asked for): how many took,
    /// and how many failed by cause (the old material stayed). Each failure is also logged (`docs/SECURITY.md`).
    public var tlsReloads = TLSReloadStats()
    /// Connections closed because their client went quiet with calls open and did not answer a keepalive ping
    /// (``RPCServer/Configuration/keepalive``): clients that vanished. Each is also logged.
    public var keepaliveTimeouts: Int = 0
    /// Handler cancellations that held their event loop over 10 ms: a cancellation handler (`onCancel`) in user code
    /// that blocks, which makes every connection on the loop wait. Each is also logged with the method.
    public var slowCancellationHandlers: Int = 0
}

/// Atomic storage behind ``ServerStats``.
///
/// ``ServerMetrics`` changes the counters with sequentially consistent operations and then calls ``changed()``,
/// which wakes the tasks in ``waiters`` (tests awaiting a condition such as `handlersInFlight == 0`). The connection
/// handler changes `connections` the same way (a connection opened or closed). `lateFramesDropped` alone changes
/// without a wake-up (it sits on the frame path): a condition on it alone is seen only at the next change of another
/// counter.
final class ServerCounters: Sendable {
    let callsStarted = Atomic<Int>(0)
    let callsFinished = Atomic<Int>(0)
    let handlersInFlight = Atomic<Int>(0)
    let stragglersNow = Atomic<Int>(0)
    let stragglersTotal = Atomic<Int>(0)
    let shedCalls = Atomic<Int>(0)
    let refusedCalls = Atomic<Int>(0)
    let connections = Atomic<Int>(0)
    let lateFramesDropped = Atomic<Int>(0)
    let tlsHandshakeFailures = Atomic<Int>(0)
    let tlsReloads = TLSReloadCounters()
    let keepaliveTimeouts = Atomic<Int>(0)
    let slowCancellationHandlers = Atomic<Int>(0)
    /// Which path compressed messages took (on the loop or off it); not part of ``ServerStats``.
    let compression = CompressionCounters()
    let waiters = CounterWaiters<ServerStats>()

    /// Wakes the waiters whose condition now holds; one atomic load when there are none.
    @inline(__always)
    func changed() {
        self.waiters.changed { self.orderedSnapshot }
    }

    /// Suspends until `condition` holds for the counters and returns that reading; nil if the task is cancelled.
    func wait(until condition: @escaping @Sendable (ServerStats) -> Bool) async -> ServerStats? {
        await self.waiters.wait(until: condition) { self.orderedSnapshot }
    }

    /// ``snapshot`` with sequentially consistent loads, as ``CounterWaiters`` requires.
    private var orderedSnapshot: ServerStats {
        ServerStats(
            callsStarted: self.callsStarted.load(ordering: .sequentiallyConsistent),
            callsFinished: self.callsFinished.load(ordering: .sequentiallyConsistent),
            handlersInFlight: self.handlersInFlight.load(ordering: .sequentiallyConsistent),
            stragglersNow: self.stragglersNow.load(ordering: .sequentiallyConsistent),
            stragglersTotal: self.stragglersTotal.load(ordering: .sequentiallyConsistent),
            shedCalls: self.shedCalls.load(ordering: .sequentiallyConsistent),
            refusedCalls: self.refusedCalls.load(ordering: .sequentiallyConsistent),
            connections: self.connections.load(ordering: .sequentiallyConsistent),
            lateFramesDropped: self.lateFramesDropped.load(ordering: .sequentiallyConsistent),
            tlsHandshakeFailures: self.tlsHandshakeFailures.load(ordering: .sequentiallyConsistent),
            tlsReloads: self.tlsReloads.snapshot,
            keepaliveTimeouts: self.keepaliveTimeouts.load(ordering: .sequentiallyConsistent),
            slowCancellationHandlers: self.slowCancellationHandlers.load(ordering: .sequentiallyConsistent)
        )
    }

    var snapshot: ServerStats {
        ServerStats(
            callsStarted: self.callsStarted.load(ordering: .relaxed),
            callsFinished: self.callsFinished.load(ordering: .relaxed),
            handlersInFlight: self.handlersInFlight.load(ordering: .relaxed),
            stragglersNow: self.stragglersNow.load(ordering: .relaxed),
            stragglersTotal: self.stragglersTotal.load(ordering: .relaxed),
            shedCalls: self.shedCalls.load(ordering: .relaxed),
            refusedCalls: self.refusedCalls.load(ordering: .relaxed),
            connections: self.connections.load(ordering: .relaxed),
            lateFramesDropped: self.lateFramesDropped.load(ordering: .relaxed),
            tlsHandshakeFailures: self.tlsHandshakeFailures.load(ordering: .relaxed),
            tlsReloads: self.tlsReloads.snapshot,
            keepaliveTimeouts: self.keepaliveTimeouts.load(ordering: .relaxed),
            slowCancellationHandlers: self.slowCancellationHandlers.load(ordering: .relaxed)
        )
    }
}
