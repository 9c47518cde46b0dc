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
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(GoAwayOnCallStart(refused: refused))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
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
}
