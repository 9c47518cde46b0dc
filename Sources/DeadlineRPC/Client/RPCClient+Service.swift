import ServiceLifecycle

/// A client is a swift-service-lifecycle `Service`, so that it outlives the servers whose handlers call through it:
/// a `ServiceGroup` shuts its services down in reverse order, so add the client before those servers.
extension RPCClient: Service {
    /// Keeps the client open until graceful shutdown, then closes it gracefully: new calls fail `unavailable`, the
    /// calls already made run to their end (each within its deadline), then the connections close. Cancelling the
    /// task closes it at once instead, as ``close()`` does: calls still open fail `unavailable`.
    public func run() async throws {
        do {
            try await gracefulShutdown()
        } catch {
            // Cancelled before any graceful shutdown.
            await self.close()
            return
        }
        await self.manager.drain()  // Returns early if the task is cancelled meanwhile.
        await self.close()
    }
}
