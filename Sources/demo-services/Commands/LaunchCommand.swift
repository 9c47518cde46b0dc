import ArgumentParser
import DemoTopology
import Foundation
import ServiceLifecycle

/// `demo-services launch`: every service as its own process (`serve`, started from this executable), wired by
/// port; runs the scenarios (or serves for `--duration`), then SIGTERMs every process and checks each exited 0.
/// With `--hosts`, every process runs in a network namespace of its own (``HostsLaunch``).
struct LaunchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "launch",
        abstract: "Run each service as its own process, wire them, run the scenarios (or serve for --duration), stop them all."
    )

    @Flag(
        help: "Each service in a host of its own (a network namespace; root only): pricing and inventory as two replicas behind one DNS name, the gateway's clock 3 days ahead, one replica killed and one drained mid-run."
    )
    var hosts = false

    @OptionGroup var topology: TopologyOptions

    @OptionGroup var selection: ScenarioSelection

    @Option(help: "Instead of the scenarios, serve for this many seconds (Ctrl-C stops earlier).")
    var duration: Int?

    @Flag(help: "Every RPC hop over TLS: a throwaway CA made at start issues each service a certificate (NAME.demo.test; with --hosts also its DNS name and host address), handed to each process as files in a private temporary directory, removed at the end.")
    var tls = false

    func run() async throws {
        let settings = try self.selection.settings(self.topology)
        let scenarios = try self.selection.scenarios(settings[0])
        let duration = self.duration
        let tls = self.tls
        if self.hosts {
            let service = ClosureService {
                try await HostsLaunch.run(settings: settings, scenarios: scenarios, duration: duration, tls: tls)
            }
            try await service.runUntilSignalled(label: "demo-services.launch")
            return
        }
        let executable = ProcessTopology.currentExecutable
        let pkiFiles = try self.tls ? DemoPKI().writeFiles() : nil
        let service = ClosureService {
            var topologies: [ProcessTopology] = []
            var failure: (any Error)? = nil
            defer { if let pkiFiles { try? FileManager.default.removeItem(at: pkiFiles.directory) } }
            do {
                for topology in settings {
                    Console.progress("launching \(ServiceName.allCases.count) processes (propagation \(topology.propagationLabel))…")
                    topologies.append(try await ProcessTopology.launch(
                        executable: executable,
                        settings: topology,
                        tls: pkiFiles?.files,
                        selfStop: .seconds((duration ?? 0) + 600)
                    ))
                }
                for topology in topologies { Console.output(topology.endpoints.listing) }
                if tls { Console.output(ServiceTLS.reportLine) }
                if let duration {
                    if tls {
                        Console.output("(rpcbench --target demo=… speaks plaintext to the gateway: run it against a launch without --tls)")
                    } else if let command = RPCBenchCommandLine.render(topologies.map(\.endpoints)) {
                        Console.output("rpcbench against these topologies:\n  \(command)")
                    }
                    Console.output("serving for \(duration) s (Ctrl-C stops)")
                    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(duration)) }
                } else {
                    let endpoints = topologies.map(\.endpoints)
                    let rows = try await cancelWhenGracefulShutdown {
                        try await ScenarioSession.run(scenarios, on: endpoints, progress: Console.progress)
                    }
                    Console.output("")
                    Console.output(ScenarioTable.render(rows, settings: settings[0], tls: tls))
                }
            } catch {
                failure = error
            }
            var unclean: [ProcessTopology.Exit] = []
            var count = 0
            for topology in topologies {
                let exits = await topology.terminate()
                count += exits.count
                unclean += exits.filter { !$0.isClean }
            }
            if let failure { throw failure }
            if unclean.isEmpty {
                Console.output("SIGTERM: all \(count) processes exited cleanly (status 0).")
            } else {
                throw SettingsError("Some processes did not exit cleanly on SIGTERM: \(unclean.map(\.description).joined(separator: ", ")).")
            }
        }
        try await service.runUntilSignalled(label: "demo-services.launch")
    }
}
