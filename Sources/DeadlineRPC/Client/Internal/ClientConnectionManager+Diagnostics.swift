import Logging
import NIOCore
import NIOSSL
import NIOPosix
import Wire

// What the client is doing, for diagnosing a stuck close().
extension ClientConnectionManager {
    /// What the client is doing and waiting for, for diagnosing a stuck `close()` (tests print it).
    func debugSnapshot() async -> String {
        await withCheckedContinuation { (continuation: CheckedContinuation<String, Never>) in
            self.onLoop {
                let endpoints = self.endpoints.map { endpoint -> String in
                    let state: String
                    switch endpoint.lifecycle.state {
                    case .idle: state = "idle"
                    case .connecting: state = "connecting"
                    case .ready(let handler): state = "ready (\(handler.debugSnapshot))"
                    case .backoff(let until, let attempt, let error): state = "backoff until \(until) after attempt \(attempt): \(error)"
                    case .shutdown: state = "shut down"
                    }
                    return "\(endpoint.endpoint): \(state), \(endpoint.inFlight) in flight, \(endpoint.waitingForStream.count) waiting for a stream"
                }.joined(separator: "; ")
                let draining = self.draining.values.map(\.debugSnapshot).joined(separator: "; ")
                continuation.resume(
                    returning: "\(self.isClosed ? "closed" : "open"); endpoints [\(endpoints)]; pending \(self.pending.count); in flight \(self.inFlightCalls); draining [\(draining)]; close waiters \(self.closeWaiters.count); deadlines queued \(self.deadlines.count)"
                )
            }
        }
    }
}
