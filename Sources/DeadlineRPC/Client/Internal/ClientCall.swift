import NIOCore
import Wire

/// One outbound call: what the caller decided (immutable, shared with the caller's task) and, in
/// ``ClientCallLoopState``, what the connection tracks on its event loop.
final class ClientCall: Sendable, DeadlineQueueEntry {
    let eventLoop: any EventLoop
    let method: String
    let kind: CallKind
    let deadline: Deadline?
    let originalBudget: Duration?
    let hopCount: UInt8
    let metadata: Metadata
    let encoding: MessageEncoding
    /// The responses of a streaming-response call.
    let responses: InboundMessageQueue?
    /// The single request of a unary or server-streaming call.
    let firstRequest: ByteBuffer?
    /// The control of the call being served when this call was made: its cancel cause is forwarded.
    let parentControl: CallControl?
    /// Confined to `eventLoop`.
    let loop: NIOLoopBoundBox<ClientCallLoopState>

    init(
        eventLoop: any EventLoop,
        method: String,
        kind: CallKind,
        deadline: Deadline?,
        originalBudget: Duration?,
        hopCount: UInt8,
        metadata: Metadata,
        encoding: MessageEncoding,
        firstRequest: ByteBuffer?,
        parentControl: CallControl?,
        responses: InboundMessageQueue?
    ) {
        self.parentControl = parentControl
        self.eventLoop = eventLoop
        self.method = method
        self.kind = kind
        self.deadline = deadline
        self.originalBudget = originalBudget
        self.hopCount = hopCount
        self.metadata = metadata
        self.encoding = encoding
        self.firstRequest = firstRequest
        self.responses = responses
        self.loop = NIOLoopBoundBox.makeBoxSendingValue(
            ClientCallLoopState(singleResponse: kind.singleResponse, responses: responses),
            as: ClientCallLoopState.self,
            eventLoop: eventLoop
        )
    }

    /// Where the call sits in its client's ``DeadlineQueue`` (event loop only).
    var deadlineQueueIndex: Int {
        get { self.loop.value.deadlineQueueIndex }
        set { self.loop.value.deadlineQueueIndex = newValue }
    }

    /// Runs `body` on the event loop (at once when already there).
    func onLoop(_ body: @escaping @Sendable () -> Void) {
        if self.eventLoop.inEventLoop { body() } else { self.eventLoop.execute(body) }
    }
}

/// The event-loop side of a ``ClientCall``.
final class ClientCallLoopState {
    var streamID: UInt32 = 0
    var connection: ClientConnectionHandler?
    var machine: ClientStreamStateMachine
    /// Credit window, reassembly and decompression of the server's messages.
    var inbound = InboundMessageReader(window: 0)
    /// Where the call sits in its client's deadline queue (-1 when not queued), and that client, so ending the call
    /// takes its deadline out at once.
    var deadlineQueueIndex = -1
    var deadlineOwner: ClientConnectionManager?
    /// The caller cancelled before the call reached a connection.
    var pendingCancel: CancelReason?
    var finished = false
    /// Where a single-response call's outcome goes.
    var single: CheckedContinuation<ByteBuffer, any Error>?
    var singleResponse: ByteBuffer?
    /// Where a streaming-response call's messages go.
    let responses: InboundMessageQueue?
    /// Where a streaming-response call's final outcome goes once the messages are done.
    var trailers = Metadata()
    /// A request writer waiting for the stream's queue to drain.
    var writerWaiter: CheckedContinuation<Void, any Error>?
    /// A streaming-request caller waiting for the call to reach a connection before it writes.
    var startWaiter: CheckedContinuation<Void, any Error>?
    /// Waiters for the final outcome (streaming calls).
    var outcomeWaiters: [CheckedContinuation<Void, any Error>] = []
    var outcome: Result<Void, RPCError>?

    init(singleResponse: Bool, responses: InboundMessageQueue?) {
        self.machine = ClientStreamStateMachine(singleResponse: singleResponse)
        self.responses = responses
    }

    /// Delivers the call's outcome to whoever waits, exactly once.
    func complete(_ result: Result<ByteBuffer?, RPCError>) {
        guard !self.finished else { return }
        self.finished = true
        if let owner = self.deadlineOwner {
            self.deadlineOwner = nil
            owner.removeDeadline(atIndex: self.deadlineQueueIndex)
        }
        switch result {
        case .success(let response):
            self.outcome = .success(())
            if let single = self.single {
                self.single = nil
                single.resume(returning: response ?? ByteBuffer())
            }
            self.responses?.finish()
        case .failure(let error):
            self.outcome = .failure(error)
            if let single = self.single {
                self.single = nil
                single.resume(throwing: error)
            }
            self.responses?.finish(error)
        }
        if let waiter = self.startWaiter {
            self.startWaiter = nil
            waiter.resume(throwing: self.outcomeError ?? RPCError(code: .cancelled, message: "The call has ended."))
        }
        if let waiter = self.writerWaiter {
            self.writerWaiter = nil
            waiter.resume(throwing: self.outcomeError ?? RPCError(code: .cancelled, message: "The call has ended."))
        }
        let waiters = self.outcomeWaiters
        self.outcomeWaiters = []
        for waiter in waiters {
            switch self.outcome! {
            case .success: waiter.resume()
            case .failure(let error): waiter.resume(throwing: error)
            }
        }
    }

    var outcomeError: RPCError? {
        if case .failure(let error)? = self.outcome { return error }
        return nil
    }
}
