import DeadlineRPC
import DemoTopology
import RPCBenchCore

/// One bench connection to the demo topology's entry, the RPC gateway (`demo.Gateway/Checkout`): victims become
/// ordinary checkouts and storm calls slow ones, sent to the topology whose services propagate deadlines and
/// cancellation or to the one whose services do not, as ``BenchRequest/propagation`` says.
package struct DemoConnection: BenchConnection {
    /// A client to the gateway of the topology that propagates.
    package let propagating: RPCClient
    /// A client to the gateway of the topology that does not (the same client when there is only one topology).
    package let leaking: RPCClient

    /// Creates clients to both gateways (`leaking` nil: one topology); they connect on their first call.
    package init(propagating: ServiceAddress, leaking: ServiceAddress?) {
        self.propagating = RPCClient(host: propagating.host, port: propagating.port)
        self.leaking = leaking.map { RPCClient(host: $0.host, port: $0.port) } ?? self.propagating
    }

    /// Every distinct client (one or two), for connection counts.
    package var clients: [RPCClient] {
        self.leaking === self.propagating ? [self.propagating] : [self.propagating, self.leaking]
    }

    /// A victim: an ordinary checkout with `timeout` as its budget.
    package func echo(_ request: BenchRequest, timeout: Duration) async -> CallOutcome {
        let client = request.propagation ? self.propagating : self.leaking
        return await CallOutcome.of {
            _ = try await client.unary(DemoAPI.checkout, DemoCheckout.victim, options: CallOptions(timeout: timeout))
        }
    }

    /// A storm call: a slow checkout, tracked under its tag, with `timeout` (if any) as its budget.
    package func work(_ request: BenchRequest, timeout: Duration?) async -> CallOutcome {
        let client = request.propagation ? self.propagating : self.leaking
        var metadata = Metadata()
        metadata.add(DemoCheckout.requestID(tag: request.tag), forKey: DemoAPI.requestIDKey)
        let options = CallOptions(timeout: timeout, metadata: metadata)
        return await CallOutcome.of {
            _ = try await client.unary(DemoAPI.checkout, DemoCheckout.storm(request), options: options)
        }
    }

    /// Closes the clients: their TCP connections drop, calls in flight are not cancelled one by one.
    package func close() async {
        for client in self.clients { await client.close() }
    }
}
