import Logging

/// What a call's context says about the call itself, fixed when the call starts. It lives in the call's
/// ``CallControl`` (one allocation per call already), so a ``CallContext`` — copied into every async frame and
/// task-local binding that holds it — carries one reference for all of it instead of ~200 bytes of fields, each
/// reference among them retained on every copy.
struct CallIdentity: Sendable {
    var method: String
    var callID: UInt64
    var hopCount: Int
    var originalBudget: Duration?
    var arrival: Deadline?
    var peer: PeerIdentity?
    var logger: Logger

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
