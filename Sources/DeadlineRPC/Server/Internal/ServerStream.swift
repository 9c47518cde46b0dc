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
    var machine: ServerStreamStateMachine
    /// Credit window, reassembly and decompression of the client's messages.
    var inbound: InboundMessageReader
    /// Where the stream sits in its connection's ``DeadlineQueue``: queued for its deadline while the call is open,
    /// then — when the call ends with the handler still running — for the straggler check.
    var deadlineQueueIndex = -1
    /// Why the call ended while its handler kept running (for the straggler log).
    var endReason: CancelReason?
    var task: Task<Void, Never>?
    var requests: InboundMessageQueue?
    var writerWaiter: CheckedContinuation<Void, any Error>?
    /// When the call ended while its handler kept running.
    var endedAt: NIODeadline?
    var isStraggler = false
    /// The call's end was recorded in the metrics (it is recorded exactly once).
    var finishRecorded = false
    var handlerRunning = false
    /// The handler may start but every handler slot is taken (by handlers of ended calls winding down): it
    /// starts, with this first message, when a slot frees.
    var awaitingSlot = false
    /// The first request message of a single-request call waiting for a handler slot.
    var pendingFirstMessage: ByteBuffer?

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
        self.machine = ServerStreamStateMachine(singleRequest: entry.kind.singleRequest)
        self.inbound = InboundMessageReader(window: receiveWindow)
    }
}
