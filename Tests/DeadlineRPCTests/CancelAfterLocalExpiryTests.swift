import DeadlineRPC
import NIOCore
import NIOPosix
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Regression: a call whose budget ran out before it was sent", .timeLimit(.minutes(5)))
struct CancelAfterLocalExpiryTests {
    @Test("Cancelling it afterwards sends nothing, and other calls on the connection are unharmed")
    func cancelAfterLocalExpiryKeepsTheConnection() async throws {
        // Found by rpcbench: a call that expired while waiting for the client's event loop opened a stream id,
        // failed locally, and a later cancel sent CANCEL for a stream the server never saw: PROTOCOL_ERROR, and
        // every call on the shared connection failed. The event loop is held busy on purpose so the call's
        // budget runs out before it is sent; the bystander must succeed whatever the interleaving.
        var router = Router()
        router.unary(TestMethods.echo) { request, _ in request }
        let bystanderStarted = Signal()
        let release = Signal()
        router.unary(TestMethods.wait) { request, _ in
            bystanderStarted.fire()
            await release.wait()
            return request
        }
        let clientLoop = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = RPCServer(host: "127.0.0.1", port: 0, router: router)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            let port = try await server.listeningAddress.port!
            let client = RPCClient(host: "127.0.0.1", port: port, eventLoopGroup: clientLoop)
            _ = try await client.unary(TestMethods.echo, Echo(text: "warm"))
            let bystander = Task { try await client.unary(TestMethods.wait, Echo(text: "bystander")) }
            await bystanderStarted.wait()
            for _ in 0..<20 {
                clientLoop.next().execute { usleep(20_000) }  // Hold the client's loop past the victim's budget.
                let victim = Task {
                    try await client.unary(TestMethods.echo, Echo(text: "x"), options: CallOptions(timeout: .milliseconds(2)))
                }
                try await Task.sleep(for: .milliseconds(5))  // Lets the cancel race the expired start.
                victim.cancel()
                let outcome = await victim.result
                if case .failure(let error as RPCError) = outcome {
                    #expect(error.code == .deadlineExceeded || error.code == .cancelled)
                }
            }
            release.fire()
            let reply = try await bystander.value
            #expect(reply.text == "bystander")
            await client.close()
            server.beginGracefulShutdown()
            try await group.waitForAll()
        }
        try await clientLoop.shutdownGracefully()
    }
}
