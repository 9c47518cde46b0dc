@testable import DeadlineRPC
import NIOCore
import Synchronization
import Testing
import Wire

/// Graceful shutdown and health: every watcher is written `NOT_SERVING` before its connection's GOAWAY, watches
/// then end on their own (the drain does not wait for its timeout), and a watcher whose client does not read holds
/// one status and the GOAWAY only for the announcement timeout. Observed frame by frame from raw peers.
@Suite("Health service: graceful shutdown and slow watchers", .timeLimit(.minutes(5)))
struct HealthShutdownTests {
    /// What a raw peer saw, reduced to what these tests state.
    enum Seen: Hashable, CustomStringConvertible {
        /// A `MESSAGE` on a stream: its protobuf bytes.
        case status(UInt32, [UInt8])
        case goAway(lastStreamID: UInt32, GoAwayCode)
        case end(UInt32, StatusCode)
        case closed
        case other(String)

        init?(_ event: RawConnection.Event) {
            switch event {
            case .frame(.settings), .frame(.ping), .frame(.credit): return nil
            case .frame(.message(let message)): self = .status(message.streamID, Array(message.data.readableBytesView))
            case .frame(.goAway(let goAway)): self = .goAway(lastStreamID: goAway.lastStreamID, goAway.code)
            case .frame(.callEnd(let end)): self = .end(end.streamID, end.status)
            case .closed: self = .closed
            default: self = .other("\(event)")
            }
        }

        var description: String {
            switch self {
            case .status(let stream, let bytes): return "status(\(stream), \(bytes))"
            case .goAway(let last, let code): return "goAway(\(last), \(code))"
            case .end(let stream, let code): return "end(\(stream), \(code))"
            case .closed: return "closed"
            case .other(let text): return text
            }
        }
    }

    static let serving: [UInt8] = [0x08, 0x01]
    static let notServing: [UInt8] = [0x08, 0x02]
    static let serviceUnknown: [UInt8] = [0x08, 0x03]

    /// Starts a Watch of `service` on `streamID`.
    static func watch(_ raw: RawConnection, streamID: UInt32, service: String) async throws {
        var request = ByteBuffer()
        HealthCheckRequestCodec().encode(service, into: &request)
        try await raw.send(
            .callStart(CallStart(streamID: streamID, method: HealthService.watchMethodName)),
            .message(.whole(streamID: streamID, request, endStream: true))
        )
    }

    /// The next `count` things the peer sees (the timeout only turns a hang into a failure).
    static func next(_ count: Int, from raw: RawConnection) async -> [Seen] {
        let remaining = Atomic(count)
        let (events, matched) = await raw.collect { event in
            Seen(event) != nil && remaining.subtract(1, ordering: .relaxed).newValue == 0
        }
        #expect(matched, "saw only \(events.compactMap(Seen.init))")
        return events.compactMap(Seen.init)
    }

    /// Everything the peer sees until the connection closes.
    static func untilClosed(_ raw: RawConnection) async -> [Seen] {
        let (events, matched) = await raw.collect { if case .closed = $0 { return true }; return false }
        #expect(matched, "the connection did not close; saw \(events.compactMap(Seen.init))")
        return events.compactMap(Seen.init)
    }

