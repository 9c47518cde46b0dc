import NIOCore

/// The server's connection handler on a channel the caller owns, with the few read-outs a fuzz harness checks its
/// invariants against. For `FuzzTesting/FuzzServerConnection` and the test that replays its inputs, nothing else.
///
/// Why an SPI and not `public` or `@testable`: the fuzz target lives in its own package (it must not make every user
/// build libFuzzer glue), so it can see only what `DeadlineRPC` exports, and `@testable import` needs a
/// `-enable-testing` build of the dependency, which SwiftPM gives test targets only. `@_spi(Fuzzing)` exports this one
/// type to importers that ask for it by name and keeps it out of the documented API (underscored, see `STYLE.md`):
/// `ServerConnectionHandler`, its streams and state machines stay internal.
@_spi(Fuzzing)
public final class FuzzingServerConnection {
    private let handler: ServerConnectionHandler
    private let metrics: ServerMetrics

    /// Adds a server connection handler to `channel`'s pipeline, as `RPCServer` does for an accepted socket. Call on
    /// the channel's event loop; the handler sends its preface once the channel is active. Unlike a real server's,
    /// its handler tasks run on `channel`'s loop, so an `EmbeddedEventLoop` runs them deterministically.
    public init(channel: any Channel, router: Router, configuration: RPCServer.Configuration) throws {
        self.metrics = ServerMetrics(prefix: configuration.metricsPrefix, factory: configuration.metricsFactory)
        let router = router.with(
            HandlerEnvironment(interceptors: configuration.interceptors, instrument: configuration.instrument, propagatedKeys: configuration.propagatedKeys),
            metrics: self.metrics
        )
        self.handler = ServerConnectionHandler(
            router: router,
            configuration: configuration,
            metrics: self.metrics,
            callIDs: CallIDGenerator(),
            eventLoop: channel.eventLoop,
            handlersOnLoop: true
        )
        try channel.pipeline.syncOperations.addHandler(self.handler)
    }

    /// The handler ended the connection (goaway sent, or the channel closed).
    public var isClosed: Bool { self.handler.state == .closed }

    /// The handler sent a goaway and is draining (graceful shutdown).
    public var isDraining: Bool { self.handler.state == .draining }

    /// Succeeds once the channel is closed and every handler task the connection started has returned.
    public var handlersDone: EventLoopFuture<Void> { self.handler.handlersDone.futureResult }

    /// This connection's counters (calls started and finished, handlers in flight, connections open).
    public var stats: ServerStats { self.metrics.counters.snapshot }

    /// Begins graceful shutdown, as `RPCServer.beginGracefulShutdown()` does for each connection. Call on the loop.
    public func beginGracefulShutdown() { self.handler.beginGracefulShutdown() }

    /// A check, to call once this object and the channel are gone, that the handler was freed too: a closed
    /// connection's handler must not stay alive through a reference cycle (a leak the kill soak once found).
    public func handlerFreed() -> () -> Bool {
        weak let handler = self.handler
        return { handler == nil }
    }
}
