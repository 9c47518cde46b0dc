import NIOCore
import Wire

/// One outbound call: what the caller decided (immutable, shared with the caller's task) and what the connection
/// tracks for it on its event loop — in one object, since every call makes one.
///
/// `@unchecked Sendable` is sound because the `let`s never change and every `var` is read and written only on
/// `eventLoop`: the caller's task reaches them only through ``onLoop(_:)``, the connection and its manager run
/// there, and ``loop`` (the accessor the rest of the client goes through) asserts it in debug builds.
///
/// Its `var`s are `@exclusivity(unchecked)` (no run-time exclusivity check, see docs/PERFORMANCE.md, issue #19
/// "Throughput"): sound because only the event loop touches them and no access spans a call that could reach the
/// same property (the state machine and readers are pure values).
final class ClientCall: @unchecked Sendable, DeadlineQueueEntry {
    // Declared in this order to pack the stored properties (Swift lays them out as declared): the bytes and
    // flags sit together rather than each padded to 8, which keeps the object at 272 bytes (issue #19, goal 5).
    // The `let`s are the caller's decisions; the `var`s live on the event loop.
    /// The client's event loop: every `var` lives there.
    let eventLoop: any EventLoop
    /// The full method name.
    let method: String
    /// The request metadata, validated and with the propagated keys.
    let metadata: Metadata
    /// The responses of a streaming-response call.
    let responses: InboundMessageQueue?
    /// The control of the call being served when this call was made: its cancel cause is forwarded.
    let parentControl: CallControl?
    /// The endpoints earlier attempts of the same logical call went to (retries, hedges): avoided when possible.
    let history: AttemptHistory?
    /// The single request of a unary or server-streaming call until a single response replaces it (a request is
    /// resent only when the server never processed it, so never after a response): one slot for both keeps the call
    /// 16 bytes smaller (issue #19, goal 5) and lets the request go as soon as the reply is in.
    @exclusivity(unchecked) private var payload: ByteBuffer?
    /// The call shape.
    let kind: CallKind
    /// How many calls lie above this one in the chain.
    let hopCount: UInt8
    /// How request messages are compressed (when the server accepts it).
    let encoding: MessageEncoding
    /// Whether a server's `GOAWAY` already sent it back unprocessed once: a second time it fails, so a server
    /// that refuses every call cannot make the client loop.
    @exclusivity(unchecked) var requeuedOnce = false
    /// Whether ``payload`` holds the single response (else the request, if any).
    @exclusivity(unchecked) private var payloadIsResponse = false
    /// The call's stream on its connection (0 until it has one).
    @exclusivity(unchecked) var streamID: UInt32 = 0
    /// When the call must end, on the loop's clock (nil: no deadline).
    let deadline: Deadline?
    /// Where the call is in its life (waiting, open, half-closed, ended): the one place that says so.
    @exclusivity(unchecked) var machine: CallStateMachine.Client
    /// The budget the first caller in the chain set, sent for per-hop attribution.
    let originalBudget: Duration?
    /// The single request of a unary or server-streaming call (nil once a single response took its place).
    var firstRequest: ByteBuffer? { self.payloadIsResponse ? nil : self.payload }
    /// A single-response call's response, held until the server's `CALL_END`; setting it lets the request go.
    var singleResponse: ByteBuffer? {
        get { self.payloadIsResponse ? self.payload : nil }
        set {
            self.payload = newValue
            self.payloadIsResponse = true
        }
    }
    /// The connection the call's stream is on, while it is on one.
    @exclusivity(unchecked) var connection: ClientConnectionHandler?
    /// The server's verified TLS identity on the connection the call went over (nil without TLS).
    @exclusivity(unchecked) var peer: PeerIdentity?
    /// The endpoint the call was sent to, until its stream ends.
    @exclusivity(unchecked) var endpoint: EndpointConnection?
    /// When it was sent (for its endpoint's latency).
    @exclusivity(unchecked) var sentAt = NIODeadline.uptimeNanoseconds(0)
    /// For the runtime's own calls (the health watch): each response message goes here, on the loop, instead of to
    /// a caller.
    var onMessage: ((ByteBuffer) -> Void)? {
        get { self.rare?.onMessage }
        set { self.rareFields().onMessage = newValue }
    }
    /// For the runtime's own calls: how the call ended (nil: OK), on the loop.
    var onEnd: ((RPCError?) -> Void)? {
        get { self.rare?.onEnd }
        set { self.rareFields().onEnd = newValue }
    }
    /// The endpoint whose `GOAWAY` sent this call back unprocessed: the picker sends it elsewhere when another
    /// endpoint takes calls or is connecting, so one draining replica cannot spend the call's only transparent retry.
    var refusedBy: EndpointConnection? {
        get { self.rare?.refusedBy }
        set { self.rareFields().refusedBy = newValue }
    }
    /// ``onMessage``, ``onEnd`` and ``refusedBy`` behind one reference, made only for the runtime's own calls and
    /// calls sent back unprocessed: inline, they were 40 bytes in every call.
    @exclusivity(unchecked) private var rare: RareFields?
    /// Credit window, reassembly and decompression of the server's messages.
    @exclusivity(unchecked) var inbound = InboundMessageReader(window: 0)
    /// Where the call sits in its client's deadline queue (-1 when not queued); the manager keeps it.
    @exclusivity(unchecked) var deadlineQueueIndex = -1
    /// Where a single-response call's outcome goes. Unchecked because `complete` is its only resumer and runs once
    /// (the machine ends a call once), taking the continuation out before resuming it; a checked one costs an
    /// allocation and an atomic exchange on every call.
    /// It resumes with no value (the caller reads the reply with ``resumedReply()``), so the caller's parked frames
    /// need not hold room for one.
    @exclusivity(unchecked) var single: UnsafeContinuation<Void, any Error>?
    /// Where a streaming-response call's final outcome goes once the messages are done.
    @exclusivity(unchecked) var trailers = Metadata()
    /// The error of an end already decided but delivered at the end of the tick (nil otherwise).
    var endingError: RPCError? {
        get { self.endingBox?.error }
        set { self.endingBox = newValue.map(ErrorBox.init) }
    }
    /// ``endingError`` behind a reference: an `RPCError` inline is ~48 bytes in every call, and only a deadline
    /// being delivered sets it.
    @exclusivity(unchecked) private var endingBox: ErrorBox?
    /// A request writer waiting for the stream's queue to drain. This and ``startWaiter`` are unsafe continuations
    /// for the reason ``single`` is (each resumer takes it out first, so it is resumed once), and because a checked
    /// one is a resilient type: its `Optional` is copied and destroyed through value witnesses, about a dozen times
    /// per call, and every stored property after it sits at an offset read from the class's metadata.
    @exclusivity(unchecked) var writerWaiter: UnsafeContinuation<Void, any Error>?
    /// A streaming-request caller waiting for the call to reach a connection before it writes.
    @exclusivity(unchecked) var startWaiter: UnsafeContinuation<Void, any Error>?
    /// How the call ended, once it has: read by writers and by a client-streaming caller that half-closes late.
    var outcome: Result<Void, RPCError>? {
        get {
            switch self.ended {
            case nil: return nil
            case .succeeded?: return .success(())
            case .failed(let box)?: return .failure(box.error)
            }
        }
        set {
            switch newValue {
            case nil: self.ended = nil
            case .success?: self.ended = .succeeded
            case .failure(let error)?: self.ended = .failed(ErrorBox(error))
            }
        }
    }
    /// ``outcome`` in 8 bytes (a failure's error behind a reference), not an inline `RPCError` in every call.
    @exclusivity(unchecked) private var ended: Ended?

