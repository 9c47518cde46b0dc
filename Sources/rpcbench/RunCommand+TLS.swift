import ArgumentParser
import Foundation
import RPCBenchCore
import RPCBenchOptions

extension RPCBench.Run {
    /// `--transport`, or `tls` for `--tls`.
    var transportChoice: TransportChoice { self.transport ?? (self.tls ? .tls : .plaintext) }

    /// Rejects TLS flags that cannot apply: they secure the embedded chain, whose certificates this process makes.
    func validateTransport() throws {
        if self.tls, let transport = self.transport, transport != .tls {
            throw ValidationError("--tls is --transport tls; it does not go with --transport \(transport.rawValue)")
        }
        guard self.transportChoice != .plaintext else { return }
        if self.target != nil || self.replicas != nil {
            throw ValidationError("--tls and --transport tls|both secure the embedded chain (its throwaway CA is made in this process); they do not go with --target or --replicas")
        }
    }

    /// The storm over TLS, or over plaintext then TLS with both reports and a side-by-side table.
    func runOverTLS() async throws {
        let plain = self.benchConfiguration
        let secured = try BenchTLS.secure(plain)
        let both = self.transportChoice == .both
        ReportOutput.log(
            "rpcbench: embedded \(self.chain)-hop chain\(both ? ", plaintext then TLS" : " over TLS") (throwaway CA, server name \(BenchTLS.serverName)), "
                + "\(plain.load), phases of \(self.workload.duration) after \(self.workload.warmup) warm-up"
        )
        func progress() -> ProgressLine? { self.workload.quiet ? nil : ProgressLine(live: LiveCounters()) }
        guard both else {
            let report = try await BenchRunner.run(secured, progress: progress())
            try ReportOutput.finish(report, tool: "rpcbench", under: self.workload.results)
            return
        }
        let plainReport = try await BenchRunner.run(plain, progress: progress())
        let tlsReport = try await BenchRunner.run(secured, progress: progress())
        // Both reports are written even when the first had handlers left in flight; that exit status comes last.
        var failure: (any Error)? = nil
        for report in [plainReport, tlsReport] {
            do { try ReportOutput.finish(report, tool: "rpcbench", under: self.workload.results) } catch { failure = failure ?? error }
        }
        let sideBySide = SideBySideReport(columns: [
            SideBySideColumn(report: plainReport, label: "plaintext"),
            SideBySideColumn(report: tlsReport, label: "TLS"),
        ])
        print("\nPlaintext beside TLS (one sitting, same workload):\n")
        print(sideBySide.text)
        if let failure { throw failure }
    }
}
