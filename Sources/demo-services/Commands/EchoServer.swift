import ArgumentParser
import Foundation
import DeadlineRPC
import Logging
import ServiceLifecycle

/// A single echo service, for multi-process tests and quick trials: prints `listening on PORT`, serves until
/// SIGTERM or SIGINT, then drains gracefully.
struct EchoServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo-server",
        abstract: "Serve demo.Echo/Get (echo, idempotent) and demo.Echo/Wait (waits for cancellation)."
    )

    @Option(help: "Port to listen on (0 picks a free one).")
    var port: Int = 0

    @Option(help: "Address to bind (a test-bed host's own address, for replicas on one port in several hosts).")
    var host: String = "127.0.0.1"

    @Option(help: "A replica name: when set, Get answers 'NAME:TEXT', so a client can tell which replica answered.")
    var name: String?

    func run() async throws {
        var router = Router()
        let name = self.name
        router.unary(EchoMethods.echo) { request, _ in
            guard let name else { return request }
            return EchoMessage(text: "\(name):\(request.text)")
        }
        router.unary(EchoMethods.wait) { request, _ in
            // Waits until the call is cancelled or expires; its task is cancelled either way.
            while !Task.isCancelled { try await Task.sleep(for: .milliseconds(5)) }
            return request
        }
        let server = RPCServer(host: self.host, port: self.port, router: router)
        let logger = Logger(label: "demo-services.echo")
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: server)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await withThrowingDiscardingTaskGroup { tasks in
            tasks.addTask { try await group.run() }
            let address = try await server.listeningAddress
            print("listening on \(address.port ?? 0)")
            fflush(nil)  // The parent reads this line through a pipe.
        }
    }
}
