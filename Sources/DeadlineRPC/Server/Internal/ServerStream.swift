import NIOCore
import Wire

/// One call on a server connection: its state machine and everything the event loop tracks for it. Confined to
/// the connection's event loop.
final class ServerStream: DeadlineQueueEntry {
    let id: UInt32
    let method: String
    let entry: ServerMethodEntry
    /// The method's instruments, resolved once per server rather than looked up per call.
    let methodMetrics: MethodMetrics
    let encoding: MessageEncoding
    let startedAt: NIODeadline
    let context: CallContext
    /// The call's life: its §9.3 state, its handler task, whether its end was recorded.
    var machine: CallStateMachine.Server
    /// Credit window, reassembly and decompression of the client's messages.
    var inbound: InboundMessageReader
    /// Where the stream sits in its connection's ``DeadlineQueue``: queued for its deadline while the call is open,
    /// then — when the call ends with the handler still running — for the straggler check.
    var deadlineQueueIndex = -1
    var task: Task<Void, Never>?
    var requests: InboundMessageQueue?
    var writerWaiter: CheckedContinuation<Void, any Error>?
    /// The queued bytes above which ``writerWaiter`` stays parked (set by each write; 0 for a writer that waits
    /// until its message is written, as a health watch does).
    var writerWatermark = ConnectionWriter.writerWatermark
    init(
        id: UInt32,
        method: String,
        entry: ServerMethodEntry,
        methodMetrics: MethodMetrics,
        encoding: MessageEncoding,
        startedAt: NIODeadline,
        context: CallContext,
        receiveWindow: Int
    ) {
        self.id = id
        self.method = method
        self.entry = entry
        self.methodMetrics = methodMetrics
        self.encoding = encoding
        self.startedAt = startedAt
        self.context = context
        self.machine = CallStateMachine.Server(singleRequest: entry.kind.singleRequest, deadline: context.deadline?.uptimeNanoseconds)
        self.inbound = InboundMessageReader(window: receiveWindow)
    }
}
