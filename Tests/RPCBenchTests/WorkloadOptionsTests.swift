import RPCBenchCore
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
}
