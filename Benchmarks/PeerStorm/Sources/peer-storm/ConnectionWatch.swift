import RPCBenchCore
import Synchronization

/// Counts the TCP connections the shared grpc-swift-2 clients open, with when: one per client at the start, one
/// more each time a connection was lost and the client reconnected (grpc-swift-2 reconnects by itself; swift-nio-
/// http2's reset-flood limit closing the connection is what the storm provokes).
final class ConnectionWatch: Sendable {
    private let opened = Mutex<[Int64]>([])

    /// Creates an empty watch.
    init() {}

    /// Records a connection opened now.
    func connected() {
        let now = BenchClock.now()
        self.opened.withLock { $0.append(now) }
    }

    /// When each connection was opened (``BenchClock``), in order.
    var openedAt: [Int64] { self.opened.withLock { $0 } }
}