    /// Runs `body` with a server for `health`; shuts it down gracefully (if `body` did not) and waits for `run()`.
    static func withServer(
        _ health: HealthService,
        configure: (inout RPCServer.Configuration) -> Void,
        _ body: (RPCServer, Int) async throws -> Void
    ) async throws {
        var configuration = RPCServer.Configuration()
        configure(&configuration)
        let server = RPCServer(host: "127.0.0.1", port: 0, router: HealthServiceTests.router(health), configuration: configuration)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            do {
                try await body(server, try await server.listeningAddress.port!)
            } catch {
                server.beginGracefulShutdown()
                group.cancelAll()
                throw error
            }
            server.beginGracefulShutdown()
            try await watchdog("server.run() after graceful shutdown", describe: { "server: \(server.stats)" }) {
                try await group.waitForAll()
            }
        }
    }

    @Test("Shutdown writes NOT_SERVING to every watcher before its connection's GOAWAY; the watches then end OK and the drain ends without its timeout")
    func notServingBeforeGoAway() async throws {
        let health = HealthService()
        health.setStatus(.serving, forService: "orders.Orders")
        try await Self.withServer(health, configure: {
            $0.healthAnnouncementTimeout = .seconds(3600)  // Only the announcement can release the GOAWAYs.
            $0.drainTimeout = .seconds(3600)  // Only the watches' own ends can end the drain.
        }) { server, port in
            let first = try await RawConnection.connect(port: port)
            let second = try await RawConnection.connect(port: port)
            try await Self.watch(first, streamID: 1, service: "")
            try await Self.watch(first, streamID: 3, service: "orders.Orders")
            try await Self.watch(second, streamID: 1, service: "nobody.Nobody")
            #expect(Set(await Self.next(2, from: first)) == [.status(1, Self.serving), .status(3, Self.serving)])
            #expect(await Self.next(1, from: second) == [.status(1, Self.serviceUnknown)])

            server.beginGracefulShutdown()
            let seen = await Self.untilClosed(first)
            #expect(Set(seen) == [
                .status(1, Self.notServing), .status(3, Self.notServing), .goAway(lastStreamID: 3, .noError),
                .end(1, .ok), .end(3, .ok), .closed,
            ])
            #expect(seen.count == 6)
            let goAway = seen.firstIndex(of: .goAway(lastStreamID: 3, .noError)) ?? 0
            #expect(seen.firstIndex(of: .status(1, Self.notServing)).map { $0 < goAway } == true, "\(seen)")
            #expect(seen.firstIndex(of: .status(3, Self.notServing)).map { $0 < goAway } == true, "\(seen)")
            #expect(seen.last == .closed)
            // A name with no status stays SERVICE_UNKNOWN: its watch just ends.
            let other = await Self.untilClosed(second)
            #expect(Set(other) == [.goAway(lastStreamID: 1, .noError), .end(1, .ok), .closed])
            #expect(other.count == 3 && other.last == .closed)
            #expect(health.status(forService: "") == .notServing)
            #expect(health.status(forService: "orders.Orders") == .notServing)
            health.setStatus(.serving)  // Shut down for good.
            #expect(health.status(forService: "") == .notServing)
        }
    }

    @Test("Through HealthClient: the watch reads NOT_SERVING when shutdown begins, then ends without error, and run() returns without the drain timeout")
    func clientWatchEnds() async throws {
        let health = HealthService()
        try await Self.withServer(health, configure: { $0.drainTimeout = .seconds(3600) }) { server, port in
            let client = RPCClient(host: "127.0.0.1", port: port)
            let statuses = try await HealthClient(client).watch { statuses in
                var seen: [ServingStatus] = []
                for try await status in statuses {
                    seen.append(status)
                    if status == .serving { server.beginGracefulShutdown() }
                }
                return seen
            }
            #expect(statuses == [.serving, .notServing])
            await client.close()
        }
    }

    @Test("A watcher whose client grants no credit holds the GOAWAY only for healthAnnouncementTimeout, and is written NOT_SERVING once it reads")
    func stuckWatcher() async throws {
        let health = HealthService()
        try await Self.withServer(health, configure: {
            $0.healthAnnouncementTimeout = .milliseconds(100)
            $0.drainTimeout = .seconds(3600)
        }) { server, port in
            // Credit for one status: the first goes out, the next waits for the peer to grant more.
            let raw = try await RawConnection.connect(port: port, settings: Settings(initialStreamCredit: 2))
            try await Self.watch(raw, streamID: 1, service: "")
            #expect(await Self.next(1, from: raw) == [.status(1, Self.serving)])
            server.beginGracefulShutdown()
            #expect(await Self.next(1, from: raw) == [.goAway(lastStreamID: 1, .noError)])
            try await raw.send(.credit(streamID: 1, bytes: 1024))
            #expect(await Self.untilClosed(raw) == [.status(1, Self.notServing), .end(1, .ok), .closed])
        }
    }

    @Test("A watcher whose client does not read holds one status, not a backlog: after 10,000 changes it is written the latest only")
    func slowWatcherCoalesces() async throws {
        let health = HealthService()
        try await Self.withServer(health, configure: { _ in }) { server, port in
            let raw = try await RawConnection.connect(port: port, settings: Settings(initialStreamCredit: 2))
            try await Self.watch(raw, streamID: 1, service: "")
            #expect(await Self.next(1, from: raw) == [.status(1, Self.serving)])
            // The watcher takes the first change and waits for credit to write it; the rest can only coalesce.
            for index in 1...10_000 { health.setStatus(index.isMultiple(of: 2) ? .serving : .notServing) }
            health.setStatus(.notServing)
            #expect(health.watcherCount == 1)
            try await raw.send(.credit(streamID: 1, bytes: 1024))
            #expect(await Self.next(1, from: raw) == [.status(1, Self.notServing)])
            // Nothing stale follows: the next status written is the next change, an empty message (UNKNOWN).
            health.setStatus(.unknown)
            #expect(await Self.next(1, from: raw) == [.status(1, [])])
            server.beginGracefulShutdown()
            let rest = await Self.untilClosed(raw)
            #expect(Set(rest) == [.status(1, Self.notServing), .goAway(lastStreamID: 1, .noError), .end(1, .ok), .closed])
            #expect(rest.first == .status(1, Self.notServing) && rest.count == 4)
        }
    }
}
