import Synchronization

/// The endpoints the attempts of one logical call went to, so a retry or a hedge goes to a different replica when
/// there is one. Shared by every attempt: a retrying interceptor's attempts carry the same ``OutboundCall``; a
/// hedge's two attempts find it in ``shared``.
final class AttemptHistory: Sendable {
    private let tried = Mutex<[Endpoint]>([])

    /// An empty history.
    init() {}

    /// The history of the hedge being run: both of its attempts use it.
    @TaskLocal static var shared: AttemptHistory?

    /// The endpoints tried so far, in order.
    var endpoints: [Endpoint] { self.tried.withLock { $0 } }

    /// Whether `endpoint` was tried.
    func contains(_ endpoint: Endpoint) -> Bool {
        self.tried.withLock { $0.contains(endpoint) }
    }

    /// Records that an attempt went to `endpoint`.
    func record(_ endpoint: Endpoint) {
        self.tried.withLock { if !$0.contains(endpoint) { $0.append(endpoint) } }
    }
}
