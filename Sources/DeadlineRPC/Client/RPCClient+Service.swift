import ServiceLifecycle

/// A client is a swift-service-lifecycle `Service`, so that it outlives the servers whose handlers call through it:
/// a `ServiceGroup` shuts its services down in reverse order, so add the client before those servers.
extension RPCClient: Service {
    /// Keeps the client open until graceful shutdown, then shuts it down gracefully (``shutdownGracefully()``).
    /// Cancelling the task closes it at once instead, as ``close()`` does: calls still open fail `unavailable`.
    public func run() async throws {
        do {
            try await gracefulShutdown()
        } catch {
            // Cancelled before any graceful shutdown.
            await self.close()
            return
        }
        await self.shutdownGracefully()
    }

    /// Refuses new calls from now on (`unavailable`, "The client is shutting down"), lets the calls already made run
    /// to their end (each within its deadline), then closes the connections; returns when all is done. Cancelling the
    /// task meanwhile closes at once, as ``close()`` does.
    public func shutdownGracefully() async {
        await self.manager.drain()  // Returns early if the task is cancelled meanwhile.
        await self.close()
    }
}
