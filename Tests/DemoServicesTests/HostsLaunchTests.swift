import DeadlineRPC
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@testable import demo_services
import DemoTopology

/// `demo-services launch --hosts` run as a user runs it (as root): every service replica in a network namespace of
/// its own, a replica killed and one drained between the two scenarios, the table and the report checked, and
/// nothing of the bed left afterwards.
@Suite("launch --hosts: the demo across hosts", .testBed, .heavyweight, .serialized, .timeLimit(.minutes(5)))
struct HostsLaunchTests {
    @Test("A replica killed and one drained mid-run fail no request; the budget still reaches every hop, the gateway's clock 3 days ahead; nothing is left")
    func killAndDrainAcrossHosts() async throws {
        // Two scenarios, both topologies: all-fast before the kill and the drain, budget-gone (a budget that runs
        // out four hops down) after them. The test settings (1 s budget, 3.5 s warehouse) keep outcomes apart.
        let launcher = try DemoProcess(
            ["launch", "--hosts", "--propagation", "both", "--only", "all-fast", "--only", "budget-gone"] + ExecutableTests.settingsArguments
        )
        let status = try await launcher.waitForExit(timeout: .seconds(120))
        if status == nil { await launcher.stop() }
        let output = launcher.stdout
        #expect(status == 0, "stdout:\n\(output)\nstderr:\n\(launcher.stderr)")
        let lines = output.split(separator: "\n").map(String.init)

        // The bed: 20 hosts, named after the launcher's pid.
        let tag = TestBedLayout.tagStart(prefix: TestBedLayout.demoPrefix, pid: launcher.pid) + "1"
        let bedLine = try #require(lines.first { $0.hasPrefix("The test bed \(tag): 20 hosts") }, "\(output)")
        let subnet = try #require(Self.subnet(in: bedLine), "\(bedLine)")
        #expect(lines.contains { $0.hasPrefix("    gateway.on.demo.test:7000 ") && $0.contains("(clock +3 days: its CLOCK_MONOTONIC reads 2592") })
        #expect(lines.contains { $0.hasPrefix("    pricing.off.demo.test:7000 ") && $0.hasSuffix("r1 \(subnet).15, r2 \(subnet).16") })

        // The kill and the drain happened, in both topologies, and every checkout sent meanwhile was answered 200.
        for propagation in ["on", "off"] {
            let kill = try #require(lines.first { $0.hasPrefix("mid-run, before scenario 2, propagation \(propagation): pricing r2 at \(subnet).") }, "\(output)")
            #expect(kill.contains(" SIGKILLed (signal 9) with "), "\(kill)")
            let drain = try #require(lines.first { $0.hasPrefix("mid-run, before scenario 2, propagation \(propagation): inventory r1 at \(subnet).") }, "\(output)")
            #expect(drain.contains(" drained: SIGTERM → NOT_SERVING, GOAWAY, its calls finished, exit 0 with "), "\(drain)")
            for event in [kill, drain] {
                let (sent, ok) = try #require(Self.checkouts(event), "\(event)")
                #expect(sent >= 30 && ok == sent, "\(event)")
            }
        }
        let failed = try #require(lines.first { $0.hasPrefix("   Requests failed because of the kill and the drain: ") }, "\(output)")
        #expect(failed.hasPrefix("   Requests failed because of the kill and the drain: 0 ("), "\(failed)")
        #expect(failed.hasSuffix("; 2 scenario requests after them: 0 answered 502/503 or with a hop failed)"), "\(failed)")

        // The table: all fast before them; after them the budget runs out four hops down and, with propagation on,
        // cancels every hop — the survivors of the kill (pricing r1) and of the drain (inventory r2), and the
        // gateway whose clock reads 3 days ahead — within the stop bound; with it off they work on, never told.
        let answers = lines.filter { $0.hasPrefix("   HTTP answer") }.map(ExecutableTests.cells)
        try #require(answers.count == 2, "\(output)")
        #expect(answers[0].map { $0.hasPrefix("200 in ") } == [true, true], "\(answers[0])")
        #expect(answers[1].map { $0.hasPrefix("504 in ") } == [true, true], "\(answers[1])")
        let gone = try #require(output.components(separatedBy: "2. The budget runs out mid-chain").last)
        let rows = Dictionary(
            gone.split(separator: "\n").prefix(12).compactMap { line -> (String, [String])? in
                let label = line.trimmingCharacters(in: .whitespaces).split(separator: " ").filter { $0 != "·" }.first.map(String.init)
                return label.map { ($0, ExecutableTests.cells(String(line))) }
            },
            uniquingKeysWith: { first, _ in first }
        )
        for (service, replica) in [("gateway", ""), ("pricing", " [r1]"), ("inventory", " [r2]"), ("warehouse", "")] {
            let cells = try #require(rows[service], "\(gone)")
            try #require(cells.count == 2, "\(service): \(cells)")
            #expect(cells[0].hasPrefix("cancelled (deadline exceeded)") && cells[0].hasSuffix(replica), "\(service) on: \(cells[0])")
            #expect((Self.pastBudget(cells[0]) ?? .zero) < InProcessScenarioTests.stopBound, "\(service) on: \(cells[0])")
            if service != "gateway" {
                #expect(cells[1].hasPrefix("ok +") && cells[1].hasSuffix(replica), "\(service) off: \(cells[1])")
                #expect((Self.pastBudget(cells[1]) ?? .zero) >= InProcessScenarioTests.leakBound, "\(service) off: \(cells[1])")
            }
        }
        #expect(lines.contains("   From scenario 2 on (after the kill and the drain), where a budget ran out (from the table):"))
        #expect(lines.contains("      propagation on: cancelled: gateway (clock +3 days), pricing [r1], inventory [r2], warehouse; worked on past the budget, never told: none"))
        #expect(lines.contains("      propagation off: cancelled: gateway (clock +3 days); worked on past the budget, never told: pricing [r1], inventory [r2], warehouse"))
        #expect(lines.contains("SIGTERM: all 16 remaining processes exited cleanly (status 0)."))
        #expect(lines.contains("Removed the test bed \(tag): its 21 namespaces, veths, bridge, dnsmasq, /etc/netns entries and files."))

        // Nothing of the bed is left: no namespace or link, no /etc/netns or /tmp entry, no process.
        #expect(await TestBed.namesInUse(startingWith: tag) == [])
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: "/etc/netns")) ?? []).filter { $0.hasPrefix(tag) } == [])
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []).filter { $0.hasPrefix(tag) } == [])
        #expect(Self.processes(mentioning: [tag, "--host \(subnet)."]) == [])
    }

    /// `10.X.Y` from `… on a bridge at 10.X.Y.1/24; …`.
    static func subnet(in line: String) -> String? {
        guard let start = line.range(of: "on a bridge at "), let end = line.range(of: ".1/24") else { return nil }
        return String(line[start.upperBound..<end.lowerBound])
    }

    /// `(sent, answered 200)` from an event line's `N checkouts meanwhile: M × 200`.
    static func checkouts(_ line: String) -> (Int, Int)? {
        guard let range = line.range(of: " checkouts meanwhile: ") else { return nil }
        let sent = line[..<range.lowerBound].split(separator: " ").last.flatMap { Int($0) }
        let ok = line[range.upperBound...].split(separator: " ").first.flatMap { Int($0) }
        guard let sent, let ok, line[range.upperBound...].hasPrefix("\(ok) × 200") else { return nil }
        return (sent, ok)
    }

    /// The `+N ms` of a cell, nil without one.
    static func pastBudget(_ cell: String) -> Duration? {
        guard let plus = cell.range(of: " +"), let ms = cell[plus.upperBound...].split(separator: " ").first.flatMap({ Int($0) }) else { return nil }
        return .milliseconds(ms)
    }

    /// The pids of processes whose command line contains any of `texts` (arguments joined by spaces).
    static func processes(mentioning texts: [String]) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> Int32? in
            guard let pid = Int32(entry), pid != getpid(),
                let data = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(entry)/cmdline"))
            else { return nil }
            let commandLine = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }.joined(separator: " ")
            return texts.contains { commandLine.contains($0) } ? pid : nil
        }
    }
}
