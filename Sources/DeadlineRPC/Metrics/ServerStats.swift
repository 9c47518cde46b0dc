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
}

/// Atomic storage behind ``ServerStats``.
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
            lateFramesDropped: self.lateFramesDropped.load(ordering: .relaxed)
        )
    }
}
