import DeadlineRPC
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// ``DNSResolver`` over real UDP sockets on 127.0.0.1, against a scripted DNS server that answers, stays silent,
/// lies about ids, or sends broken answers.
@Suite("DNSResolver against a scripted UDP server")
struct DNSResolverTests {
    static let v6: [UInt8] = [0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]

    /// Answers for orders.test: A 10.0.0.1, 10.0.0.2; AAAA fd00::1; NXDOMAIN for anything else.
    static func orders(_ query: ScriptedDNSServer.Query) -> [[UInt8]] {
        guard query.name == "orders.test" else { return [query.answer([], flags: 0x8183)] }
        return [query.type == 1
            ? query.answer([DNSAnswerBuilder.a(10, 0, 0, 1), DNSAnswerBuilder.a(10, 0, 0, 2)])
            : query.answer([DNSAnswerBuilder.aaaa(Self.v6)])]
    }

    @Test("Returns every A and AAAA record as an endpoint with the port: IPv4 first")
    func resolves() async throws {
        try await ScriptedDNSServer.with({ query, _ in Self.orders(query) }) { server in
            let resolver = DNSResolver(server: server.address)
            let endpoints = try await resolver.resolve(host: "orders.test", port: 7000)
            #expect(endpoints == [
                Endpoint(host: "10.0.0.1", port: 7000), Endpoint(host: "10.0.0.2", port: 7000), Endpoint(host: "fd00::1", port: 7000),
            ])
        }
    }

    @Test("NXDOMAIN fails with 'no such name'")
    func noSuchName() async throws {
        try await ScriptedDNSServer.with({ query, _ in Self.orders(query) }) { server in
            let error = await #expect(throws: ResolutionError.self) {
                try await DNSResolver(server: server.address).resolve(host: "nope.test", port: 7000)
            }
            #expect(error == ResolutionError(host: "nope.test", reason: "no such name"))
        }
    }

    @Test("Queries dropped by the network are sent once more after the timeout, with new ids, and then answered")
    func retriesOnce() async throws {
        // The resent queries must be answered within the second attempt's 200 ms. The server and the resolver get a
        // loop of their own: on the process's shared loops, other suites' work in a full parallel run held the answer
        // past that window (two CI runs failed so).
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        // The server ignores the first query of each type.
        do {
            try await ScriptedDNSServer.with(group: group, { query, seen in
                seen.filter { $0.type == query.type }.count == 1 ? [] : Self.orders(query)
            }) { server in
                let resolver = DNSResolver(server: server.address, timeout: .milliseconds(200), eventLoopGroup: group)
                #expect(try await resolver.resolve(host: "orders.test", port: 1).count == 3)
                let queries = try await server.queries(4)
                #expect(queries.map(\.type).sorted() == [1, 1, 28, 28])
                #expect(Set(queries.map(\.id)).count == 4, "each attempt has ids of its own")
            }
        } catch {
            try await group.shutdownGracefully()
            throw error
        }
        try await group.shutdownGracefully()
    }

    @Test("A silent server: two attempts, then a ResolutionError naming the timeout and the server")
    func timesOut() async throws {
        try await ScriptedDNSServer.with({ _, _ in [] }) { server in
            let resolver = DNSResolver(server: server.address, timeout: .milliseconds(100))
            let error = await #expect(throws: ResolutionError.self) { try await resolver.resolve(host: "orders.test", port: 1) }
            #expect(error?.reason == "no answer from the DNS server after 2 attempts of 100 ms each (server 127.0.0.1:\(server.port))")
            let queries = try await server.queries(4)
            #expect(queries.count == 4)
        }
    }

    @Test("A datagram with a foreign id is ignored; the real answer that follows counts")
    func foreignID() async throws {
        try await ScriptedDNSServer.with({ query, _ in
            let forged = ScriptedDNSServer.Query(id: query.id &+ 1, name: query.name, type: query.type)
            return [forged.answer([DNSAnswerBuilder.a(6, 6, 6, 6)])] + Self.orders(query)
        }) { server in
            let endpoints = try await DNSResolver(server: server.address).resolve(host: "orders.test", port: 1)
            #expect(endpoints.map(\.host) == ["10.0.0.1", "10.0.0.2", "fd00::1"])
        }
    }

    @Test("A truncated answer fails with the reason")
    func truncated() async throws {
        try await ScriptedDNSServer.with({ query, _ in [query.answer([], flags: 0x8380)] }) { server in
            let error = await #expect(throws: ResolutionError.self) {
                try await DNSResolver(server: server.address).resolve(host: "orders.test", port: 1)
            }
            #expect(error?.reason == "malformed answer: the answer is truncated (TC set): it does not fit 1232 bytes, and this resolver does not retry over TCP")
        }
    }

    @Test("An answer longer than 1232 bytes fails as oversized")
    func oversized() async throws {
        try await ScriptedDNSServer.with({ query, _ in
            [query.answer((0..<100).map { DNSAnswerBuilder.a(10, 0, 0, UInt8($0)) })]  // 12 + 17 + 100 × 16 bytes.
        }) { server in
            let error = await #expect(throws: ResolutionError.self) {
                try await DNSResolver(server: server.address).resolve(host: "orders.test", port: 1)
            }
            #expect(error?.reason == "malformed answer: the answer is longer than the 1232 bytes this resolver accepts")
        }
    }

    @Test("Nothing listening on the server's port: fails at once as refused, without waiting for the timeout")
    func refused() async throws {
        let port = try await ScriptedDNSServer.unusedPort()
        let resolver = try DNSResolver(host: "127.0.0.1", port: port, timeout: .seconds(600))
        let error = await #expect(throws: ResolutionError.self) { try await resolver.resolve(host: "orders.test", port: 1) }
        #expect(error?.reason == "the DNS server 127.0.0.1:\(port) refused the query (nothing listens on its port)")
    }

    @Test("IP literals are returned as they are, without a query")
    func literals() async throws {
        let resolver = try DNSResolver(host: "127.0.0.1", port: try await ScriptedDNSServer.unusedPort())
        #expect(try await resolver.resolve(host: "10.1.2.3", port: 9) == [Endpoint(host: "10.1.2.3", port: 9)])
        #expect(try await resolver.resolve(host: "::1", port: 9) == [Endpoint(host: "::1", port: 9)])
    }

    @Test("Bad input: a name that cannot be asked, and a server given by name")
    func badInput() async throws {
        let resolver = try DNSResolver(host: "127.0.0.1")
        let error = await #expect(throws: ResolutionError.self) { try await resolver.resolve(host: "a..test", port: 1) }
        #expect(error == ResolutionError(host: "a..test", reason: "invalid name: the name has an empty label"))
        #expect(throws: ResolutionError(host: "dns.example", reason: "a DNS server must be given as an IP address, not 'dns.example'")) {
            try DNSResolver(host: "dns.example")
        }
    }

    @Test("Cancelling the resolving task ends it with CancellationError while it waits")
    func cancellation() async throws {
        try await ScriptedDNSServer.with({ _, _ in [] }) { server in
            let resolver = DNSResolver(server: server.address, timeout: .seconds(600))
            let task = Task { try await resolver.resolve(host: "orders.test", port: 1) }
            _ = try await server.queries(2)  // Both queries are out: the resolver is waiting.
            task.cancel()
            let result = await task.result
            #expect(throws: CancellationError.self) { try result.get() }
        }
    }
}

