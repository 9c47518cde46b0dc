import ArgumentParser
import DemoTopology
import ServiceLifecycle
import ThrowawayPKI

/// `demo-services serve NAME`: one service in this process, wired to its downstreams by address. Prints
/// `ready NAME rpc=PORT http=PORT` once listening; stops on SIGTERM/SIGINT (gracefully) or after `--duration`.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run one service: \(ServiceName.allCases.map(\.rawValue).joined(separator: ", "))."
    )

    @Argument(help: "The service to run.")
    var name: ServiceName

    @Option(help: "The address to listen on (a test-bed host's own address under `launch --hosts`).")
    var host: String = "127.0.0.1"

    @Option(help: "The RPC port (for the front door: its HTTP port). 0 picks a free one.")
    var port: Int = 0

    @Option(help: "The HTTP port for /metrics and /stats (not used by the front door, which serves them on --port). 0 picks a free one.")
    var metricsPort: Int = 0

    @Option(
        help: ArgumentHelp(
            "Where a service this one calls listens (repeatable): one address, or every replica behind a DNS name (dns:///NAME:PORT).",
            valueName: "name=host:port|name=dns:///NAME:PORT"
        )
    )
    var downstream: [NamedTarget] = []

    @Option(help: "Whether outbound calls inherit the deadline and cancellation of the call being served.")
    var propagation: Propagation = .on

    @Option(help: "Stop by itself after this many seconds.")
    var duration: Int?

    @OptionGroup var topology: TopologyOptions

    @Option(help: "With --tls-key and --tls-ca: this service's certificate (PEM); its RPC server and its clients then use TLS (`launch --tls` passes them).")
    var tlsCertificate: String?

    @Option(help: "The private key of --tls-certificate (PEM).")
    var tlsKey: String?

    @Option(help: "The CA certificate (PEM) this service's clients trust; each checks its downstream's name NAME.demo.test.")
    var tlsCa: String?

    func validate() throws {
        let given = [self.tlsCertificate, self.tlsKey, self.tlsCa].compactMap { $0 }.count
        guard given == 0 || given == 3 else {
            throw ValidationError("--tls-certificate, --tls-key and --tls-ca go together: give all three or none.")
        }
    }

    /// The TLS settings of the `--tls-…` files, or nil for plaintext.
    var serviceTLS: ServiceTLS? {
        guard let certificate = self.tlsCertificate, let key = self.tlsKey, let ca = self.tlsCa else { return nil }
        return ServiceTLS(files: ThrowawayFiles(certificate: certificate, privateKey: key, ca: ca))
    }

    func run() async throws {
        let settings = try self.topology.settings(propagation: self.propagation)
        let targets = Dictionary(self.downstream.map { ($0.service, $0.target) }, uniquingKeysWith: { $1 })
        for missing in self.name.downstreams where targets[missing] == nil {
            Console.progress("\(self.name.rawValue): no --downstream \(missing.rawValue)=HOST:PORT; its calls will fail unavailable")
        }
        let node = ServiceNode(
            name: self.name,
            settings: settings,
            targets: targets,
            host: self.host,
            rpcPort: self.name == .frontdoor ? 0 : self.port,
            httpPort: self.name == .frontdoor ? self.port : self.metricsPort,
            tls: self.serviceTLS
        )
        let group = ServiceGroup(
            services: [node],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: Console.logger("demo.\(self.name.rawValue)")
        )
        let name = self.name
        let duration = self.duration
        try await withThrowingTaskGroup(of: Bool.self) { tasks in
            tasks.addTask {
                try await group.run()
                return true
            }
            tasks.addTask {
                let rpc = try await node.rpcEndpoint
                let http = try await node.httpEndpoint
                Console.output("ready \(name.rawValue) rpc=\(rpc?.port ?? 0) http=\(http.port)")
                if let duration {
                    do { try await Task.sleep(for: .seconds(duration)) } catch { return false }
                    await group.triggerGracefulShutdown()
                }
                return false
            }
            for try await groupEnded in tasks where groupEnded {
                tasks.cancelAll()
                break
            }
        }
    }
}
