import ArgumentParser
import NIOPosix

/// `tls-bench handshakes`: full TLS handshakes against a DeadlineRPC TLS server (ECDSA P-256 certificate, TLS 1.3
/// negotiated, ALPN drpc/1, chain and name verified, no resumption), one at a time and `--concurrency` at a time,
/// beside bare TCP connects: handshakes per second and µs per handshake.
struct HandshakesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "handshakes",
        abstract: "Full TLS handshakes per second and µs per handshake, sequential and concurrent, beside bare TCP connects."
    )

    @Option(help: "Handshakes per measurement (after as many again for warm-up, a tenth of them).") var count: Int = 2_000
    @Option(help: "Handshakes in flight at once in the concurrent measurement.") var concurrency: Int = 64
    @Option(help: "Client event-loop threads (the server uses the runtime's shared group).") var clientThreads: Int = 1

    func validate() throws {
        guard self.count > 0, self.concurrency > 0, self.clientThreads > 0 else {
            throw ValidationError("--count, --concurrency and --client-threads must be positive")
        }
    }

    func run() async throws {
        raiseFileLimit()
        let material = try BenchTLSMaterial()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: self.clientThreads)
        let count = self.count
        let concurrency = self.concurrency
        try await EchoTarget.with(material, prefaceTimeout: .seconds(10)) { server, port in
            let connector = RawConnector(group: group, host: "127.0.0.1", port: port)
            let tls: @Sendable () async throws -> Duration = {
                try await connector.handshake(material.rawClientContext, serverName: BenchTLSMaterial.serverName)
            }
            let tcp: @Sendable () async throws -> Duration = { try await connector.tcpConnect() }
            _ = try await Self.measure(max(1, count / 10), concurrency: 1, tls)
            for (label, connect) in [("tcp", tcp), ("tls", tls)] {
                for parallel in [1, concurrency] {
                    let (samples, seconds) = try await Self.measure(count, concurrency: parallel, connect)
                    let rate = Double(samples.count) / seconds
                    let perHandshake = seconds * 1_000_000 * Double(parallel) / Double(max(1, samples.count))
                    print("handshakes kind=\(label) concurrency=\(parallel) per_s=\(Int(rate)) wall_us_per_conn=\(Int(1_000_000 / max(rate, 1e-9))) latency_us_mean=\(Int(perHandshake)) \(samples.summary)")
                }
            }
            print("server tls_handshake_failures=\(server.stats.tlsHandshakeFailures)")
        }
        try await group.shutdownGracefully()
    }

    /// Runs `count` connects, `concurrency` at a time; returns their latencies and the wall time.
    static func measure(_ count: Int, concurrency: Int, _ connect: @escaping @Sendable () async throws -> Duration) async throws -> (Samples, Double) {
        let samples = Samples()
        let clock = ContinuousClock()
        let start = clock.now
        await withTaskGroup(of: Void.self) { group in
            let perWorker = count / concurrency
            let extra = count % concurrency
            for worker in 0..<concurrency {
                let mine = perWorker + (worker < extra ? 1 : 0)
                group.addTask {
                    for _ in 0..<mine {
                        do { samples.record(try await connect()) } catch { samples.fail() }
                    }
                }
            }
        }
        let elapsed = clock.now - start
        return (samples, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
}
