import NIOCore
import Synchronization

// Graceful shutdown (`RPCClient.run()` as a swift-service-lifecycle `Service`): new calls are refused while the calls
// made before run to their end; `close()` then closes the connections. And a client let go without either.
extension ClientConnectionManager {
    /// Calls made and not ended: waiting for a connection or a stream, or on one. The client's own health watches
    /// are not calls: a drain stops them.
    var openCallCount: Int {
        self.inFlightCalls + self.pending.count + self.endpoints.reduce(0) { $0 + $1.waitingForStream.count }
    }

    /// Refuses new calls from now on and returns once every call made before has ended, or at once when the task is
    /// cancelled (the caller then closes: what is left fails `unavailable`).
    func drain() async {
        // Set before the cancel's hop to the loop: a waiter added after that hop was queued sees it, one added before
        // is resumed by it.
        let cancelled = Atomic<Bool>(false)
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                self.onLoop {
                    if !self.isDraining && !self.isClosed {
                        self.isDraining = true
                        // A watch lasts as long as its connection: stopped so that only callers' calls are waited for.
                        for endpoint in self.endpoints { self.stopHealthWatch(on: endpoint) }
                        self.configuration.logger.info(
                            "Client shutting down gracefully: new calls are refused; waiting for \(self.openCallCount) open calls to end",
                            metadata: ["drpc.target": "\(self.targetName)"]
                        )
                    }
                    self.drainWaiters.append(continuation)
                    if cancelled.load(ordering: .acquiring) { self.endDrainWaits() } else { self.checkDrained() }
                }
            }
        } onCancel: {
            cancelled.store(true, ordering: .releasing)
            self.onLoop { self.endDrainWaits() }
        }
    }

    /// Resumes the drain's waiters once no call made before it is left (or the client is closed).
    func checkDrained() {
        guard self.isClosed || self.openCallCount <= 0 else { return }
        self.endDrainWaits()
    }

    /// Resumes every drain waiter now.
    private func endDrainWaits() {
        let waiters = self.drainWaiters
        self.drainWaiters = []
        for waiter in waiters { waiter.resume() }
    }

    /// The client was let go without `close()` (on the loop): its connections close, the resolution under way is
    /// cancelled (nobody is left to await it; it ends at its next suspension), and the oversight is logged.
    func abandon() {
        guard !self.isClosed else { return }
        let open = self.endpoints.filter { $0.lifecycle.readyConnection != nil || $0.attempt != nil }.count + self.draining.count
        _ = self.closeNow()
        guard open > 0 else { return }
        self.configuration.logger.warning(
            "An RPCClient was deinitialized without close(): its \(open) connection\(open == 1 ? " is" : "s are") closed now; call close() (or run it as a Service) when done with a client",
            metadata: ["drpc.target": "\(self.targetName)"]
        )
    }
}
