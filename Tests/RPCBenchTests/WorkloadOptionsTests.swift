import RPCBenchCore
import RPCBenchDemo
import RPCBenchOptions
import Testing

@Suite("The workload flags rpcbench and peer-storm share", .timeLimit(.minutes(5)))
struct WorkloadOptionsTests {
    @Test("No flags give the library's defaults")
    func defaults() throws {
        var parsed = BenchConfiguration()
        try WorkloadOptions.parse([]).apply(to: &parsed)
        let defaults = BenchConfiguration()
        #expect(parsed.load == defaults.load)
        #expect(parsed.storm == defaults.storm)
        #expect(parsed.duration == defaults.duration && parsed.warmup == defaults.warmup)
        #expect(parsed.connections == defaults.connections && parsed.payloadBytes == defaults.payloadBytes)
    }

    @Test("Flags set the load and the storm; --no-storm turns every kind off")
    func flags() throws {
        var c = BenchConfiguration()
        try WorkloadOptions.parse(["--concurrency", "8", "--cancel-rate", "5", "--short-budget", "3ms", "--no-burst", "--storm-work-kind", "park"]).apply(to: &c)
        #expect(c.load == .closed(concurrency: 8))
        #expect(c.storm.cancelRate == 5 && c.storm.deadlineBudget == .milliseconds(3))
        #expect(!c.storm.burst && c.storm.cancel && c.storm.workKind == .park)
        try WorkloadOptions.parse(["--no-storm"]).apply(to: &c)
        #expect(!c.storm.isEnabled)
    }

    @Test("Unset target-dependent flags keep the target's defaults (--target demo's); flags given win")
    func targetDefaults() throws {
        let demo = DemoBench.defaultConfiguration
        var c = demo
        try WorkloadOptions.parse(["--cancel-after", "50ms", "--burst-size", "7"]).apply(to: &c)
        #expect(c.load == demo.load)
        #expect(c.storm.cancelAfter == .milliseconds(50) && c.storm.burstSize == 7)
        #expect(c.storm.deadlineBudget == demo.storm.deadlineBudget && c.storm.chainBudget == demo.storm.chainBudget)
        #expect(c.storm.cancelRate == demo.storm.cancelRate && c.storm.disconnectAfter == demo.storm.disconnectAfter)
        try WorkloadOptions.parse(["--rate", "30"]).apply(to: &c)
        #expect(c.load == .open(rate: 30, maxInFlight: 1_000))
    }
}
