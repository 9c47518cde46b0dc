// Deliberately no NIOCore, NIOPosix or Wire import: what a first-time user writes with `import DeadlineRPC` alone
// must compile (issue #14, point 8).
import DeadlineRPC
import Dispatch
import Synchronization
import Testing

@Suite("A first-time user's friction, each fixed with a compiled example", .timeLimit(.minutes(5)))
struct FirstUserFrictionTests {
    @Test("MetadataCollision can be named and caught with `import DeadlineRPC` alone")
    func metadataCollisionIsExported() throws {
        // guide:begin metadata-insert
        /// A package's helper that must never overwrite another package's value.
        func tagUser(_ user: String, in metadata: inout Metadata) throws(MetadataCollision) {
            try metadata.insert(.string(user), forKey: "user-id")
        }
        var metadata = Metadata()
        try tagUser("alice", in: &metadata)
        let collision = #expect(throws: MetadataCollision.self) { try tagUser("mallory", in: &metadata) }
        #expect(collision?.key == "user-id")
        // guide:end metadata-insert
        #expect(collision?.description == "Metadata key 'user-id' is already set; use add(_:forKey:) for a second value or replace(_:forKey:) to overwrite.")
        #expect(metadata.first(forKey: "user-id") == "alice")
    }

    @Test("A client and server run on an event loop group of their own, with `import DeadlineRPC` alone")
    func ownEventLoopGroup() async throws {
        var router = Router()
        router.unary(TestMethods.echo) { request, _ in request }
        // guide:begin own-event-loop-group
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let loops: any EventLoopGroup = group
        let server = RPCServer(host: "127.0.0.1", port: 0, router: router, eventLoopGroup: loops)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await server.run() }
            let client = RPCClient(host: "127.0.0.1", port: try await server.listeningAddress.port!, eventLoopGroup: loops)
            let reply = try await client.unary(TestMethods.echo, Echo(text: "own threads"), options: CallOptions(timeout: .seconds(30)))
            #expect(reply.text == "own threads")
            await client.close()
            server.beginGracefulShutdown()
            try await tasks.waitForAll()
        }
        try await group.shutdownGracefully()
        // guide:end own-event-loop-group
    }

    @Test("CallGroup.all and CallGroup.race take inline closures in Swift 6 mode")
    func combinatorsTakeInlineClosures() async throws {
        let slow = HandlerProbe()
        var router = Router()
        router.unary(TestMethods.echo) { request, _ in request }
        router.unary(TestMethods.wait) { _, context in try await slow.waitForCancellation(context) }
        try await withServerAndClient(router: router) { _, client in
            // guide:begin call-group-all
            let options = CallOptions(timeout: .seconds(30))
            let replies = try await CallGroup.all(
                { try await client.unary(TestMethods.echo, Echo(text: "profile"), options: options) },
                { try await client.unary(TestMethods.echo, Echo(text: "orders"), options: options) }
            )
            // guide:end call-group-all
            #expect(replies.map(\.text) == ["profile", "orders"])
            let winner = try await CallGroup.race(
                { try await client.unary(TestMethods.wait, Echo(text: "slow")) },
                {
                    await slow.started.wait()
                    return try await client.unary(TestMethods.echo, Echo(text: "fast"))
                }
            )
            #expect(winner.text == "fast")
            await slow.cancelled.wait()
            #expect(slow.observedReason == .hedgeLost)
        }
    }

    static let relay = Method<Echo, Echo>.unary("test.Relay/Forward")

    @Test("An outbound call ended by the inherited deadline says so, not that a caller cancelled it")
    func inheritedDeadlineIsNamed() async throws {
        let leaf = HandlerProbe()
        var leafRouter = Router()
        leafRouter.unary(TestMethods.wait) { _, context in try await leaf.waitForCancellation(context) }

        // The relay's downstream client runs on a loop of its own, which the test can hold.
        let downstreamGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let gate = LoopGate()
        let outboundFailed = Signal()
        let outboundError = Mutex<RPCError?>(nil)
        let downstream = Mutex<RPCClient?>(nil)
        var relayRouter = Router()
        relayRouter.unary(Self.relay) { request, _ in
            do {
                return try await downstream.withLock { $0! }.unary(TestMethods.wait, request)
            } catch let error as RPCError {
                outboundError.withLock { $0 = error }
                outboundFailed.fire()
                throw error
            }
        }
        // The top caller sends no deadline; the relay's server gives the call its cap, so the relay's own deadline
        // timer — not a CANCEL from above — is what ends the call being served.
        var relayConfiguration = RPCServer.Configuration()
        relayConfiguration.maxInboundBudget = .seconds(4)
        let (relayServerRouter, relayServerConfiguration) = (relayRouter, relayConfiguration)

        defer { gate.release() }
        try await withServerAndClient(router: leafRouter) { leafServer, _ in
            let leafPort = try await leafServer.listeningAddress.port!
            let client = RPCClient(host: "127.0.0.1", port: leafPort, eventLoopGroup: downstreamGroup)
            downstream.withLock { $0 = client }
            try await withServerAndClient(router: relayServerRouter, serverConfiguration: relayServerConfiguration) { _, top in
                async let topCall: Echo = top.unary(Self.relay, Echo(text: "go"))
                await leaf.started.wait()
                // Hold the downstream loop before the deadline: when the relay's server cancels the handler at its
                // deadline, the outbound call's cancel is queued behind the hold, and runs before the downstream
                // client's own deadline timer (due at the same instant) once the hold is released.
                downstreamGroup.next().execute { gate.hold() }
                await gate.held.wait()
                do {
                    _ = try await topCall
                    Issue.record("the relay's deadline must end the call")
                } catch let error as RPCError {
                    #expect(error.code == .deadlineExceeded)
                }
                gate.release()
                await outboundFailed.wait()
            }
            await client.close()
        }
        try await downstreamGroup.shutdownGracefully()

        let error = try #require(outboundError.withLock { $0 })
        #expect(error.code == .deadlineExceeded)
        #expect(error.cancelReason == .deadlineExceeded)
        #expect(error.message == "The deadline this call inherited from the call being served passed; the call was cancelled with its handler (deadline exceeded).")
        #expect(leaf.observedReason == .deadlineExceeded, "the leaf is cancelled with the same cause")
    }

    @Test("A call made after the served call's deadline passed says so, and nothing reaches the server")
    func callAfterInheritedDeadlineIsNamed() async throws {
        var leafRouter = Router()
        leafRouter.unary(TestMethods.echo) { request, _ in request }
        let outboundError = Mutex<RPCError?>(nil)
        try await withServerAndClient(router: leafRouter) { leafServer, downstream in
            var relayRouter = Router()
            relayRouter.unary(Self.relay) { request, _ in
                // Wait for the server to end this call at its deadline, then call out anyway.
                let cancelled = Signal()
                _ = await withTaskCancellationHandler {
                    await cancelled.wait()
                } onCancel: {
                    cancelled.fire()
                }
                do {
                    return try await downstream.unary(TestMethods.echo, request)
                } catch let error as RPCError {
                    outboundError.withLock { $0 = error }
                    throw error
                }
            }
            var relayConfiguration = RPCServer.Configuration()
            relayConfiguration.maxInboundBudget = .milliseconds(200)
            let (router, configuration) = (relayRouter, relayConfiguration)
            try await withServerAndClient(router: router, serverConfiguration: configuration) { relayServer, top in
                let error = await #expect(throws: RPCError.self) { try await top.unary(Self.relay, Echo(text: "late")) }
                #expect(error?.code == .deadlineExceeded)
                // The handler's status was sent when its deadline passed; wait for the handler itself to finish.
                await relayServer.stats(until: { $0.handlersInFlight == 0 })
            }
            let error = try #require(outboundError.withLock { $0 })
            #expect(error.code == .deadlineExceeded)
            #expect(error.cancelReason == .deadlineExceeded)
            #expect(error.message == "The deadline this call inherited from the call being served passed before the call was sent; nothing was sent.")
            // A call on the same client after it: once its reply is back, the server has read all that was sent.
            _ = try await downstream.unary(TestMethods.echo, Echo(text: "ok"), options: CallOptions(timeout: .seconds(30)))
            #expect(leafServer.stats.callsStarted == 1, "only the later call reached the server")
        }
    }
}
