import Wire
import Logging
import ServiceContextModule
import Synchronization

/// What a handler knows about the call it serves, carried by its task so that everything it calls — including
/// outbound calls through any ``RPCClient`` — sees it without being handed anything.
///
/// Outbound calls made while `CallContext.current` is set inherit its deadline (an explicit timeout can only
/// shorten it), carry its hop count and original budget onward, and are cancelled with the handler's task.
public struct CallContext: Sendable {
    /// The full method name being served.
    public let method: String
    /// A per-process id for this call, for logs.
    public let callID: UInt64
    /// The deadline on this host's clock, or nil when the call has none.
    public let deadline: Deadline?
    /// Request metadata (a server interceptor may pass the handler a context with changed metadata).
    public var metadata: Metadata
    /// How many calls lie above this one in the chain (0 when the caller was not itself serving a call).
    public let hopCount: Int
    /// The budget the chain's first caller set, when known.
    public let originalBudget: Duration?
    /// When the call arrived on this host (nil outside a server).
    public let arrival: Deadline?
    /// Typed context values (`ServiceContext` keys) for this call, on this host.
    ///
    /// What crosses a hop is only what an `Instrument` writes into request metadata (the client's
    /// `Configuration.instrument`, else `InstrumentationSystem.instrument`): with a tracer, the trace context. On
    /// arrival the server's instrument reads it back into the next hop's `serviceContext`. Any other value you set
    /// here is seen by this handler and the code it runs in-process, and does not reach the next service unless an
    /// instrument (or a declared propagation) carries it; a server starts each call from `.topLevel` plus what its
    /// instrument extracted.
    public var serviceContext: ServiceContext
    /// Who the client proved to be with its TLS certificate (mutual TLS); nil on plaintext and one-way TLS
    /// connections, and outside a server (`docs/SECURITY.md`).
    public let peer: PeerIdentity?
    /// A logger with `drpc.method` and `drpc.call_id` metadata (built when first asked for: most calls never log).
    public var logger: Logger {
        get {
            var logger = self.baseLogger
            if !self.method.isEmpty {
                logger[metadataKey: "drpc.method"] = "\(self.method)"
                logger[metadataKey: "drpc.call_id"] = "\(self.callID)"
            }
            return logger
        }
        set { self.baseLogger = newValue }
    }
    private var baseLogger: Logger

    let control: CallControl

    /// The context of the call the current task serves, if any.
    @TaskLocal public static var current: CallContext?

    init(
        method: String,
        callID: UInt64,
        deadline: Deadline?,
        metadata: Metadata,
        hopCount: Int,
        originalBudget: Duration?,
        arrival: Deadline? = nil,
        serviceContext: ServiceContext,
        logger: Logger,
        control: CallControl = CallControl(),
        peer: PeerIdentity? = nil
    ) {
        self.peer = peer
        self.arrival = arrival
        self.method = method
        self.callID = callID
        self.deadline = deadline
        self.metadata = metadata
        self.hopCount = hopCount
        self.originalBudget = originalBudget
        self.serviceContext = serviceContext
        self.baseLogger = logger
        self.control = control
    }

    /// Why the call was cancelled, once it has been (nil while it is live).
    public var cancelReason: CancelReason? { self.control.cancelReason }

    /// Time left before the deadline, or nil when there is none.
    public var timeRemaining: Duration? { self.deadline?.timeRemaining }

    /// Where the chain's budget went so far, as seen from this hop (nil when the call has no deadline or the
    /// caller sent no original budget).
    public var budget: BudgetAttribution? {
        guard let deadline = self.deadline, let originalBudget = self.originalBudget, let arrival = self.arrival else {
            return nil
        }
        return BudgetAttribution(
            hop: self.hopCount,
            originalBudget: originalBudget,
            remainingOnArrival: deadline - arrival,
            usedHere: Deadline.now() - arrival
        )
    }

    /// The same call seen by a scope with a tighter deadline and/or its own cancellation cause.
    func narrowed(deadline newDeadline: Deadline?, control: CallControl) -> CallContext {
        var copy = CallContext(
            method: self.method,
            callID: self.callID,
            deadline: [self.deadline, newDeadline].compactMap { $0 }.min(),
            metadata: self.metadata,
            hopCount: self.hopCount,
            originalBudget: self.originalBudget,
            arrival: self.arrival,
            serviceContext: self.serviceContext,
            logger: self.baseLogger,
            control: control,
            peer: self.peer
        )
        copy.serviceContext = self.serviceContext
        return copy
    }

    /// A context for code that serves no call (a root caller), so combinators can narrow it too.
    static func root(deadline: Deadline?, control: CallControl) -> CallContext {
        CallContext(
            method: "",
            callID: 0,
            deadline: deadline,
            metadata: Metadata(),
            hopCount: -1,  // Outbound calls from here are hop 0.
            originalBudget: nil,
            serviceContext: .topLevel,
            logger: Logger(label: "DeadlineRPC"),
            control: control
        )
    }

    /// Sets the trailing metadata sent when the call ends successfully (errors carry their own).
    public func setTrailingMetadata(_ metadata: Metadata) {
        self.control.setTrailers(metadata)
    }
}
