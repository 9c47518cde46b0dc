import NIOCore

/// Where a DNS target's resolution stands (event loop only).
struct ResolutionState {
    /// The resolution under way: the client's own task, cancelled and awaited by `close()`.
    var task: Task<Void, Never>?
    /// The next periodic refresh.
    var refresh: Scheduled<Void>?
    /// Why the last resolution failed, while no resolution has succeeded since.
    var lastError: ResolutionError?
    /// Whether a resolution has ever succeeded.
    var resolvedOnce = false

    /// Whether a resolution is under way.
    var isResolving: Bool { self.task != nil }
}

// The DNS refresh loop and applying a new set of endpoints (on the event loop).
extension ClientConnectionManager {
    /// Resolves a DNS target now unless a resolution is already under way (a fixed list needs none). Also called
    /// when a connection fails or is lost: the replica set may have changed.
    func resolveNow() {
        guard case .dns(let host, let port) = self.target.kind, !self.isClosed, self.resolution.task == nil else { return }
        self.resolution.refresh?.cancel()
        self.resolution.refresh = nil
        let resolver = self.configuration.resolver
        // Owned by the manager: close() cancels it and awaits it before it returns.
        self.resolution.task = Task {
            let result: Result<[Endpoint], ResolutionError>
            do {
                result = .success(try await resolver.resolve(host: host, port: port))
            } catch let error as ResolutionError {
                result = .failure(error)
            } catch {
                result = .failure(ResolutionError(host: host, reason: "\(error)"))
            }
            self.onLoop { self.resolved(result) }
        }
    }

    /// Stops the refresh loop (the client closes); returns the resolution under way, cancelled, to await.
    func stopResolution() -> Task<Void, Never>? {
        self.resolution.refresh?.cancel()
        self.resolution.refresh = nil
        let task = self.resolution.task
        task?.cancel()
        return task
    }

    /// A resolution ended: a new set is applied; a failure keeps the last good set (logged and counted).
    private func resolved(_ result: Result<[Endpoint], ResolutionError>) {
        self.resolution.task = nil
        guard !self.isClosed else { return }
        switch result {
        case .success(let resolved) where !resolved.isEmpty:
            self.resolution.lastError = nil
            self.resolution.resolvedOnce = true
            self.apply(resolved)
            self.stats.recordResolution()
        case .success:
            self.resolutionFailed(ResolutionError(host: self.targetName, reason: "no addresses"))
        case .failure(let error):
            self.resolutionFailed(error)
        }
        let interval = self.configuration.resolutionInterval
        self.resolution.refresh = self.eventLoop.scheduleTask(in: .nanoseconds(interval.nanoseconds)) { [weak self] in
            self?.resolution.refresh = nil
            self?.resolveNow()
        }
    }

    /// Keeps the last good set; with none, the calls waiting for the first resolution fail `unavailable`.
    private func resolutionFailed(_ error: ResolutionError) {
        self.stats.recordResolutionFailed()
        self.configuration.logger.warning(
            "Resolution failed; keeping the last good set of endpoints",
            metadata: ["drpc.target": "\(self.targetName)", "drpc.error": "\(error)", "drpc.endpoints": "\(self.endpoints.count)"]
        )
        guard self.endpoints.isEmpty else { return }
        self.resolution.lastError = error
        let waiting = self.pending
        self.pending = []
        for call in waiting {
            self.refuse(call, RPCError(code: .unavailable, message: "\(error); the call was not sent."))
        }
    }

    /// Makes `resolved` the set of endpoints: those that left drain (their calls finish within their deadlines),
    /// new ones join (connected at once when the policy keeps a connection to every endpoint), the rest are kept
    /// untouched with their connections and statistics.
    func apply(_ resolved: [Endpoint]) {
        // Endpoints that stay keep their place and new ones go after them: DNS servers rotate the order of their
        // records from one answer to the next, and round robin (or pick-first's choice) must not follow the rotation.
        let wanted = Set(resolved)
        let left = self.endpoints.filter { !wanted.contains($0.endpoint) }
        var next = self.endpoints.filter { wanted.contains($0.endpoint) }
        var seen = Set(next.map(\.endpoint))
        for endpoint in resolved where seen.insert(endpoint).inserted {
            next.append(EndpointConnection(endpoint: endpoint))
        }
        if !left.isEmpty || next.count != self.endpoints.count {
            self.configuration.logger.debug(
                "Endpoints changed",
                metadata: ["drpc.target": "\(self.targetName)", "drpc.endpoints": "\(resolved.map(\.description))", "drpc.removed": "\(left.map(\.endpoint.description))"]
            )
        }
        self.endpoints = next
        for removed in left { self.shutDown(removed) }
        let now = self.eventLoop.now
        if self.connectsToAll {
            for endpoint in next where endpoint.lifecycle.canConnect(now: now) && endpoint.reconnectTimer == nil {
                self.connect(endpoint, now: now)
            }
        }
        // Calls waiting for the first resolution (or for an endpoint that left) go now.
        self.dispatchPending()
    }
}
