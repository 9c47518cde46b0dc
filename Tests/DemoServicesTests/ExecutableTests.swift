import DeadlineRPC
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@testable import demo_services
import DemoTopology

/// The built `demo-services` executable as a user runs it: `launch` (every service its own process) and the
/// default all-in-one command, each as a child process whose output and exit status are checked.
@Suite("The demo-services executable: launch and the default command", .timeLimit(.minutes(5)), .heavyweight)
struct ExecutableTests {
    /// The test settings (``DemoTestSupport/settings(_:)``: 1 s budget, 3.5 s slow parts) as command-line options
    /// of `launch` and the default command, whose `--propagation` (on, off or both) is given separately.
    static var settingsArguments: [String] {
        let arguments = DemoTestSupport.settings(.enabled).arguments
        guard let propagation = arguments.firstIndex(of: "--propagation") else { return arguments }
        return Array(arguments[..<propagation] + arguments[(propagation + 2)...])
    }

    @Test("launch --duration: starts both topologies, prints their addresses and the rpcbench command, stops every process, exits 0")
    func launchForDuration() async throws {
        let launcher = try DemoProcess(["launch", "--propagation", "both", "--duration", "3"] + Self.settingsArguments)
        let status = try await launcher.waitForExit(timeout: .seconds(90))
        if status == nil { await launcher.stop() }
        let output = launcher.stdout
        #expect(status == 0, "stdout:\n\(output)\nstderr:\n\(launcher.stderr)")

        // Both listings: each front door, and each RPC service's RPC address and /metrics.
        #expect(output.contains("/checkout  (propagation on)"))
        #expect(output.contains("/checkout  (propagation off)"))
        #expect(output.components(separatedBy: "/metrics").count - 1 == 2 * ServiceName.rpcServices.count)
        // The rpcbench command targets the gateway listed with propagation on, and the one with it off beside it.
        let gateways = Self.gatewayRPCAddresses(output)
        #expect(gateways.count == 2)
        if gateways.count == 2 {
            #expect(output.contains("rpcbench against these topologies:"))
            #expect(output.contains("--target demo=\(gateways[0])"))
            #expect(output.contains("--demo-off-target \(gateways[1])"))
        }
        #expect(output.contains("serving for 3 s"))
        #expect(output.contains("SIGTERM: all \(2 * ServiceName.allCases.count) processes exited cleanly (status 0)."))
    }

    @Test("launch stopped by SIGTERM: serves checkouts until then, stops every child process, exits 0, leaves no orphans")
    func launchStoppedBySIGTERM() async throws {
        // A duration far longer than the test: only the SIGTERM stops it. Its children stop by themselves 600 s
        // later still, should this test die before cleaning up.
        let launcher = try DemoProcess(["launch", "--propagation", "on", "--duration", "120"] + Self.settingsArguments)
        var children: [Int32] = []
        do {
            let serving = try await launcher.waitForOutput("serving for 120 s", timeout: .seconds(90))
            try #require(serving, "stdout:\n\(launcher.stdout)\nstderr:\n\(launcher.stderr)")

            // Every service runs as a `serve` child of the launcher.
            let found = DemoProcess.children(of: launcher.pid)
            children = found.map(\.pid)
            #expect(children.count == ServiceName.allCases.count, "\(found)")
            if found.contains(where: { !$0.arguments.isEmpty }) {
                let served = Set(found.compactMap { child in child.arguments.firstIndex(of: "serve").map { child.arguments[$0 + 1] } })
                #expect(served == Set(ServiceName.allCases.map(\.rawValue)))
            }

            // The printed front door answers a checkout through the whole wired topology.
            let front = try #require(Self.frontDoor(launcher.stdout))
            let reply = try await HTTPFetch.get(front, "/checkout?item=book&user=ada&qty=1", timeout: .seconds(30))
            #expect(reply.status == 200)

            launcher.send(SIGTERM)
            let status = try await launcher.waitForExit(timeout: .seconds(60))
            #expect(status == 0, "stdout:\n\(launcher.stdout)\nstderr:\n\(launcher.stderr)")
            #expect(launcher.stdout.contains("SIGTERM: all \(ServiceName.allCases.count) processes exited cleanly (status 0)."))

            // No orphans: the launcher waited for each child before exiting, so none is left.
            let gone = try await DemoTestSupport.eventually(timeout: .seconds(10)) { !children.contains(where: DemoProcess.exists) }
            #expect(gone, "still running: \(children.filter(DemoProcess.exists))")
        } catch {
            await launcher.stop(children: children)
            throw error
        }
        await launcher.stop(children: children)
    }

