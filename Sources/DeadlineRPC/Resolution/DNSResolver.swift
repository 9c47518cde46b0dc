import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Asks one DNS server directly, over UDP, for a name's A and AAAA records — for a test bed's own DNS server, or
/// a deployment that must not depend on `/etc/resolv.conf`. ``SystemResolver`` stays the default.
///
/// Each resolution opens its own UDP socket (a fresh random source port) on an event loop, sends an A and an AAAA
/// query with random ids, and accepts only answers from the server with those ids and that question. CNAMEs are
/// followed within the answer. An attempt that gets no answer within `timeout` is retried once (new ids; a late
/// answer to the first attempt still counts). NXDOMAIN fails with the reason `"no such name"`; a truncated,
/// oversized or malformed answer, a timeout, or a server that refuses fails with a ``ResolutionError`` naming why.
///
/// Record TTLs are ignored: the client asks again on its own refresh interval (and at once when a connection
/// fails), and nothing here caches. Search domains are not applied: the name is asked as given. An IP literal is
/// returned as it is, without a query.
///
/// ```swift
/// let resolver = try DNSResolver(host: "10.0.0.53")
/// let replicas = try await resolver.resolve(host: "orders.test", port: 7000)
/// ```
public struct DNSResolver: NameResolver {
    /// The DNS server asked.
    public let server: SocketAddress
    /// How long one attempt waits for its answers before the one retry (and the retry before failing).
    public let timeout: Duration
    private let group: any EventLoopGroup

    /// A resolver asking `server`, waiting `timeout` per attempt, on `eventLoopGroup`'s loops (NIO's shared
    /// group by default). `timeout` must be positive.
    public init(
        server: SocketAddress,
        timeout: Duration = .seconds(2),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        precondition(timeout > .zero, "DNSResolver's timeout must be positive, not \(timeout)")
        self.server = server
        self.timeout = timeout
        self.group = eventLoopGroup
    }

    /// A resolver asking the server at the IP literal `host` on `port` (53 by default); throws if `host` is not
    /// an IPv4 or IPv6 literal (a DNS server named by a name would need a resolver of its own).
    public init(
        host: String,
        port: Int = 53,
        timeout: Duration = .seconds(2),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) throws {
        let address: SocketAddress
        do {
            address = try SocketAddress(ipAddress: host, port: port)
        } catch {
            throw ResolutionError(host: host, reason: "a DNS server must be given as an IP address, not '\(host)'")
        }
        self.init(server: address, timeout: timeout, eventLoopGroup: eventLoopGroup)
    }

    /// Every IPv4 and IPv6 address of `host`, each with `port`: the A records' first, then the AAAA records', in
    /// the server's order, without duplicates. Throws ``ResolutionError`` (or `CancellationError` if the task is
    /// cancelled while waiting).
    public func resolve(host: String, port: Int) async throws -> [Endpoint] {
        if let literal = try? SocketAddress(ipAddress: host, port: port), let ip = literal.ipAddress {
            return [Endpoint(host: ip, port: port)]
        }
        var lookup: DNSLookup
        do {
            lookup = try DNSLookup(name: host) { UInt16.random(in: .min ... .max) }
        } catch {
            throw ResolutionError(host: host, reason: "invalid name: \(error.reason)")
        }
        let outcome = try await self.exchange(&lookup, name: host)
        switch outcome {
        case .addresses(let literals):
            return literals.map { Endpoint(host: $0, port: port) }
        case .failure(let reason):
            throw ResolutionError(host: host, reason: reason)
        }
    }

    /// Runs `lookup` against the server over a new connected UDP socket, closed before returning.
    private func exchange(_ lookup: inout DNSLookup, name lookupName: String) async throws -> DNSLookup.Outcome {
        let (events, sink) = AsyncStream.makeStream(of: DNSDatagramHandler.Event.self, bufferingPolicy: .bufferingNewest(64))
        let channel: any Channel
        do {
            // Connected: the kernel drops datagrams from any other address and reports ICMP "port unreachable".
            channel = try await DatagramBootstrap(group: self.group)
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: DNSMessage.maximumSize + 1))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(DNSDatagramHandler(sink: sink))
                    }
                }
                .connect(to: self.server)
                .get()
        } catch {
            throw ResolutionError(host: lookupName, reason: "cannot open a UDP socket to the DNS server \(self.serverName): \(error)")
        }
        let server = self.server
        let serverName = self.serverName
        let timeout = TimeAmount(self.timeout)
        func send(_ queries: [[UInt8]]) {
            for query in queries {
                channel.write(AddressedEnvelope(remoteAddress: server, data: ByteBuffer(bytes: query))).whenFailure { error in
                    sink.yield(.failed(error))
                }
            }
            channel.flush()
        }
        var attempt = 1
        var timer = channel.eventLoop.scheduleTask(in: timeout) { sink.yield(.timedOut(attempt: 1)) }
        defer {
            timer.cancel()
            channel.close(promise: nil)
            sink.finish()
        }
        send(lookup.start())
        // The stream ends (nil) when the task is cancelled.
        for await event in events {
            switch event {
            case .datagram(let bytes):
                // A datagram of more than the maximum was cut to maximum + 1 bytes by the allocator: the decoder
                // rejects it as oversized.
                switch lookup.received(bytes) {
                case .ignore, .wait: continue
                case .finish(let outcome): return outcome
                }
            case .timedOut(let fired):
                guard fired == attempt else { continue }  // A timer cancelled too late.
                switch lookup.timedOut() {
                case .resend(let queries):
                    attempt += 1
                    let next = attempt
                    timer = channel.eventLoop.scheduleTask(in: timeout) { sink.yield(.timedOut(attempt: next)) }
                    send(queries)
                case .finish(.failure(let reason)):
                    return .failure("\(reason) of \(self.timeout.components.seconds * 1_000 + self.timeout.components.attoseconds / 1_000_000_000_000_000) ms each (server \(serverName))")
                case .finish(let outcome):
                    return outcome
                }
            case .failed(let error):
                if let error = error as? IOError, error.errnoCode == ECONNREFUSED {
                    return .failure("the DNS server \(serverName) refused the query (nothing listens on its port)")
                }
                return .failure("cannot reach the DNS server \(serverName): \(error)")
            }
        }
        try Task.checkCancellation()
        return .failure("the UDP socket to the DNS server \(serverName) closed")
    }

    /// The server as `IP:PORT` (`[IPv6]:PORT`), for messages.
    private var serverName: String {
        guard let ip = self.server.ipAddress, let port = self.server.port else { return "\(self.server)" }
        return Endpoint(host: ip, port: port).description
    }
}