/// A UDP DNS server on 127.0.0.1 whose answers a test scripts: `script(query, queriesSoFar)` returns the
/// datagrams to send back (none: stay silent).
final class ScriptedDNSServer: Sendable {
    /// One query as the server read it.
    struct Query: Sendable {
        var id: UInt16
        var name: String
        var type: UInt16

        /// An answer to this query with `records` and `flags`.
        func answer(_ records: [DNSAnswerBuilder.Record], flags: UInt16 = 0x8180) -> [UInt8] {
            DNSAnswerBuilder(id: self.id, flags: flags, questionName: self.name, questionType: self.type, records: records).bytes
        }

        /// Reads id, name and type (no compression in queries).
        init?(_ bytes: [UInt8]) {
            guard bytes.count > 12 else { return nil }
            var offset = 12
            var labels: [String] = []
            while offset < bytes.count, bytes[offset] != 0 {
                let length = Int(bytes[offset])
                guard offset + 1 + length < bytes.count else { return nil }
                labels.append(String(decoding: bytes[(offset + 1)...(offset + length)], as: UTF8.self))
                offset += 1 + length
            }
            guard offset + 3 < bytes.count else { return nil }
            self.init(id: UInt16(bytes[0]) << 8 | UInt16(bytes[1]), name: labels.joined(separator: "."), type: UInt16(bytes[offset + 1]) << 8 | UInt16(bytes[offset + 2]))
        }

        init(id: UInt16, name: String, type: UInt16) {
            self.id = id
            self.name = name
            self.type = type
        }
    }

    private let channel: any Channel
    private let received: AsyncStream<Query>

    private init(channel: any Channel, received: AsyncStream<Query>) {
        self.channel = channel
        self.received = received
    }

    var address: SocketAddress { self.channel.localAddress! }
    var port: Int { self.channel.localAddress!.port! }

    /// Runs `body` with a server answering by `script`, closed afterwards.
    static func with(
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        _ script: @escaping @Sendable (Query, [Query]) -> [[UInt8]],
        _ body: (ScriptedDNSServer) async throws -> Void
    ) async throws {
        let (received, sink) = AsyncStream.makeStream(of: Query.self)
        let log = SeenLog()
        let channel = try await DatagramBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Handler(script: script, sink: sink, log: log))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        let server = ScriptedDNSServer(channel: channel, received: received)
        do {
            try await body(server)
        } catch {
            try? await channel.close()
            throw error
        }
        try await channel.close()
    }

    /// Waits for the first `count` queries the server received (the suite's time limit bounds the wait).
    func queries(_ count: Int) async throws -> [Query] {
        var queries: [Query] = []
        for await query in self.received {
            queries.append(query)
            if queries.count == count { return queries }
        }
        throw RPCError(code: .internal, message: "the server closed after \(queries.count) queries")
    }

    /// A UDP port on 127.0.0.1 that nothing listens on (bound, then closed).
    static func unusedPort() async throws -> Int {
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress!.port!
        try await channel.close()
        return port
    }

    /// The queries so far, for the script.
    private final class SeenLog: Sendable {
        let queries = Mutex<[Query]>([])
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        typealias OutboundOut = AddressedEnvelope<ByteBuffer>

        let script: @Sendable (Query, [Query]) -> [[UInt8]]
        let sink: AsyncStream<Query>.Continuation
        let log: SeenLog

        init(script: @escaping @Sendable (Query, [Query]) -> [[UInt8]], sink: AsyncStream<Query>.Continuation, log: SeenLog) {
            self.script = script
            self.sink = sink
            self.log = log
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = self.unwrapInboundIn(data)
            guard let query = Query(Array(envelope.data.readableBytesView)) else { return }
            let seen = self.log.queries.withLock { $0.append(query); return $0 }
            self.sink.yield(query)
            for reply in self.script(query, seen) {
                context.write(self.wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: ByteBuffer(bytes: reply))), promise: nil)
            }
            context.flush()
        }
    }
}