    /// A call as the caller decided it; the machine starts idle.
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
        responses: InboundMessageQueue?,
        history: AttemptHistory? = nil
    ) {
        self.parentControl = parentControl
        self.history = history
        self.eventLoop = eventLoop
        self.method = method
        self.kind = kind
        self.deadline = deadline
        self.originalBudget = originalBudget
        self.hopCount = hopCount
        self.metadata = metadata
        self.encoding = encoding
        self.payload = firstRequest
        self.responses = responses
        self.machine = CallStateMachine.Client(singleResponse: kind.singleResponse)
    }

    /// The call's event-loop state (this object), checked to be used on its event loop in debug builds.
    var loop: ClientCall {
        self.eventLoop.assertInEventLoop()
        return self
    }

    /// Runs `body` on the event loop (at once when already there).
    func onLoop(_ body: @escaping @Sendable () -> Void) {
        if self.eventLoop.inEventLoop { body() } else { self.eventLoop.execute(body) }
    }

    /// Resumes a single-response caller once the call ended well (on the loop); it reads the reply with
    /// ``resumedReply()``.
    func resumeWithReply(_ caller: UnsafeContinuation<Void, any Error>) {
        self.eventLoop.assertInEventLoop()
        caller.resume()
    }

    /// The reply, read by the caller after ``resumeWithReply(_:)`` resumed it, off the loop. Sound although these
    /// fields belong to the loop: the connection writes `singleResponse` and `trailers` only to a call it finds on one
    /// of its streams, and `peer` when the call starts; a call that ended well is on no stream and never starts
    /// again, so nothing writes them after the resume, which orders the loop's writes before this read.
    func resumedReply() -> SingleResponse {
        SingleResponse(message: self.singleResponse ?? ByteBuffer(), trailers: self.trailers, peer: self.peer)
    }

    /// Delivers the call's outcome to whoever waits. Called for the one action of ``machine`` that ends the call,
    /// so once; the deadline and the connection's books are its owners' to settle.
    func complete(_ result: Result<ByteBuffer?, RPCError>) {
        guard self.outcome == nil else {
            assertionFailure("ClientCall: a call was completed twice")
            return
        }
        switch result {
        case .success(let response):
            self.outcome = .success(())
            if let single = self.single {
                self.single = nil
                self.singleResponse = response
                self.resumeWithReply(single)
            }
            self.responses?.finish(trailers: self.trailers)
        case .failure(let error):
            self.outcome = .failure(error)
            if let single = self.single {
                self.single = nil
                let boxed: any Error = error  // Boxed once, here, rather than by each generic hop on the way.
                single.resume(throwing: boxed)
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
        if let onEnd = self.onEnd {
            self.onEnd = nil
            onEnd(self.outcomeError)
        }
    }

    /// The fields few calls use, made on first use.
    private func rareFields() -> RareFields {
        if let rare = self.rare { return rare }
        let rare = RareFields()
        self.rare = rare
        return rare
    }

    /// See ``rare``.
    private final class RareFields {
        var onMessage: ((ByteBuffer) -> Void)?
        var onEnd: ((RPCError?) -> Void)?
        var refusedBy: EndpointConnection?
    }

    /// How a call ended, compactly (see ``outcome``).
    private enum Ended {
        case succeeded
        case failed(ErrorBox)
    }

    /// An error kept behind one reference (loop only, like the call's other state).
    private final class ErrorBox {
        let error: RPCError
        init(_ error: RPCError) { self.error = error }
    }

    /// The error the call ended with, if it failed — or is ending with: a deadline's end is delivered at the end of
    /// the event-loop tick (``ClientConnectionHandler/cancelWrittenAtTickEnd(_:_:)``), and a request written in
    /// between is refused with it rather than with "not connected".
    var outcomeError: RPCError? {
        if case .failure(let error)? = self.outcome { return error }
        return self.endingError
    }
}
