import NIOCore
import Synchronization

/// The in-process stand-in for a server's listening socket (DeadlineRPCTesting): channels handed to
/// ``RPCServer/acceptInProcess(_:)`` become connections of the server's ``RPCServer/run()`` exactly as accepted
/// sockets do — same connection handler, same call state machine, same shutdown.
///
/// Every server holds one; only an in-process server enables it.
final class InProcessListener: Sendable {
    let connections: AsyncStream<ServerConnection>
    private let sink: AsyncStream<ServerConnection>.Continuation
    private let enabled = Atomic<Bool>(false)

    /// A listener that accepts until the server stops, once enabled.
    init() {
        (self.connections, self.sink) = AsyncStream.makeStream(of: ServerConnection.self)
    }

    /// Whether the server serves in process (set once, before ``RPCServer/run()``).
    var isEnabled: Bool { self.enabled.load(ordering: .relaxed) }

    /// Makes the server serve in process.
    func enable() {
        self.enabled.store(true, ordering: .relaxed)
    }

    /// Hands an accepted connection to the server's loop; false once the listener is closed.
    func accept(_ connection: ServerConnection) -> Bool {
        if case .enqueued = self.sink.yield(connection) { return true }
        return false
    }

    /// Stops accepting (what closing the listening socket is to a TCP server).
    func close() {
        self.sink.finish()
    }
}
