import ArgumentParser
import DeadlineRPC
import NIOCore
import NIOPosix
import Synchronization

/// `tls-bench flood`: one legitimate client doing unary echo calls on its established TLS connection, calm and
/// then while `--handshakes` full TLS handshakes are kept in flight at once (each replaced as it completes) and
/// `--trickle` raw TCP connections trickle a ClientHello a byte at a time (closed by the server's preface timeout,
/// then reopened). Reports the client's p50/p99 in both phases, and a fresh client's connect + first call.
struct FloodCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flood",
        abstract: "A legitimate client's p50/p99 during a flood of TLS handshakes and trickled ClientHellos, against without it."
    )

    @Option(help: "TLS handshakes in flight at once during the flood (all started together, each replaced when done).") var handshakes: Int = 500
    @Option(help: "Raw TCP connections trickling a ClientHello during the flood (0: none).") var trickle: Int = 100
    @Option(help: "One byte per this many ms on each trickling connection.") var trickleIntervalMs: Int = 200
    @Option(help: "The server's preface timeout in seconds (the TLS handshake counts against it).") var prefaceTimeout: Int = 10
    @Option(help: "Seconds of each phase (calm, then flood).") var duration: Double = 10
    @Option(help: "Seconds of calls before the calm phase (not recorded).") var warmup: Double = 2
    @Option(help: "Flood client event-loop threads.") var floodThreads: Int = 1
    @Option(help: "A fresh client's connect + first call is measured every this many ms in each phase (0: never).") var freshEveryMs: Int = 250

    func validate() throws {
        guard self.handshakes >= 0, self.trickle >= 0, self.trickleIntervalMs > 0, self.prefaceTimeout > 0, self.duration > 0, self.floodThreads > 0 else {
            throw ValidationError("counts must be ≥ 0, intervals, timeouts, durations and threads positive")
        }
    }

    func run() async throws {
        let files = raiseFileLimit()
        let needed = 2 * (self.handshakes + self.trickle) + 64
        if files < needed {
            print("warning: the open-file limit is \(files), and the flood needs about \(needed) (both ends of every connection live here): raise it with ulimit -n")
        }
        let material = try BenchTLSMaterial()
        let floodGroup = MultiThreadedEventLoopGroup(numberOfThreads: self.floodThreads)
        let settings = FloodSettings(
            handshakes: self.handshakes,
            trickle: self.trickle,
            trickleInterval: .milliseconds(self.trickleIntervalMs),
            freshEvery: self.freshEveryMs > 0 ? .milliseconds(self.freshEveryMs) : nil
        )
        let duration = self.duration
        let warmup = self.warmup
        try await EchoTarget.with(material, prefaceTimeout: .seconds(self.prefaceTimeout)) { server, port in
            var configuration = RPCClient.Configuration()
            configuration.transportSecurity = material.clientSecurity
            let client = RPCClient(host: "127.0.0.1", port: port, configuration: configuration)
            let payload = ByteBuffer(repeating: 0x61, count: 64)
            _ = try await client.unary(EchoTarget.echo, payload, options: CallOptions(timeout: .seconds(5)))  // connected before anything is measured
            _ = await settings.phase(client, port: port, material: material, flood: nil, seconds: warmup)
            let calm = await settings.phase(client, port: port, material: material, flood: nil, seconds: duration)
            let connector = RawConnector(group: floodGroup, host: "127.0.0.1", port: port)
            let flood = await settings.phase(client, port: port, material: material, flood: connector, seconds: duration)
            await client.close()
            print("calm  legit_unary \(calm.calls.summary) fresh_connect_first_call \(calm.fresh.summary)")
            print("flood legit_unary \(flood.calls.summary) fresh_connect_first_call \(flood.fresh.summary)")
            print("flood handshakes_in_flight=\(settings.handshakes) completed=\(flood.handshakes.count) failed=\(flood.handshakes.failed) per_s=\(Int(Double(flood.handshakes.count) / duration)) first_wave_ms=\(flood.firstWaveMilliseconds.map(String.init) ?? "unfinished") handshake \(flood.handshakes.summary)")
            print("flood trickling=\(settings.trickle) closed_by_server=\(flood.trickleClosed) server_tls_handshake_failures=\(server.stats.tlsHandshakeFailures)")
            let ratio = calm.calls.p99 > 0 ? Double(flood.calls.p99) / Double(calm.calls.p99) : 0
            print("verdict legit p50 \(calm.calls.p50) → \(flood.calls.p50) µs, p99 \(calm.calls.p99) → \(flood.calls.p99) µs (\(String(format2: ratio))× during the flood)")
        }
        try await floodGroup.shutdownGracefully()
    }
}

