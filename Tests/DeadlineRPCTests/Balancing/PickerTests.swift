import NIOCore
import Testing

@testable import DeadlineRPC

/// The balancing policies' choice as a pure value: eligibility, load and randomness passed in.
@Suite("Picker: pick-first, round robin, least loaded of two")
struct PickerTests {
    @Test("Pick-first takes the first eligible endpoint in order, every time")
    func pickFirst() {
        var picker = Picker(policy: .pickFirst)
        for _ in 0..<5 {
            #expect(picker.pick(count: 4, eligible: { $0 >= 2 }, load: { _ in 0 }, random: { _ in 0 }) == 2)
        }
        #expect(picker.pick(count: 4, eligible: { _ in false }, load: { _ in 0 }, random: { _ in 0 }) == nil)
    }

    @Test("Round robin visits each eligible endpoint in turn and skips the others")
    func roundRobin() {
        var picker = Picker(policy: .roundRobin)
        let picks = (0..<6).map { _ in picker.pick(count: 4, eligible: { $0 != 2 }, load: { _ in 0 }, random: { _ in 0 })! }
        #expect(picks == [0, 1, 3, 0, 1, 3])
    }

    @Test("Least loaded compares the two drawn and takes the one with fewer calls in flight, whatever the draw order")
    func leastLoaded() {
        var picker = Picker(policy: .leastLoaded)
        let load = [5, 0, 9]
        // Draws (first, second-before-skip): (0, 0) → 0 vs 1; (2, 0) → 2 vs 0; (1, 1) → 1 vs 2.
        #expect(picker.pick(count: 3, eligible: { _ in true }, load: { load[$0] }, random: { _ in 0 }) == 1)
        var draws = [2, 0]
        #expect(picker.pick(count: 3, eligible: { _ in true }, load: { load[$0] }, random: { _ in draws.removeFirst() }) == 0)
        draws = [1, 1]
        #expect(picker.pick(count: 3, eligible: { _ in true }, load: { load[$0] }, random: { _ in draws.removeFirst() }) == 1)
    }

    @Test("Least loaded draws only among the eligible; one eligible is taken without a draw")
    func leastLoadedEligible() {
        var picker = Picker(policy: .leastLoaded)
        #expect(picker.pick(count: 3, eligible: { $0 == 2 }, load: { _ in 100 }, random: { _ in Issue.record("drew"); return 0 }) == 2)
        // Eligible are 1 and 3 (ranks 0 and 1): the draw (1, 0) maps to indices 3 and 1.
        var draws = [1, 0]
        let load = [0, 4, 0, 2]
        #expect(picker.pick(count: 4, eligible: { $0 % 2 == 1 }, load: { load[$0] }, random: { _ in draws.removeFirst() }) == 3)
    }
}

/// An endpoint's typical latency: a moving average whose weights decay with time.
@Suite("LatencyEstimate")
struct LatencyEstimateTests {
    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    @Test("Untrusted until enough samples; forgotten when stale; recent samples weigh more than old ones")
    func estimate() {
        var policy = BudgetAwarePicking()
        policy.minimumSamples = 3
        policy.decayTime = .seconds(1)
        policy.staleAfter = .seconds(10)
        var estimate = LatencyEstimate()
        estimate.record(.milliseconds(100), now: Self.start, decay: policy.decayTime)
        estimate.record(.milliseconds(100), now: Self.start + .milliseconds(10), decay: policy.decayTime)
        #expect(estimate.typical(now: Self.start, policy: policy) == nil)
        estimate.record(.milliseconds(100), now: Self.start + .milliseconds(20), decay: policy.decayTime)
        #expect(estimate.typical(now: Self.start + .milliseconds(20), policy: policy) == .milliseconds(100))
        // Five seconds later a 10 ms sample nearly replaces the old average (weight 1 - e^-5 ≈ 0.993).
        estimate.record(.milliseconds(10), now: Self.start + .seconds(5), decay: policy.decayTime)
        let typical = estimate.typical(now: Self.start + .seconds(5), policy: policy)!
        #expect(typical > .milliseconds(10) && typical < .milliseconds(11))
        #expect(estimate.typical(now: Self.start + .seconds(16), policy: policy) == nil)
    }
}

/// Targets in the syntax users write.
@Suite("Target parsing")
struct TargetParsingTests {
    @Test("dns:///NAME:PORT, dns:NAME:PORT, HOST:PORT, lists and bracketed IPv6 parse; the description reads back")
    func parses() throws {
        #expect(try Target(parsing: "dns:///orders.default.svc.cluster.local:7000") == .dns("orders.default.svc.cluster.local", port: 7000))
        #expect(try Target(parsing: "dns:orders:7000") == .dns("orders", port: 7000))
        #expect(try Target(parsing: "10.0.0.5:7000") == .host("10.0.0.5", port: 7000))
        #expect(try Target(parsing: "10.0.0.5:7000, [::1]:7001") == .endpoints([Endpoint(host: "10.0.0.5", port: 7000), Endpoint(host: "::1", port: 7001)]))
        for text in ["dns:///orders:7000", "10.0.0.5:7000,[::1]:7001"] {
            #expect(try Target(parsing: text).description == text)
        }
    }

    @Test("Malformed targets are refused with the reason")
    func refuses() {
        let cases: [(String, String)] = [
            ("orders", "has no port"),
            ("orders:http", "is not a port"),
            ("orders:70000", "is not a port"),
            ("::1:7000", "in brackets"),
            (":7000", "has no host"),
            ("dns://8.8.8.8/orders:7000", "not supported"),
            ("a:1,,b:2", "has no port"),
        ]
        for (text, reason) in cases {
            #expect {
                try Target(parsing: text)
            } throws: { error in
                (error as? TargetParseError)?.reason.contains(reason) == true
            }
        }
    }
}