    @Test("The default command runs the scenarios in one process and prints the table, propagation on and off")
    func defaultCommand() async throws {
        // Three of the five scenarios keep it short (the other two each wait 3.5 s per column for slow work to end);
        // these show a 200, a fallback that works only with propagation on, and a shed call.
        let demo = try DemoProcess(Self.settingsArguments + ["--only", "all-fast", "--only", "fallback", "--only", "tiny-budget"])
        let status = try await demo.waitForExit(timeout: .seconds(90))
        if status == nil { await demo.stop() }
        let output = demo.stdout
        #expect(status == 0, "stdout:\n\(output)\nstderr:\n\(demo.stderr)")

        #expect(output.contains("The checkout path"))
        #expect(output.contains("1. All fast — GET /checkout?item=book&user=ada&qty=1"))
        #expect(output.contains("2. A non-critical dependency is late — GET /checkout?item=book&user=newbie&qty=1"))
        #expect(output.contains("3. A request arrives with too little budget — GET /checkout?item=book&user=ada&qty=1  (X-Budget-Ms: 150)"))
        #expect(!output.contains("The budget runs out mid-chain"))

        // One header and one HTTP answer row per scenario, the propagation-on column first.
        let lines = output.split(separator: "\n").map(String.init)
        let headers = lines.filter { $0.contains("propagation on") && $0.contains("propagation off") }
        #expect(headers.count == 3)
        let answers = lines.filter { $0.hasPrefix("   HTTP answer") }.map(Self.cells)
        try #require(answers.count == 3, "\(output)")
        #expect(answers[0].map { $0.hasPrefix("200 in ") } == [true, true])
        #expect(answers[1][0].hasPrefix("200 in ") && answers[1][0].hasSuffix(", degraded: recommendations"), "\(answers[1])")
        #expect(answers[1][1].hasPrefix("504 in "), "\(answers[1])")
        #expect(answers[2].map { $0.hasPrefix("504 in ") } == [true, true])
        #expect(output.contains("In all, handlers kept working after their budget was gone:"))
        #expect(output.contains("   propagation on: "))
        #expect(output.contains("   propagation off: "))
    }

    /// The cells of a table row (after its label): separated by runs of two or more spaces.
    static func cells(_ row: String) -> [String] {
        row.components(separatedBy: "  ").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.dropFirst().map { $0 }
    }

    /// The gateways' RPC addresses in `launch`'s listings, in order (`  gateway   rpc 127.0.0.1:PORT   http://…`).
    static func gatewayRPCAddresses(_ output: String) -> [String] {
        output.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ")
            guard fields.count >= 3, fields[0] == "gateway", fields[1] == "rpc" else { return nil }
            return String(fields[2])
        }
    }

    /// The front door's address in `launch`'s listing (`  front door   http://127.0.0.1:PORT/checkout  …`).
    static func frontDoor(_ output: String) -> ServiceAddress? {
        for line in output.split(separator: "\n") where line.contains("front door") {
            guard let start = line.range(of: "http://"), let end = line.range(of: "/checkout") else { continue }
            let address = line[start.upperBound..<end.lowerBound].split(separator: ":")
            if address.count == 2, let port = Int(address[1]) { return ServiceAddress(host: String(address[0]), port: port) }
        }
        return nil
    }
}
