import DeadlineRPC
import Foundation
import TestSupport
import Testing
import ThrowawayPKI

@testable import demo_services
import DemoTopology

/// `demo-services --tls`: every RPC hop over TLS with certificates from a throwaway CA, each checked by name —
/// in one process (through the library) and as `launch`'s processes (through the executable).
@Suite("Demo services over TLS", .timeLimit(.minutes(5)), .heavyweight)
struct DemoTLSTests {
    @Test("In one process: a checkout crosses every hop over TLS; plaintext and the wrong name are refused")
    func inProcess() async throws {
        let settings = DemoTestSupport.settings(.enabled)
        let pki = try DemoPKI()
        try await InProcessTopology.with([settings], tls: pki) { endpoints in
            let rows = try await ScenarioSession.run([DemoTestSupport.scenario("all-fast", settings)], on: endpoints)
            let result = try #require(rows.first?.results.first)
            #expect(result.httpStatus == 200)
            for service in [ServiceName.gateway, .catalog, .pricing, .inventory, .recommendations] {
                #expect(result.hops[service]?.outcome == .ok, "\(service)")
            }
            let table = ScenarioTable.render(rows, settings: settings, tls: true)
            #expect(table.hasPrefix(ServiceTLS.reportLine + "\n"))

            let gateway = try #require(endpoints[0].rpc[.gateway])
            let options = CallOptions(timeout: .seconds(10))
            // The gateway's certificate, named gateway.demo.test and issued by the run's CA, verifies.
            let secured = RPCClient(host: gateway.host, port: gateway.port, configuration: Self.client(.tls(trustRoots: pki.ca.trustRoots, serverName: "gateway.demo.test")))
            let status = try await HealthClient(secured).check(options: options)
            #expect(status == .serving)
            await secured.close()

            // The port speaks only TLS.
            let plain = RPCClient(host: gateway.host, port: gateway.port)
            let plainError = await #expect(throws: RPCError.self) { _ = try await HealthClient(plain).check(options: options) }
            #expect(plainError?.code == .unavailable)
            #expect(plainError?.message.contains("the server answered with TLS, and this client is configured for plaintext") == true, "\(String(describing: plainError))")
            await plain.close()

            // Hostname verification: the gateway cannot pass for pricing, though both chain to the same CA.
            let misnamed = RPCClient(host: gateway.host, port: gateway.port, configuration: Self.client(.tls(trustRoots: pki.ca.trustRoots, serverName: "pricing.demo.test")))
            let nameError = await #expect(throws: RPCError.self) { _ = try await HealthClient(misnamed).check(options: options) }
            #expect(nameError?.code == .unavailable)
            #expect(nameError?.message.contains("its certificate does not name pricing.demo.test (hostname mismatch)") == true, "\(String(describing: nameError))")
            await misnamed.close()
        }
    }

    @Test("launch --tls: the services as processes answer a checkout over TLS, the report says so, the keys are removed")
    func launchOverTLS() async throws {
        let before = try Self.tlsDirectories()
        let launcher = try DemoProcess(["launch", "--tls", "--propagation", "on", "--only", "all-fast"] + ExecutableTests.settingsArguments)
        let status = try await launcher.waitForExit(timeout: .seconds(120))
        if status == nil { await launcher.stop() }
        let output = launcher.stdout
        #expect(status == 0, "stdout:\n\(output)\nstderr:\n\(launcher.stderr)")
        #expect(output.contains(ServiceTLS.reportLine))
        let answers = output.split(separator: "\n").map(String.init).filter { $0.hasPrefix("   HTTP answer") }.map(ExecutableTests.cells)
        try #require(answers.count == 1, "\(output)")
        #expect(answers[0].first?.hasPrefix("200 in ") == true, "\(answers)")
        #expect(output.contains("SIGTERM: all \(ServiceName.allCases.count) processes exited cleanly (status 0)."))
        // The certificates and keys were written for the children and removed with them.
        let leftovers = try Self.tlsDirectories().subtracting(before)
        #expect(leftovers.isEmpty, "\(leftovers)")
    }

    /// The `launch --tls` directories in the temporary directory now.
    private static func tlsDirectories() throws -> Set<String> {
        Set(try FileManager.default.contentsOfDirectory(atPath: FileManager.default.temporaryDirectory.path).filter { $0.hasPrefix("demo-services-tls-") })
    }

    private static func client(_ security: ClientTransportSecurity) -> RPCClient.Configuration {
        var configuration = RPCClient.Configuration()
        configuration.transportSecurity = security
        return configuration
    }
}
