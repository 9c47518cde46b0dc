import NIOCore
import Wire

// Client-side health checking: one `Watch` stream per ready connection, read on the event loop.
extension ClientConnectionManager {
    /// Opens the health watch on `endpoint`'s new connection; until its first status the endpoint is not picked.
    func startHealthWatch(on endpoint: EndpointConnection, connection handler: ClientConnectionHandler) {
        guard let checking = self.configuration.healthChecking else { return }
        guard !self.isDraining else {
            // A connection opened during a graceful shutdown serves the calls made before it, and a watch would
            // never end by itself: the endpoint is judged by its connection alone.
            endpoint.serving = true
            endpoint.awaitingHealth = false
            return
        }
        var request = ByteBuffer()
        HealthCheckRequestCodec().encode(checking.service, into: &request)
        let call = ClientCall(
            eventLoop: self.eventLoop,
            method: HealthService.watchMethodName,
            kind: .serverStreaming,
            deadline: nil,  // A watch lasts as long as its connection.
            originalBudget: nil,
            hopCount: 0,
            metadata: Metadata(),
            encoding: .identity,
            firstRequest: request,
            parentControl: nil,
            responses: nil
        )
        endpoint.serving = false
        endpoint.awaitingHealth = true
        endpoint.healthWatch = call
        call.loop.onMessage = { [weak self, weak endpoint, weak call] bytes in
            guard let self, let endpoint, let call, endpoint.healthWatch === call else { return }
            guard let status = try? HealthCheckResponseCodec().decode(bytes) else {
                self.configuration.logger.warning("An endpoint's health watch sent an undecodable status; it is not picked", metadata: ["drpc.endpoint": "\(endpoint.endpoint)"])
                self.healthChanged(endpoint, serving: false)
                return
            }
            self.healthChanged(endpoint, serving: status == .serving)
        }
        call.loop.onEnd = { [weak self, weak endpoint, weak call] error in
            guard let self, let endpoint, let call, endpoint.healthWatch === call else { return }
            endpoint.healthWatch = nil
            switch error?.code {
            case .unimplemented?, .unauthenticated?, .permissionDenied?:
                // No health service to ask (or not for us): the endpoint is judged by its connection alone.
                self.healthChanged(endpoint, serving: true)
            default:
                // Ended with the server's final NOT_SERVING (shutdown), or with the connection: keep the last word.
                if endpoint.awaitingHealth { self.healthChanged(endpoint, serving: false) }
            }
        }
        _ = call.loop.machine.queued()
        self.inFlightCalls += 1
        if let refusal = handler.startCall(call, now: self.eventLoop.now) {
            self.inFlightCalls -= 1
            endpoint.healthWatch = nil
            self.configuration.logger.warning("The health watch could not be opened; the endpoint is judged by its connection alone", metadata: ["drpc.endpoint": "\(endpoint.endpoint)", "drpc.error": "\(refusal.message)"])
            self.healthChanged(endpoint, serving: true)
        }
    }

    /// Cancels the health watch of a connection being retired, so that it can drain (a watch never ends by itself).
    func stopHealthWatch(on endpoint: EndpointConnection) {
        guard let watch = endpoint.healthWatch else { return }
        endpoint.healthWatch = nil
        self.cancel(watch, reason: .cancelled)
    }

    /// A health status arrived (or the watch ended): a serving endpoint takes the calls that wait.
    func healthChanged(_ endpoint: EndpointConnection, serving: Bool) {
        let wasAwaiting = endpoint.awaitingHealth
        endpoint.awaitingHealth = false
        if endpoint.serving != serving {
            self.configuration.logger.info(
                serving ? "Endpoint serving" : "Endpoint not serving; not picked",
                metadata: ["drpc.endpoint": "\(endpoint.endpoint)"]
            )
        }
        endpoint.serving = serving
        self.stats.recordHealthChange()
        guard serving || wasAwaiting, !self.pending.isEmpty else { return }
        // Calls that waited for this endpoint go now (or, if nothing else can take them, fail).
        self.dispatchPending()
    }
}
