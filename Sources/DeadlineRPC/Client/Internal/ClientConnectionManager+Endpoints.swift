import NIOCore
import NIOPosix
import NIOSSL

// Each endpoint's connection: opening it, its readiness, its retirement and loss, reconnecting (on the event loop).
extension ClientConnectionManager {
    /// Whether this client keeps a connection to every endpoint (least loaded, round robin) rather than one.
    var connectsToAll: Bool {
        self.configuration.loadBalancing != .pickFirst && self.endpoints.count > 1
    }

    /// No endpoint could take a call: opens the connections the policy wants — every idle endpoint (or one whose
    /// backoff has passed), or with pick-first the first such endpoint in order, unless one is already connecting.
    func connectWanted(now: NIODeadline) {
        if !self.connectsToAll && self.endpoints.contains(where: { $0.lifecycle.isConnecting }) { return }
        for endpoint in self.endpoints where endpoint.lifecycle.canConnect(now: now) {
            self.connect(endpoint, now: now)
            if !self.connectsToAll { return }
        }
    }

    /// Why a call that found no ready endpoint cannot wait for one, or nil when it can: something is connecting
    /// (or the first resolution is under way).
    func noEndpointRefusal(now: NIODeadline) -> RPCError? {
        if self.endpoints.contains(where: { $0.lifecycle.isConnecting || ($0.awaitingHealth && $0.lifecycle.readyConnection != nil) }) { return nil }
        if self.endpoints.isEmpty {
            if self.resolution.isResolving { return nil }
            if let error = self.resolution.lastError {
                return RPCError(code: .unavailable, message: "\(error); the call was not sent.")
            }
            self.resolveNow()
            return self.resolution.isResolving ? nil : RPCError(code: .unavailable, message: "\(self.targetName) has no endpoints; the call was not sent.")
        }
        if case .external = self.connector, self.endpoints.contains(where: { $0.lifecycle.readyConnection == nil && !$0.lifecycle.isShutdown }) {
            return nil  // A test's connection arrives when it says so.
        }
        // Every endpoint backs off after failed attempts (or is ejected, or not serving): fail fast.
        let failures = self.endpoints.compactMap { endpoint -> String? in
            guard case .backoff(_, let attempt, let error) = endpoint.lifecycle.state else { return nil }
            return self.endpoints.count == 1
                ? "Cannot reach \(endpoint.endpoint) (attempt \(attempt) failed: \(error))"
                : "\(endpoint.endpoint) (attempt \(attempt) failed: \(error))"
        }
        if self.endpoints.count == 1, let only = failures.first {
            return RPCError(code: .unavailable, message: "\(only); the call was not sent.")
        }
        let connected = self.endpoints.count { $0.lifecycle.readyConnection != nil }
        if connected > 0 {
            return RPCError(code: .unavailable, message: "No endpoint of \(self.targetName) takes calls now (\(connected) connected but not serving or ejected); the call was not sent.")
        }
        return RPCError(code: .unavailable, message: "No endpoint of \(self.targetName) is reachable: \(failures.joined(separator: ", ")); the call was not sent.")
    }

    /// Opens a connection to `endpoint` over TCP (a test's connector opens its own); ready once the server's
    /// settings arrive.
    func connect(_ endpoint: EndpointConnection, now: NIODeadline) {
        guard !self.isClosed, endpoint.lifecycle.connect(now: now) else { return }
        if case .inProcess(let connector) = self.connector { return self.openInProcess(endpoint, via: connector) }
        endpoint.reconnectTimer?.cancel()
        endpoint.reconnectTimer = nil
        guard case .tcp = self.connector else { return }
        guard self.tls != nil else {
            self.open(endpoint, tlsContext: nil)
            return
        }
        // The TLS material of this moment: a later reload serves later connections.
        self.openWithTLS(endpoint)
    }

