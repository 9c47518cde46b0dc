import ArgumentParser
import DemoTopology
import ServiceLifecycle

/// `demo-services` with no subcommand: every service in this process, twice — propagation on and off — then the
/// scripted scenarios through each front door, printed side by side.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run all services in this process and the scripted scenarios, propagation on vs off (the default)."
    )

    @OptionGroup var topology: TopologyOptions

    @OptionGroup var selection: ScenarioSelection

    @Option(help: "After the scenarios, keep serving for this many seconds (Ctrl-C stops earlier); 0 stops at once.")
    var serveFor: Int = 0

    @Flag(help: "Skip the scenarios (use with --serve-for to try the services by hand).")
    var noScenarios = false

    @Flag(help: "Every RPC hop over TLS: a throwaway CA made at start issues each service a certificate (NAME.demo.test), and every client verifies its downstream's chain and name.")
    var tls = false

    func run() async throws {
        let settings = try self.selection.settings(self.topology)
        let scenarios = try self.selection.scenarios(settings[0])
        let serveFor = self.serveFor
        let runScenarios = !self.noScenarios
        let pki: DemoPKI? = try self.tls ? DemoPKI() : nil
        let tls = pki != nil
        let service = ClosureService {
            try await InProcessTopology.with(settings, tls: pki) { endpoints in
                Console.progress("demo-services: \(endpoints.count * ServiceName.allCases.count) services on 127.0.0.1" + (tls ? ", TLS on every RPC hop (throwaway CA)" : ""))
                if runScenarios {
                    let rows = try await cancelWhenGracefulShutdown {
                        try await ScenarioSession.run(scenarios, on: endpoints, progress: Console.progress)
                    }
                    Console.output("")
                    Console.output(ScenarioTable.render(rows, settings: settings[0], tls: tls))
                }
                if serveFor > 0 {
                    Console.output(endpoints.map(\.listing).joined(separator: "\n"))
                    if tls { Console.output(ServiceTLS.reportLine) }
                    Console.output("serving for \(serveFor) s (Ctrl-C stops)")
                    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(serveFor)) }
                }
            }
        }
        try await service.runUntilSignalled(label: "demo-services")
    }
}
