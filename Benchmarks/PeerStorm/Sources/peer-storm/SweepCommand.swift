import ArgumentParser
import Foundation
import NIOCore
import RPCBenchCore
import RPCBenchOptions

extension PeerStorm {
    /// `peer-storm sweep`: the sustained cancel rate at which grpc-swift-2 loses the connection it shares with
    /// ordinary calls.
    struct Sweep: AsyncParsableCommand {
        /// The subcommand's abstract.
        static let configuration = CommandConfiguration(
            abstract: "Victims beside cancels only, one rate at a time, on one shared grpc-swift-2 connection: when is it lost?"
        )

        /// Cancelled calls per second to try, one run each.
        @Option(parsing: .upToNextOption, help: "Cancelled calls per second to try, one run each.")
        var rates: [Double] = [10, 20, 50]

        /// How long each rate runs (swift-nio-http2's reset limit counts over 30 s windows).
        @Option(help: "How long each rate runs (swift-nio-http2's reset limit counts over 30 s windows).")
        var duration = DurationArgument(.seconds(35))

        /// Victim calls per second (open loop, unary echo).
        @Option(help: "Victim calls per second (open loop, unary echo).")
        var victimRate = 2_000.0

        /// Delay before each cancelled call's task is cancelled: 20 ms, long enough for most calls to be on the wire
        /// beside 2,000 victims/s (at 2–5 ms almost none had reached the server here), so the cancel resets a stream
        /// the server has.
        @Option(help: "Delay before each cancelled call's task is cancelled (long enough for the call to reach the server).")
        var cancelAfter = DurationArgument(.milliseconds(20))

        /// How handlers learn their RPC was cancelled.
        @Option(help: "How handlers learn their RPC was cancelled: task or rpc-handle.")
        var handlerCancellation: HandlerCancellation = .task

        /// Folder for sweep.json.
        @Option(help: "Folder for sweep.json and sweep.md.")
        var out = "results"

        /// Runs every rate and prints the table.
        func run() async throws {
            let options = GRPCStackOptions(cancellation: self.handlerCancellation)
            var points: [SweepPoint] = []
            for rate in self.rates {
                FileHandle.standardError.write(Data("peer-storm sweep: \(ReportBuilder.format(rate)) cancels/s for \(self.duration)\n".utf8))
                points.append(try await self.measure(rate: rate, options: options))
            }
            let rows = [SweepPoint.header] + points.map(\.cells)
            let markdown = rows.enumerated().map { index, row in
                "| " + row.joined(separator: " | ") + " |" + (index == 0 ? "\n|" + row.map { _ in " ---: " }.joined(separator: "|") + "|" : "")
            }.joined(separator: "\n")
            print("grpc-swift-2: victims at \(ReportBuilder.format(self.victimRate))/s beside cancels only, one shared connection\n")
            print(markdown)
            try FileManager.default.createDirectory(atPath: self.out, withIntermediateDirectories: true)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(points).write(to: URL(fileURLWithPath: "\(self.out)/sweep.json"))
            try Data((markdown + "\n").utf8).write(to: URL(fileURLWithPath: "\(self.out)/sweep.md"))
        }

        /// One rate: a one-hop server, one shared client, victims and cancels for `duration`.
        private func measure(rate: Double, options: GRPCStackOptions) async throws -> SweepPoint {
            var storm = StormConfiguration()
            storm.deadline = false
            storm.burst = false
            storm.disconnect = false
            storm.chain = false
            storm.cancelRate = rate
            storm.cancelAfter = self.cancelAfter.duration
            let watch = ConnectionWatch()
            let duration = self.duration.duration
            let victimRate = self.victimRate
            let payload = ByteBuffer(repeating: UInt8(ascii: "x"), count: 64)
            return try await withGRPCTopology(hops: 1, options: options) { topology in
                try await withGRPCConnections(count: 1, host: topology.host, port: topology.port, options: options, watch: watch) { connections in
                    let shared = connections[0]
                    _ = await shared.echo(BenchRequest(payload: payload), timeout: .seconds(5))
                    let recorder = LatencyRecorder()
                    let log = StormLog()
                    let start = BenchClock.now()
                    async let victims = LoadGenerator(shape: .open(rate: victimRate, maxInFlight: 1_000))
                        .run(for: duration, recorders: [recorder]) { _ in
                            await shared.echo(BenchRequest(payload: payload), timeout: .seconds(2))
                        }
                    await StormDriver(
                        configuration: storm,
                        clients: [shared],
                        connector: GRPCBenchConnector(host: topology.host, port: topology.port, options: options),
                        hops: 1,
                        propagation: true,
                        payload: payload,
                        log: log,
                        live: nil
                    ).run(for: duration)
                    _ = await victims
                    let end = BenchClock.now()
                    // The last handlers record themselves when they end (their work outlives the cancel).
                    try? await Task.sleep(for: .milliseconds(200))
                    let records = log.drain()
                    let cancels = records.map(\.deadAt).sorted()
                    let deadAt = Dictionary(records.map { ($0.tag, $0.deadAt) }, uniquingKeysWith: min)
                    let reached = Set(
                        try await topology.drainRecords()
                            .filter { handler in deadAt[handler.tag].map { handler.startedAt <= $0 } ?? false }
                            .map(\.tag)
                    )
                    let losses = watch.closedAt.filter { $0 < end }
                    let firstCancel = cancels.first ?? start
                    return SweepPoint(
                        cancelRate: rate,
                        seconds: LatencySummary.round(Double(end - start) / 1e9, digits: 1),
                        cancels: cancels.count,
                        cancelsReachingServer: reached.count,
                        victimsOK: recorder.succeeded,
                        victimErrorsByCode: recorder.errorsByCode,
                        connectionsLost: losses.count,
                        firstLossAfterSeconds: losses.first.map { LatencySummary.round(Double($0 - firstCancel) / 1e9, digits: 2) },
                        cancelsBeforeFirstLoss: losses.first.map { loss in cancels.filter { $0 < loss }.count }
                    )
                }
            }
        }
    }
}
