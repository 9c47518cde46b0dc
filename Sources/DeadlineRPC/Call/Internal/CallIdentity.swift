import Logging

/// What a call's context says about the call itself, fixed when the call starts. It lives in the call's
/// ``CallControl`` (one allocation per call already), so a ``CallContext`` — copied into every async frame and
/// task-local binding that holds it — carries one reference for all of it instead of ~200 bytes of fields, each
/// reference among them retained on every copy.
///
/// Stored packed (72 bytes rather than 88: the two optionals' flags share a byte, the hop count is 32 bits), since
/// every call in flight holds one (issue #19, goal 5).
struct CallIdentity: Sendable {
    var method: String
    var callID: UInt64
    var peer: PeerIdentity?
    var logger: Logger
    /// ``originalBudget``'s value (zero when there is none).
    private var budget: Duration
    /// ``arrival``'s uptime in nanoseconds (0 when there is none).
    private var arrivalNanoseconds: Int64
    /// ``hopCount`` (the wire carries it in a byte; -1 for a root).
    private var hops: Int32
    /// Which of ``originalBudget`` and ``arrival`` are set.
    private var present: UInt8

    private static let hasBudget: UInt8 = 1
    private static let hasArrival: UInt8 = 2

    init(
        method: String,
        callID: UInt64,
        hopCount: Int,
        originalBudget: Duration?,
        arrival: Deadline?,
        peer: PeerIdentity?,
        logger: Logger
    ) {
        self.method = method
        self.callID = callID
        self.peer = peer
        self.logger = logger
        self.budget = originalBudget ?? .zero
        self.arrivalNanoseconds = arrival?.uptimeNanoseconds ?? 0
        self.hops = Int32(clamping: hopCount)
        self.present = (originalBudget == nil ? 0 : Self.hasBudget) | (arrival == nil ? 0 : Self.hasArrival)
    }

    /// How many calls lie above this one in the chain (-1 for code that serves no call).
    var hopCount: Int { Int(self.hops) }

    /// The budget the first caller in the chain set, when the call carried one.
    var originalBudget: Duration? { self.present & Self.hasBudget == 0 ? nil : self.budget }

    /// When the call arrived, on this process's clock (nil for a root).
    var arrival: Deadline? {
        self.present & Self.hasArrival == 0 ? nil : Deadline(uptimeNanoseconds: self.arrivalNanoseconds)
    }

    /// Code that serves no call (a root caller): outbound calls from it are hop 0. Made each time, so its logger
    /// comes from the logging system as bootstrapped by then.
    static var root: CallIdentity {
        CallIdentity(
            method: "",
            callID: 0,
            hopCount: -1,
            originalBudget: nil,
            arrival: nil,
            peer: nil,
            logger: Logger(label: "DeadlineRPC")
        )
    }
}
