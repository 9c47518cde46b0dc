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
    /// Request metadata.
    public let metadata: Metadata
    /// How many calls lie above this one in the chain (0 when the caller was not itself serving a call).
    public let hopCount: Int
    /// The budget the chain's first caller set, when known.
    public let originalBudget: Duration?
    /// Typed context values (`ServiceContext` keys) and the trace context, carried to outbound calls.
    public var serviceContext: ServiceContext
    /// A logger with `drpc.method` and `drpc.call_id` metadata.
    public var logger: Logger

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
        serviceContext: ServiceContext,
        logger: Logger,
        control: CallControl = CallControl()
    ) {
        self.method = method
        self.callID = callID
        self.deadline = deadline
        self.metadata = metadata
        self.hopCount = hopCount
        self.originalBudget = originalBudget
        self.serviceContext = serviceContext
        self.logger = logger
        self.control = control
    }

    /// Why the call was cancelled, once it has been (nil while it is live).
    public var cancelReason: CancelReason? { self.control.cancelReason }

    /// Time left before the deadline, or nil when there is none.
    public var timeRemaining: Duration? { self.deadline?.timeRemaining }

    /// Sets the trailing metadata sent when the call ends successfully (errors carry their own).
    public func setTrailingMetadata(_ metadata: Metadata) {
        self.control.setTrailers(metadata)
    }
}

/// The mutable part of a call shared between its handler task and the connection: the cancel cause and trailers.
final class CallControl: Sendable {
    private struct State {
        var cancelReason: CancelReason?
        var trailers = Metadata()
    }
    private let state = Mutex(State())

    init() {}

    var cancelReason: CancelReason? { self.state.withLock { $0.cancelReason } }

    /// Records the first cause only: a later one never overwrites why the call ended.
    func recordCancel(_ reason: CancelReason) {
        self.state.withLock { state in
            if state.cancelReason == nil { state.cancelReason = reason }
        }
    }

    func setTrailers(_ metadata: Metadata) {
        self.state.withLock { $0.trailers = metadata }
    }

    var trailers: Metadata { self.state.withLock { $0.trailers } }
}
