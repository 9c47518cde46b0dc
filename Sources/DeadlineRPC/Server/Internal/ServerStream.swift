import NIOCore
import Wire

/// One call on a server connection: its state machine and everything the event loop tracks for it. Confined to
/// the connection's event loop.
///
/// Its `var`s are `@exclusivity(unchecked)` (no run-time exclusivity check, see docs/PERFORMANCE.md, issue #19
/// "Throughput"): sound because only the event loop touches them and no access spans a call that could reach the
/// same property (the state machine and readers are pure values).
final class ServerStream: DeadlineQueueEntry {
    // Declared in this order to pack the stored properties (Swift lays them out as declared): the id and the
    // encoding share a word, and the state machine, whose size is not a multiple of 8, comes last. That keeps the
    // object in a smaller allocation (issue #19, goal 5).
    let id: UInt32
    let encoding: MessageEncoding
    let entry: ServerMethodEntry
    /// The method's instruments, resolved once per server rather than looked up per call.
    let methodMetrics: MethodMetrics
    let startedAt: NIODeadline
    let context: CallContext
    /// The full method name (kept once, in the call's identity).
    var method: String { self.context.method }
    /// Credit window, reassembly and decompression of the client's messages.
    @exclusivity(unchecked) var inbound: InboundMessageReader
    /// Where the stream sits in its connection's ``DeadlineQueue``: queued for its deadline while the call is open,
    /// then — when the call ends with the handler still running — for the straggler check.
    @exclusivity(unchecked) var deadlineQueueIndex = -1
    @exclusivity(unchecked) var task: Task<Void, Never>?
    @exclusivity(unchecked) var requests: InboundMessageQueue?
    /// A streaming handler's writer waiting for the stream's queue to drain: an unsafe continuation because its
    /// resumers take it out first (one resume), and a checked one, a resilient type, is copied and destroyed through
    /// value witnesses and moves every later stored property to an offset read from metadata.
    @exclusivity(unchecked) var writerWaiter: UnsafeContinuation<Void, any Error>?
    /// The queued bytes above which ``writerWaiter`` stays parked (set by each write; 0 for a writer that waits
    /// until its message is written, as a health watch does).
    @exclusivity(unchecked) var writerWatermark = ConnectionWriter.writerWatermark
    /// The call's life: its §9.3 state, its handler task, whether its end was recorded.
    @exclusivity(unchecked) var machine: CallStateMachine.Server
    init(
        id: UInt32,
        entry: ServerMethodEntry,
        methodMetrics: MethodMetrics,
        encoding: MessageEncoding,
        startedAt: NIODeadline,
        context: CallContext,
        receiveWindow: Int
    ) {
        self.id = id
        self.entry = entry
        self.methodMetrics = methodMetrics
        self.encoding = encoding
        self.startedAt = startedAt
        self.context = context
        self.machine = CallStateMachine.Server(singleRequest: entry.kind.singleRequest, deadline: context.deadline?.uptimeNanoseconds)
        self.inbound = InboundMessageReader(window: receiveWindow)
    }
}
