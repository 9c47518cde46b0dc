import ArgumentParser
import RPCBenchCore
import TestSupport
import Testing

@testable import rpcbench

/// `rpcbench --tls` and `--transport`: which runs they ask for, what they refuse, and a tiny storm over TLS.
@Suite("rpcbench over TLS", .timeLimit(.minutes(5)))
struct TLSBenchTests {
    private static func rejection(_ arguments: [String]) -> String? {
        do {
            _ = try RPCBench.Run.parse(arguments)
            return nil
        } catch {
            return RPCBench.Run.message(for: error)
        }
    }

    @Test("--tls is --transport tls; plaintext stays the default; both is a choice")
    func flags() throws {
        #expect(try RPCBench.Run.parse([]).transportChoice == .plaintext)
        #expect(try RPCBench.Run.parse(["--tls"]).transportChoice == .tls)
        #expect(try RPCBench.Run.parse(["--transport", "tls"]).transportChoice == .tls)
        #expect(try RPCBench.Run.parse(["--transport", "both"]).transportChoice == .both)
        #expect(try RPCBench.Run.parse(["--tls", "--transport", "tls"]).transportChoice == .tls)
        // The plain configuration stays plaintext: TLS is added by BenchTLS.secure for the TLS run only.
        let plain = try RPCBench.Run.parse(["--tls"]).benchConfiguration
        #expect(!plain.clientConfiguration.transportSecurity.usesTLS)
        #expect(!plain.server.transportSecurity.usesTLS)
    }

    @Test("TLS secures the embedded chain only, and --tls contradicts --transport plaintext|both")
    func refusals() {
        #expect(Self.rejection(["--tls", "--target", "127.0.0.1:7000"]) == "--tls and --transport tls|both secure the embedded chain (its throwaway CA is made in this process); they do not go with --target or --replicas")
        #expect(Self.rejection(["--transport", "both", "--replicas", "3"]) == "--tls and --transport tls|both secure the embedded chain (its throwaway CA is made in this process); they do not go with --target or --replicas")
        #expect(Self.rejection(["--tls", "--transport", "both"]) == "--tls is --transport tls; it does not go with --transport both")
        #expect(Self.rejection(["--transport", "quic"]) != nil)
    }

    @Test("A tiny storm over TLS: every connection secured, victims served, nothing left in flight", .heavyweight, .timeLimit(.minutes(2)))
    func tinyRunOverTLS() async throws {
        var configuration = BenchConfiguration()
        configuration.target = .embedded(hops: 2)
        configuration.load = .open(rate: 100, maxInFlight: 50)
        configuration.warmup = .milliseconds(200)
        configuration.duration = .milliseconds(600)
        configuration.comparePropagation = false
        configuration.drainTimeout = .seconds(5)
        var storm = StormConfiguration()
        storm.cancelRate = 10
        storm.deadlineRate = 10
        storm.burstSize = 10
        storm.burstInterval = .milliseconds(300)
        storm.disconnectInterval = .milliseconds(300)
        storm.disconnectCalls = 3
        storm.chainRate = 5
        storm.work = .milliseconds(300)
        configuration.storm = storm
        let secured = try BenchTLS.secure(configuration)
        #expect(secured.server.transportSecurity.usesTLS)
        #expect(secured.server.hopClientSecurity.usesTLS)
        #expect(secured.clientConfiguration.transportSecurity.usesTLS)
        #expect(secured.clientConfiguration.transportSecurity.serverName == BenchTLS.serverName)

        let report = try await BenchRunner.run(secured)

        #expect(report.configuration.stack == "DeadlineRPC over TLS")
        #expect(ReportTable.render(report).contains("DeadlineRPC over TLS under a cancellation storm"))
        #expect(report.phases.map(\.name) == ["calm", "storm"])
        #expect(report.afterRun.drained)
        #expect(report.afterRun.handlersInFlight == 0)
        // A TLS client gets nothing from a plaintext server (the handshake fails at once): served victims and
        // storm calls that reached hop 2 prove both the bench's clients and the hop clients spoke TLS.
        for phase in report.phases {
            #expect(phase.victims.succeeded > 0, "\(phase.name)")
            // No handshake or connection failure (timeouts on a loaded machine are not the point here).
            #expect(!phase.victims.errorsByCode.keys.contains { $0.lowercased().contains("unavailable") }, "\(phase.name): \(phase.victims.errorsByCode)")
        }
        let stormPhase = try #require(report.phase("storm"))
        #expect(stormPhase.stormResults.callsByKind["chain-cancel"].map { $0 > 0 } == true)
        #expect(stormPhase.server.handlersInFlightAfterSettle == 0)
    }
}
