import NIOCore
import RPCBenchCore
import Synchronization

/// Watches the TCP connections grpc-swift-2 clients open, with when each opened and closed: one per client at the
/// start, one more each time a connection was lost and the client reconnected (grpc-swift-2 reconnects by itself;
/// swift-nio-http2's reset-flood limit closing the connection is what the storm provokes).
final class ConnectionWatch: Sendable {
    private let opened = Mutex<[Int64]>([])
    private let closed = Mutex<[Int64]>([])

    /// Creates an empty watch.
    init() {}

    /// Records a connection opened now, and its close when it comes (the client transport's debugging callback).
    func connected(_ channel: any Channel) {
        let now = BenchClock.now()
        self.opened.withLock { $0.append(now) }
        channel.closeFuture.whenComplete { _ in
            let closedAt = BenchClock.now()
            self.closed.withLock { $0.append(closedAt) }
        }
    }

    /// When each connection was opened (``BenchClock``), in order.
    var openedAt: [Int64] { self.opened.withLock { $0 } }

    /// When each connection closed (``BenchClock``), in order.
    var closedAt: [Int64] { self.closed.withLock { $0.sorted() } }
}
