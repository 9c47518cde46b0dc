@testable import DeadlineRPC
import NIOCore
import NIOPosix
import Synchronization
import Testing
import Wire

@Suite("Regression: a goaway that fails the last open call", .timeLimit(.minutes(5)))
struct GoAwayRaceTests {
    @Test("The call fails unavailable, the client's close() returns, and no closed connection stays 'draining'")
    func goAwayFailingLastCall() async throws {
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(GoAwayOnCallStart())
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        let port = try #require(listener.localAddress?.port)
        let client = RPCClient(host: "127.0.0.1", port: port)
        let error = await #expect(throws: RPCError.self) {
            try await client.unary(TestMethods.echo, Echo(text: "crossed"), options: CallOptions(timeout: .seconds(30)))
        }
        #expect(error?.code == .unavailable)
        // Before the fix, failing the last stream closed the connection inside the goaway handling, and the
        // connection was then recorded as draining after it had closed: close() waited for it forever.
        // Awaited through a signal with a timeout, so a regression fails here instead of hanging the run.
        let closed = Signal()
        let closing = Task {
            await client.close()
            closed.fire()
        }
        let closedInTime = await closed.wait(timeout: .seconds(30))
        #expect(closedInTime, "close() did not return")
        _ = closing
        let snapshot = await client.debugSnapshot()
        #expect(snapshot.contains("draining []"), "\(snapshot)")
        try await listener.close()
    }
}