/// What one phase measured.
struct FloodPhase: Sendable {
    /// The legitimate client's calls on its established connection.
    var calls: Samples
    /// Fresh clients' connect + first call.
    var fresh: Samples
    /// The flood's handshakes (connect + handshake each).
    var handshakes: Samples
    /// Trickling connections the server closed.
    var trickleClosed: Int
    /// When the first wave of handshakes had all completed (or failed), ms after the phase began.
    var firstWaveMilliseconds: Int?
}

/// The flood's shape, apart from the command (which is not `Sendable`).
struct FloodSettings: Sendable {
    var handshakes: Int
    var trickle: Int
    var trickleInterval: Duration
    var freshEvery: Duration?

    /// `seconds` of closed-loop unary calls on `client` (and a fresh client every ``freshEvery``), with the flood
    /// beside them when `flood` is given: its handshakes all start at once, and everything stops with the phase.
    func phase(_ client: RPCClient, port: Int, material: BenchTLSMaterial, flood: RawConnector?, seconds: Double) async -> FloodPhase {
        let calls = Samples()
        let fresh = Samples()
        let handshakes = Samples()
        let state = FloodState()
        let clock = ContinuousClock()
        let start = clock.now
        let payload = ByteBuffer(repeating: 0x61, count: 64)
        let options = CallOptions(timeout: .seconds(5))
        let settings = self
        await withTaskGroup(of: Void.self) { group in
            if let flood {
                for _ in 0..<settings.handshakes {
                    group.addTask {
                        var first = true
                        while !state.stopped {
                            do {
                                handshakes.record(try await flood.handshake(material.rawClientContext, serverName: BenchTLSMaterial.serverName))
                            } catch {
                                handshakes.fail()
                            }
                            if first {
                                first = false
                                state.waveMember(done: settings.handshakes, at: clock.now - start)
                            }
                        }
                    }
                }
                for _ in 0..<settings.trickle {
                    group.addTask {
                        while !state.stopped {
                            let closed = (try? await flood.trickle(every: settings.trickleInterval) { state.stopped }) ?? false
                            if closed { state.trickleClosed.add(1, ordering: .relaxed) }
                        }
                    }
                }
            }
            group.addTask {
                while !state.stopped {
                    let started = clock.now
                    do {
                        _ = try await client.unary(EchoTarget.echo, payload, options: options)
                        calls.record(clock.now - started)
                    } catch {
                        calls.fail()
                    }
                }
            }
            if let every = settings.freshEvery {
                group.addTask {
                    var configuration = RPCClient.Configuration()
                    configuration.transportSecurity = material.clientSecurity
                    while !state.stopped {
                        let started = clock.now
                        let newcomer = RPCClient(host: "127.0.0.1", port: port, configuration: configuration)
                        do {
                            _ = try await newcomer.unary(EchoTarget.echo, payload, options: options)
                            fresh.record(clock.now - started)
                        } catch {
                            fresh.fail()
                        }
                        await newcomer.close()
                        try? await Task.sleep(until: started + every, clock: clock)
                    }
                }
            }
            group.addTask {
                try? await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
                state.stop.store(true, ordering: .relaxed)
            }
        }
        return FloodPhase(
            calls: calls,
            fresh: fresh,
            handshakes: handshakes,
            trickleClosed: state.trickleClosed.load(ordering: .relaxed),
            firstWaveMilliseconds: state.firstWaveDone.withLock { $0 }
        )
    }
}

/// A phase's shared flags and counters (atomics live in a class so tasks can share them).
final class FloodState: Sendable {
    let stop = Atomic<Bool>(false)
    let trickleClosed = Atomic<Int>(0)
    let firstWave = Atomic<Int>(0)
    let firstWaveDone = Mutex<Int?>(nil)

    var stopped: Bool { self.stop.load(ordering: .relaxed) }

    /// One handshake of the first wave ended, `elapsed` after the phase began; the last of `done` records the time.
    func waveMember(done: Int, at elapsed: Duration) {
        guard self.firstWave.add(1, ordering: .relaxed).newValue == done else { return }
        let milliseconds = Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
        self.firstWaveDone.withLock { $0 = milliseconds }
    }
}

extension String {
    /// Two decimals.
    init(format2 value: Double) {
        let hundredths = Int((value * 100).rounded())
        let cents = hundredths % 100
        self = "\(hundredths / 100).\(cents < 10 ? "0" : "")\(cents)"
    }
}
