import Logging
import NIOCore
import NIOEmbedded
import Testing
import Wire

@testable import DeadlineRPC

@Suite("Client connection handler", .timeLimit(.minutes(5)))
struct ClientConnectionHandlerTests {
    /// The handler keeps its context and the context its handler; NIO does not break that cycle when the channel
    /// closes, so every closed client connection (decoder buffer, queues) stayed in memory: the kill soak's
    /// remaining RSS growth (`docs/RELIABILITY.md`).
    @Test("A closed connection's handler is freed, as soon as its channel closes")
    func closedConnectionIsFreed() throws {
        let channel = EmbeddedChannel()
        let configuration = RPCClient.Configuration()
        let manager = ClientConnectionManager(
            host: "127.0.0.1",
            port: 1,
            configuration: configuration,
            eventLoop: channel.eventLoop,
            stats: ClientStats(prefix: "test", factory: nil, logger: Logger(label: "test"))
        )
        weak var released: ClientConnectionHandler?
        do {
            let handler = ClientConnectionHandler(configuration: configuration, manager: manager)
            released = handler
            try channel.pipeline.syncOperations.addHandler(handler)
        }
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        var hello = ByteBuffer()
        FrameEncoder.writePreface(into: &hello)
        FrameEncoder.write(.settings(Settings()), into: &hello)
        try channel.writeInbound(hello)
        channel.pipeline.fireChannelInactive()  // the peer went away
        _ = try channel.finish(acceptAlreadyClosed: true)
        #expect(released == nil)
    }
}
