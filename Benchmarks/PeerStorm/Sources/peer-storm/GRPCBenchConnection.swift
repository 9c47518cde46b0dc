import GRPCCore
import GRPCNIOTransportHTTP2Posix
import RPCBenchCore

/// One grpc-swift-2 client as the bench's connection: one channel, which with the default pick-first policy and
/// one address is one HTTP/2 connection carrying every call as a stream.
struct GRPCBenchConnection: BenchConnection {
    /// The client (its `runConnections()` runs in ``withGRPCConnections(count:host:port:options:watch:_:)``).
    let client: GRPCClient<HTTP2ClientTransport.Posix>
    /// Ends the task running the client.
    let closer: ConnectionCloser
    /// Whether calls end as `unavailable` when the client is closed abruptly. RPCs grpc-swift-2 still had queued
    /// (not yet on the wire) when the task running `runConnections()` was cancelled were seen to wait forever, which
    /// a dropped connection never does; only the disconnect storm's own clients need this (it costs a task per
    /// call, which the victims' shared connection does not pay).
    var failsCallsOnClose = false

    /// Calls echo with `CallOptions.timeout`.
    func echo(_ request: BenchRequest, timeout: Duration) async -> CallOutcome {
        await self.call(GRPCBench.echo, request, timeout: timeout)
    }

    /// Calls work, with `CallOptions.timeout` when given; cancelling the calling task cancels the RPC.
    func work(_ request: BenchRequest, timeout: Duration?) async -> CallOutcome {
        await self.call(GRPCBench.work, request, timeout: timeout)
    }

    /// Cancels the task running the client's connections: in-flight RPCs stop at once.
    func close() async {
        self.closer.closeAbruptly()
    }

    private func call(_ method: MethodDescriptor, _ request: BenchRequest, timeout: Duration?) async -> CallOutcome {
        guard self.failsCallsOnClose else { return await self.plainCall(method, request, timeout: timeout) }
        return await withTaskGroup(of: CallOutcome?.self) { group in
            group.addTask { await self.plainCall(method, request, timeout: timeout) }
            group.addTask {
                await self.closer.abruptlyClosed()
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? .failed("unavailable")
        }
    }

    private func plainCall(_ method: MethodDescriptor, _ request: BenchRequest, timeout: Duration?) async -> CallOutcome {
        var options = CallOptions.defaults
        options.timeout = timeout
        return await GRPCOutcome.of {
            try await self.client.unary(
                request: ClientRequest(message: request),
                descriptor: method,
                serializer: BenchRequestSerializer(),
                deserializer: RawBytesDeserializer(),
                options: options
            ) { response in
                _ = try response.message
            }
        }
    }
}

/// Runs `body` with `count` grpc-swift-2 connections to `host:port`, each client's `runConnections()` in a child
/// task; afterwards shuts the clients down gracefully (or finds them already closed) and waits for them.
func withGRPCConnections<Result: Sendable>(
    count: Int,
    host: String,
    port: Int,
    options: GRPCStackOptions,
    watch: ConnectionWatch? = nil,
    _ body: ([GRPCBenchConnection]) async throws -> Result
) async throws -> Result {
    try await withThrowingTaskGroup(of: Void.self) { group in
        var connections: [GRPCBenchConnection] = []
        do {
            for _ in 0..<max(1, count) {
                let client = GRPCClient(
                    transport: try HTTP2ClientTransport.Posix(
                        target: .ipv4(address: host, port: port),
                        transportSecurity: .plaintext,
                        config: options.clientConfig(watch: watch)
                    )
                )
                let closer = ConnectionCloser()
                group.addTask {
                    await withThrowingTaskGroup(of: Void.self) { running in
                        running.addTask { try await client.runConnections() }
                        if await closer.wait() { running.cancelAll() }
                        // An abruptly closed client's runConnections() ends with an error: expected, not a failure.
                        while let _ = try? await running.next() {}
                    }
                }
                connections.append(GRPCBenchConnection(client: client, closer: closer))
            }
            let result = try await body(connections)
            for connection in connections {
                connection.client.beginGracefulShutdown()
                connection.closer.release()
            }
            try await group.waitForAll()
            return result
        } catch {
            for connection in connections { connection.closer.closeAbruptly() }
            group.cancelAll()
            throw error
        }
    }
}