    /// Opens the TCP connection (and TLS over it, with `tlsContext`) of an endpoint that is connecting.
    func open(_ endpoint: EndpointConnection, tlsContext: NIOSSLContext?) {
        let serverName = self.tlsServerName(for: endpoint.endpoint)
        let timeout = self.configuration.connectTimeout
        let bootstrap = ClientBootstrap(group: self.eventLoop)
            .connectTimeout(.nanoseconds(timeout.nanoseconds))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.writeBufferWaterMark, value: .init(low: 32 * 1024, high: 128 * 1024))
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    // Shut down while the host name was being resolved: no channel to keep (the connect fails).
                    guard !endpoint.lifecycle.isShutdown else { throw ChannelError.ioOnClosedChannel }
                    let handler = ClientConnectionHandler(configuration: self.configuration, manager: self)
                    handler.endpoint = endpoint
                    endpoint.attempt = handler
                    if let tlsContext {
                        let tls = ClientTLSHandler(endpoint: "\(endpoint.endpoint)", serverName: serverName, connection: handler)
                        let ssl = try ObservingSSLHandlers.maker.client(context: tlsContext, serverHostname: serverName, notes: tls.notes)
                        try channel.pipeline.syncOperations.addHandlers(ssl, tls)
                    }
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        bootstrap.connect(host: endpoint.endpoint.host, port: endpoint.endpoint.port).whenComplete { [self] result in
            switch result {
            case .success(let channel):
                // Ready once the server's settings arrive (connectionReady); guard against a silent server.
                self.eventLoop.scheduleTask(in: .nanoseconds(timeout.nanoseconds)) {
                    if endpoint.lifecycle.isConnecting, endpoint.attempt?.context?.channel === channel {
                        channel.close(promise: nil)
                    }
                }
            case .failure(let error):
                endpoint.attempt = nil
                self.connectFailed(endpoint, "\(error)")
            }
        }
    }

    /// The SNI and certificate name for `endpoint`: the configured server name, else a `dns:///` target's name,
    /// else the endpoint's host; nil for an IP address (not allowed in SNI: the certificate must then name the IP).
    func tlsServerName(for endpoint: Endpoint) -> String? {
        let name: String
        if let configured = self.configuration.transportSecurity.serverName {
            name = configured
        } else if case .dns(let host, _) = self.target.kind {
            name = host
        } else {
            name = endpoint.host
        }
        return (try? SocketAddress(ipAddress: name, port: 0)) == nil ? name : nil
    }

    /// An attempt failed: back off, fail the calls that waited when nothing else can take them, re-resolve.
    func connectFailed(_ endpoint: EndpointConnection, _ error: String) {
        let now = self.eventLoop.now
        guard let delay = endpoint.lifecycle.connectFailed(now: now, error: error, delay: self.configuration.backoff.delay(attempt:)) else {
            return  // Shut down meanwhile.
        }
        self.configuration.logger.debug("Connection to \(endpoint.endpoint) failed (\(error)); next attempt allowed in \(delay)")
        if !self.isClosed { self.recordFailure(on: endpoint, now: now, why: error) }
        self.resolveNow()
        if self.connectsToAll { self.scheduleReconnect(endpoint, in: delay) }
        // With pick-first, the next endpoint in order gets its turn at once.
        self.connectWanted(now: now)
        guard let refusal = self.noEndpointRefusal(now: now) else { return }
        let waiting = self.pending
        self.pending = []
        let single = self.endpoints.count == 1
        for call in waiting {
            if !single, call.loop.refusedBy != nil {
                // It waited for another endpoint than the one that sent it back; with none connecting it may go back.
                self.dispatch(call, now: now)
                continue
            }
            self.refuse(call, single ? RPCError(code: .unavailable, message: "Cannot reach \(endpoint.endpoint): \(error).") : refusal)
        }
    }

    /// Connects `endpoint` again after `delay`, when the client still wants it.
    func scheduleReconnect(_ endpoint: EndpointConnection, in delay: Duration) {
        endpoint.reconnectTimer?.cancel()
        endpoint.reconnectTimer = self.eventLoop.scheduleTask(in: .nanoseconds(delay.nanoseconds)) { [weak self, weak endpoint] in
            guard let self, let endpoint else { return }
            endpoint.reconnectTimer = nil
            self.connect(endpoint, now: self.eventLoop.now)
        }
    }

    /// The endpoint the connection belongs to (a test's connection, made without one, belongs to the only one).
    private func endpoint(of handler: ClientConnectionHandler) -> EndpointConnection? {
        handler.endpoint ?? (self.endpoints.count == 1 ? self.endpoints[0] : nil)
    }

    /// A connection received the server's settings: it takes the waiting calls, or is closed when unwanted.
    func connectionReady(_ handler: ClientConnectionHandler) {
        self.eventLoop.assertInEventLoop()
        guard let endpoint = self.endpoint(of: handler), !self.isClosed else {
            handler.close()
            return
        }
        if endpoint.attempt === handler { endpoint.attempt = nil }
        guard endpoint.lifecycle.connectionReady(handler) else {
            handler.close()  // Shut down or superseded meanwhile.
            return
        }
        self.stats.recordConnectionOpened()
        // A new connection is the endpoint back: an ejection its failed attempts earned ends here (Finagle revives
        // a host whose probe succeeds), and its failures start again from zero.
        endpoint.ejectedUntil = nil
        endpoint.consecutiveFailures = 0
        self.startHealthWatch(on: endpoint, connection: handler)
        self.dispatchPending()
    }

    /// A connection received the server's `GOAWAY`: it takes no new calls (they go elsewhere at once), and
    /// `close()` waits for it to drain.
    func connectionDraining(_ handler: ClientConnectionHandler) {
        self.eventLoop.assertInEventLoop()
        if let endpoint = self.endpoint(of: handler) {
            endpoint.lifecycle.connectionRetired(handler)
            if self.connectsToAll && !self.isClosed {
                // The replica may be restarting: try again after the first backoff step, not in a tight loop.
                self.scheduleReconnect(endpoint, in: self.configuration.backoff.delay(attempt: 1))
            }
            self.redispatchWaitingForStream(of: endpoint)
        }
        // A connection that already closed has nothing left to drain (close() would wait for it forever).
        if !handler.hasClosed { self.draining[ObjectIdentifier(handler)] = handler }
        // A health watch never ends by itself: cancelled, it lets the connection drain (a server past its
        // connections' maximum age still serves; the next connection watches again).
        if let endpoint = self.endpoint(of: handler), endpoint.healthWatch?.loop.connection === handler {
            self.stopHealthWatch(on: endpoint)
        }
        // Counted last: whoever awaits it finds new calls already going elsewhere.
        self.stats.recordGoAwayReceived()
    }

    /// A connection's channel closed (`error` says why, when known).
    func connectionClosed(_ handler: ClientConnectionHandler, error: RPCError?) {
        self.eventLoop.assertInEventLoop()
        let wasDraining = self.draining.removeValue(forKey: ObjectIdentifier(handler)) != nil
        guard let endpoint = self.endpoint(of: handler) else {
            self.checkClosed()
            return
        }
        let isAttempt = endpoint.attempt === handler || (endpoint.attempt == nil && handler.endpoint == nil)
        if endpoint.attempt === handler { endpoint.attempt = nil }
        if !wasDraining {
            switch endpoint.lifecycle.connectionClosed(handler) {
            case .lostReady:
                // The next call reconnects; calls waiting for one of its streams go elsewhere (or wait).
                self.redispatchWaitingForStream(of: endpoint)
                self.resolveNow()
                if self.connectsToAll && !self.isClosed {
                    self.scheduleReconnect(endpoint, in: self.configuration.backoff.delay(attempt: 1))
                }
            case .connectFailed where isAttempt:
                self.connectFailed(endpoint, error?.message ?? "the connection closed before the server's settings arrived")
            case .connectFailed, .none:
                break
            }
        }
        self.checkClosed()
    }

    /// The calls waiting for a free stream on `endpoint` go through the picker again.
    func redispatchWaitingForStream(of endpoint: EndpointConnection) {
        guard !endpoint.waitingForStream.isEmpty else { return }
        let waiting = endpoint.waitingForStream
        endpoint.waitingForStream = []
        let now = self.eventLoop.now
        for call in waiting { self.dispatch(call, now: now) }
    }

    /// Takes `endpoint` out of service for good (the client closes, or the endpoint left the resolved set): its
    /// ready connection drains (open calls finish within their deadlines) or is closed when the client closes.
    func shutDown(_ endpoint: EndpointConnection) {
        endpoint.reconnectTimer?.cancel()
        endpoint.reconnectTimer = nil
        self.stopHealthWatch(on: endpoint)
        // First, so that the failed connect of an attempt closed below reads as "shut down", not as a failure to retry.
        let state = endpoint.lifecycle.shutdown()
        if let attempt = endpoint.attempt {
            // A connection still being opened (TCP, TLS or the server's settings pending) would otherwise live on
            // until the settings arrive or the connect timeout fires, after close() returned: closed now, and
            // close() waits for its channel like any draining one.
            endpoint.attempt = nil
            self.draining[ObjectIdentifier(attempt)] = attempt
            attempt.close()
        }
        if case .ready(let handler) = state {
            if self.isClosed {
                handler.close()
            } else {
                self.draining[ObjectIdentifier(handler)] = handler
                handler.retire()
            }
        }
        self.redispatchWaitingForStream(of: endpoint)
    }
}
