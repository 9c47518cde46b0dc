import NIOCore

// Which endpoint a call goes to (on the event loop).
extension ClientConnectionManager {
    /// The balancer's answer for one call.
    enum Pick {
        /// Start the call on this endpoint's ready connection.
        case endpoint(EndpointConnection, ClientConnectionHandler)
        /// Every ready endpoint has recently been slower than the call's remaining budget: fail it now.
        case shed(remaining: Duration, fastest: Duration)
        /// No endpoint can take it now.
        case none
    }

    /// Picks an endpoint for `call` at `now` under the policy, in layers that each give way rather than leave no
    /// choice: ready and serving; not ejected (unless every one is); not already tried by an earlier attempt of the
    /// same call (unless every one was); not the one whose `GOAWAY` sent the call back (unless no other is ready or
    /// connecting); fast enough for the remaining budget (or shed, when none is).
    func pick(_ call: ClientCall, now: NIODeadline) -> Pick {
        let endpoints = self.endpoints
        let count = endpoints.count
        if count == 1 {
            // One endpoint: nothing to choose, and nothing to shed for (its own latency is no reason to refuse).
            guard let connection = endpoints[0].pickable(now: now, ignoringEjection: true) else { return .none }
            return .endpoint(endpoints[0], connection)
        }
        guard count > 1 else { return .none }
        var ready = 0
        var notEjected = 0
        for endpoint in endpoints where endpoint.pickable(now: now, ignoringEjection: true) != nil {
            ready += 1
            if endpoint.pickable(now: now) != nil { notEjected += 1 }
        }
        guard ready > 0 else { return .none }
        // The layers as flags read by one local function, so the hot path builds no closure and no array.
        let ignoreEjection = notEjected == 0
        let tried = call.history?.endpoints ?? []
        var avoidTried = false
        var refusedBy = call.loop.refusedBy
        var budget: (policy: BudgetAwarePicking, remaining: Duration)? = nil
        func eligible(_ index: Int) -> Bool {
            let endpoint = endpoints[index]
            guard endpoint.pickable(now: now, ignoringEjection: ignoreEjection) != nil else { return false }
            if let refusedBy, endpoint === refusedBy { return false }
            if avoidTried && tried.contains(endpoint.endpoint) { return false }
            if let budget, let typical = endpoint.latency.typical(now: now, policy: budget.policy), typical > budget.remaining {
                return false
            }
            return true
        }
        if let refused = refusedBy, !endpoints.indices.contains(where: eligible) {
            // The endpoint that sent the call back is draining: its fresh connection may belong to the same
            // replica, and a second refusal would fail the call. Wait for another endpoint being connected; with
            // none, go back to it.
            if endpoints.contains(where: { $0 !== refused && $0.lifecycle.isConnecting }) { return .none }
            refusedBy = nil
        }
        if !tried.isEmpty {
            avoidTried = true
            if !endpoints.indices.contains(where: eligible) { avoidTried = false }
        }
        if let policy = self.configuration.budgetAwarePicking, let deadline = call.deadline {
            let remaining = Duration.nanoseconds(deadline.uptimeNanoseconds - Int64(now.uptimeNanoseconds))
            budget = (policy, remaining)
            if !endpoints.indices.contains(where: eligible) {
                budget = nil
                let fastest = endpoints.indices.filter(eligible)
                    .compactMap { endpoints[$0].latency.typical(now: now, policy: policy) }.min() ?? .zero
                return .shed(remaining: remaining, fastest: fastest)
            }
        }
        guard let index = self.picker.pick(
            count: count,
            eligible: eligible,
            load: { endpoints[$0].inFlight },
            random: { Int.random(in: 0..<$0) }
        ), let connection = endpoints[index].pickable(now: now, ignoringEjection: true) else { return .none }
        return .endpoint(endpoints[index], connection)
    }
}
