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
    public var method: String { self.control.identity.method }
    /// A per-process id for this call, for logs.
    public var callID: UInt64 { self.control.identity.callID }
    /// The deadline on this host's clock, or nil when the call has none.
    public let deadline: Deadline?
    /// Request metadata (a server interceptor may pass the handler a context with changed metadata).
    public var metadata: Metadata
    /// How many calls lie above this one in the chain (0 when the caller was not itself serving a call).
    public var hopCount: Int { self.control.identity.hopCount }
    /// The budget the chain's first caller set, when known.
    public var originalBudget: Duration? { self.control.identity.originalBudget }
    /// When the call arrived on this host (nil outside a server).
    public var arrival: Deadline? { self.control.identity.arrival }
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
    public var peer: PeerIdentity? { self.control.identity.peer }
    /// A logger with `drpc.method` and `drpc.call_id` metadata (built when first asked for: most calls never log).
    public var logger: Logger {
        get {
            var logger = self.loggerOverride?.logger ?? self.control.identity.logger
            let identity = self.control.identity
            if !identity.method.isEmpty {
                logger[metadataKey: "drpc.method"] = "\(identity.method)"
                logger[metadataKey: "drpc.call_id"] = "\(identity.callID)"
            }
            return logger
        }
        set { self.loggerOverride = LoggerBox(newValue) }
    }
    /// A logger set on this context; nil uses the call's.
    private var loggerOverride: LoggerBox?

    /// The call's shared state: its cancel cause, its trailers and its identity (method, id, hop, peer, logger).
    let control: CallControl

    /// The context of the call the current task serves, if any.
    @TaskLocal public static var current: CallContext?

    init(
        deadline: Deadline?,
        metadata: Metadata,
        serviceContext: ServiceContext,
        control: CallControl
    ) {
        self.deadline = deadline
        self.metadata = metadata
        self.serviceContext = serviceContext
        self.control = control
        self.loggerOverride = nil
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

    /// The same call seen by a scope with a tighter deadline and/or its own cancellation cause (`control`'s parent
    /// is this context's control, so it shares the call's identity).
    func narrowed(deadline newDeadline: Deadline?, control: CallControl) -> CallContext {
        var copy = CallContext(
            deadline: [self.deadline, newDeadline].compactMap { $0 }.min(),
            metadata: self.metadata,
            serviceContext: self.serviceContext,
            control: control
        )
        copy.loggerOverride = self.loggerOverride
        return copy
    }

    /// A context for code that serves no call (a root caller), so combinators can narrow it too.
    static func root(deadline: Deadline?, control: CallControl) -> CallContext {
        CallContext(deadline: deadline, metadata: Metadata(), serviceContext: .topLevel, control: control)
    }

    /// Sets the trailing metadata sent when the call ends successfully (errors carry their own).
    public func setTrailingMetadata(_ metadata: Metadata) {
        self.control.setTrailers(metadata)
    }
}

/// A logger set on one context (``CallContext/logger``'s setter, rare): boxed so the context stays small without one.
private final class LoggerBox: Sendable {
    let logger: Logger

    init(_ logger: Logger) {
        self.logger = logger
    }
}
