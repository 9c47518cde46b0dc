@testable import DeadlineRPC
import NIOCore
import NIOPosix
import Synchronization
import Testing
import TestSupport
import Wire

/// A count shared between tasks and channel handlers.
final class Tally: Sendable {
    let count = Atomic<Int>(0)
    var value: Int { self.count.load(ordering: .relaxed) }
}

@Suite("Transparent retry: a call a replica's GOAWAY refused unprocessed goes to another", .heavyweight, .timeLimit(.minutes(5)))
struct TransparentRetryTests {
    /// Not idempotent: no retry interceptor would touch it.
    static let order = Method<Echo, Echo>.unary("test.Orders/Place")

    @Test("Non-idempotent calls refused unprocessed by a draining replica all succeed on the other, each sent again once")
    func refusedCallsGoElsewhere() async throws {
        let refused = Tally()
        let listener = try await Self.refusingReplica(counting: refused)
        var router = Router()
        let served = Tally()
        router.unary(Self.order) { request, _ in
            served.count.add(1, ordering: .relaxed)
            return request
        }
        let server = RPCServer(host: "127.0.0.1", port: 0, router: router)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            let port = try await server.listeningAddress.port!
            var configuration = RPCClient.Configuration()
            configuration.loadBalancing = .roundRobin
            let client = RPCClient(
                target: .endpoints([Endpoint(host: "127.0.0.1", port: listener.localAddress!.port!), Endpoint(host: "127.0.0.1", port: port)]),
                configuration: configuration
            )
            // Round robin alternates while both are connected: within a few calls one reaches the refusing replica.
            var calls = 0
            while refused.value == 0 && calls < 50 {
                let answer = try await client.unary(Self.order, Echo(text: "\(calls)"), options: CallOptions(timeout: .seconds(30)))
                #expect(answer.text == "\(calls)")
                calls += 1
            }
            #expect(refused.value >= 1)
            #expect(client.stats.transparentRetries == refused.value)
            #expect(served.value == calls)
            await client.close()
            server.beginGracefulShutdown()
            try await group.waitForAll()
        }
        try await listener.close()
    }

    /// The race the test above can lose under load: the refusing replica's fresh connection is ready before the
    /// other replica's first one. The call must wait for the other replica rather than spend its one transparent
    /// retry on the same draining server (which would fail it `unavailable`). The other replica sits behind a proxy
    /// that holds its handshake until the refusing one has reconnected.
    @Test("A call a draining replica sent back waits for the other replica's connection, not the same replica's fresh one")
    func refusedCallWaitsForAnotherReplica() async throws {
        var router = Router()
        let served = Tally()
        router.unary(Self.order) { request, _ in
            served.count.add(1, ordering: .relaxed)
            return request
        }
        try await Self.withRefusingAndHeldReplica(router: router) { client, proxy, refused in
            // Only the refusing replica can be ready: it takes the call and sends it back; the call waits while the
            // client connects to that replica again (the second connection it counts ready).
            async let answer = client.unary(Self.order, Echo(text: "once"), options: CallOptions(timeout: .seconds(30)))
            #expect(await client.stats.wait { $0.transparentRetries == 1 && $0.connectionsOpened == 2 })
            proxy.releaseReplies()
            let reply = try await answer
            #expect(reply.text == "once")
            #expect(refused.value == 1)
            #expect(client.stats.transparentRetries == 1)
            #expect(served.value == 1)
        }
    }

    /// The wait above lasts only while another endpoint is being connected: when that attempt fails, the call goes
    /// back to the refusing replica (a fresh connection, as with a single endpoint) rather than fail with a message
    /// about endpoints that are not serving. Refused a second time, it ends `unavailable`, not processed.
    @Test("A call waiting for another replica goes back to the refusing one when that replica's connection fails")
    func refusedCallGoesBackWhenNoOtherReplicaConnects() async throws {
        try await Self.withRefusingAndHeldReplica { client, proxy, refused in
            async let answer = client.unary(Self.order, Echo(text: "once"), options: CallOptions(timeout: .seconds(30)))
            #expect(await client.stats.wait { $0.transparentRetries == 1 && $0.connectionsOpened == 2 })
            await proxy.stop()  // The other replica's handshake never completes: its attempt fails.
            var failure: (any Error)?
            do { _ = try await answer } catch { failure = error }
            let error = try #require(failure as? RPCError, "expected the call to fail with an RPCError")
            #expect(error.code == .unavailable)
            #expect(error.message.contains("the call was not processed"), "\(error.message)")
            #expect(refused.value == 2)
            #expect(client.stats.transparentRetries == 1)
        }
    }

    /// The wait for another replica is bounded by the call's own deadline: while the other replica's handshake
    /// hangs (inside the connect timeout), the call ends `deadlineExceeded` at its deadline, not later.
    @Test("A call waiting for another replica's handshake ends at its own deadline, deadlineExceeded")
    func refusedCallWaitEndsAtItsDeadline() async throws {
        // The handshake outlives the call: only its deadline ends it.
        try await Self.withRefusingAndHeldReplica(connectTimeout: .seconds(60)) { client, _, refused in
            var failure: (any Error)?
            do {
                _ = try await client.unary(Self.order, Echo(text: "once"), options: CallOptions(timeout: .seconds(2)))
            } catch {
                failure = error
            }
            let error = try #require(failure as? RPCError, "expected the call to fail with an RPCError")
            #expect(error.code == .deadlineExceeded, "\(error)")
            #expect(refused.value == 1)
            #expect(client.stats.transparentRetries == 1)
        }
    }

    /// Runs `body` with a round-robin client over two replicas: one that answers every call with
    /// `GOAWAY(lastStreamID: 0)` (counted in the tally), listed first, and a real server with `router` behind a
    /// proxy that holds the server's handshake until ``FaultProxy/releaseReplies()``. Everything is closed after.
    static func withRefusingAndHeldReplica(
        router: Router = Router(),
        connectTimeout: Duration? = nil,
        _ body: (RPCClient, FaultProxy, Tally) async throws -> Void
    ) async throws {
        let refused = Tally()
        let listener = try await Self.refusingReplica(counting: refused)
        let server = RPCServer(host: "127.0.0.1", port: 0, router: router)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            let proxy = try await FaultProxy.start(targetPort: try await server.listeningAddress.port!, holdingReplies: true)
            var configuration = RPCClient.Configuration()
            configuration.loadBalancing = .roundRobin
            if let connectTimeout { configuration.connectTimeout = connectTimeout }
            let client = RPCClient(
                target: .endpoints([Endpoint(host: "127.0.0.1", port: listener.localAddress!.port!), Endpoint(host: "127.0.0.1", port: proxy.port)]),
                configuration: configuration
            )
            let outcome: Result<Void, any Error>
            do {
                try await body(client, proxy, refused)
                outcome = .success(())
            } catch {
                outcome = .failure(error)
            }
            await client.close()
            await proxy.stop()
            server.beginGracefulShutdown()
            try await group.waitForAll()
            try outcome.get()
        }
        try await listener.close()
    }

    /// A listener that answers every `CALL_START` with `GOAWAY(lastStreamID: 0)` and closes, counting the calls.
    static func refusingReplica(counting refused: Tally) async throws -> any Channel {
        try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(GoAwayOnCallStart(refused: refused))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
    }
}
