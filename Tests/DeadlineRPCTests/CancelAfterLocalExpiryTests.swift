@testable import DeadlineRPC
import NIOCore
import NIOPosix
import Synchronization
import Testing

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
        let timerLoop = MultiThreadedEventLoopGroup.singleton.next()
        let tap = DeadlineTap()
        var clientConfiguration = RPCClient.Configuration()
        clientConfiguration.interceptors = [tap]
        let server = RPCServer(host: "127.0.0.1", port: 0, router: router)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            let port = try await server.listeningAddress.port!
            let client = RPCClient(host: "127.0.0.1", port: port, configuration: clientConfiguration, eventLoopGroup: clientLoop)
            _ = try await client.unary(TestMethods.echo, Echo(text: "warm"))
            let bystander = Task { try await client.unary(TestMethods.wait, Echo(text: "bystander")) }
            await bystanderStarted.wait()
            for _ in 0..<20 {
                // Hold the client's loop: the victim's start queues behind the hold.
                let gate = LoopGate()
                defer { gate.release() }  // Also when an expectation below throws: never leave the loop held.
                clientLoop.next().execute { gate.hold() }
                await gate.held.wait()
                let sending = tap.arm()
                let victim = Task {
                    try await client.unary(TestMethods.echo, Echo(text: "x"), options: CallOptions(timeout: .milliseconds(2)))
                }
                // The victim has its deadline and goes on to submit its start without suspending. Keep the loop
                // held until that deadline has passed: a timer on another loop at that very instant (the event
                // itself, on the runtime's clock), then checked.
                await sending.wait()
                let deadline = try #require(tap.deadline)
                try await timerLoop.scheduleTask(deadline: deadline.nioDeadline) {}.futureResult.get()
                #expect(deadline.hasPassed)
                // The cancel races the expired start (both orders must leave the connection intact); the loop
                // runs them once released.
                victim.cancel()
                gate.release()
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

/// Tells the test the effective deadline of each call as it is about to be sent, and fires the signal handed out
/// by the latest ``arm()``.
private final class DeadlineTap: ClientInterceptor {
    private let slot = Mutex<(signal: Signal, deadline: Deadline?)>((Signal(), nil))

    /// A signal fired by the next call through the tap.
    func arm() -> Signal {
        let signal = Signal()
        self.slot.withLock { $0 = (signal, nil) }
        return signal
    }

    /// The deadline of the latest call through the tap.
    var deadline: Deadline? { self.slot.withLock { $0.deadline } }

    func intercept<Result>(_ call: OutboundCall, next: (OutboundCall) async throws -> Result) async throws -> Result {
        let signal = self.slot.withLock { slot -> Signal in
            slot.deadline = call.deadline
            return slot.signal
        }
        signal.fire()
        return try await next(call)
    }
}
