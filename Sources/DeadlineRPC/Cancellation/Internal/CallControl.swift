import Synchronization
import Wire

/// The part of a call shared between its handler task and the connection: the cancel cause and trailers (mutable),
/// and the call's identity (fixed).
final class CallControl: Sendable {
    private struct State {
        var cancelReason: CancelReason?
        var trailers = Metadata()
    }
    private let state = Mutex(State())
    /// The enclosing control (a fan-out group's children have the call's control as parent): its cause applies
    /// when this one has none of its own.
    let parent: CallControl?
    /// The call this control belongs to (a child control shares its parent's).
    let identity: CallIdentity

    init(parent: CallControl? = nil, identity: CallIdentity? = nil) {
        self.parent = parent
        self.identity = identity ?? parent?.identity ?? .root
    }

    var cancelReason: CancelReason? { self.state.withLock { $0.cancelReason } ?? self.parent?.cancelReason }

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
