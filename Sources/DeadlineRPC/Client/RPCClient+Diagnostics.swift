// What tests and diagnostics read from or do to a client's connections; none of it is public API.
extension RPCClient {
    /// Calls started and not yet ended, waiting or on a connection (DeadlineRPCTesting's leak check).
    package var openCalls: Int {
        get async {
            await withCheckedContinuation { (continuation: CheckedContinuation<Int, Never>) in
                self.manager.onLoop { continuation.resume(returning: self.manager.openCallCount) }
            }
        }
    }

    /// What the client is doing and waiting for (diagnostics for tests; the format may change).
    func debugSnapshot() async -> String {
        await self.manager.debugSnapshot()
    }

    /// Moves the next stream id of every ready connection up to `id` (ids only grow): tests reach a connection's
    /// last stream ids without the billion calls it takes to use them up.
    func advanceStreamIDs(to id: UInt32) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            self.manager.onLoop {
                for endpoint in self.manager.endpoints {
                    guard let connection = endpoint.lifecycle.readyConnection else { continue }
                    connection.nextStreamID = max(connection.nextStreamID, id)
                }
                continuation.resume()
            }
        }
    }
}
