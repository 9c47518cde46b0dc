import RPCBenchCore
import Testing

@Suite("Latency histograms", .timeLimit(.minutes(5)))
struct HistogramTests {
    @Test("Merging histograms equals recording every value in one")
    func mergeIsLossless() {
        var a = LatencyHistogram()
        var b = LatencyHistogram()
        var all = LatencyHistogram()
        for value in stride(from: Int64(1_000), through: 2_000_000, by: 997) {
            a.record(nanoseconds: value)
            all.record(nanoseconds: value)
        }
        for value in stride(from: Int64(50_000), through: 90_000_000, by: 104_729) {
            b.record(nanoseconds: value)
            all.record(nanoseconds: value)
        }
        let merged = LatencyHistogram.merged([a, b])
        #expect(merged.count == a.count + b.count)
        #expect(merged.count == all.count)
        for percentile in [0.0, 50, 90, 99, 99.9, 100] {
            #expect(merged.nanoseconds(atPercentile: percentile) == all.nanoseconds(atPercentile: percentile))
        }
        #expect(merged.summary == all.summary)
    }

    @Test("Merging into an empty histogram and merging an empty one change nothing")
    func mergeEmpty() {
        var a = LatencyHistogram()
        a.record(nanoseconds: 123_456)
        var b = LatencyHistogram()
        b.merge(a)
        #expect(b.summary == a.summary)
        a.merge(LatencyHistogram())
        #expect(a.count == 1)
    }

    @Test("Summaries are in microseconds with HdrHistogram's 3-digit precision; out-of-range values are clamped")
    func summary() {
        var h = LatencyHistogram()
        for _ in 0..<99 { h.record(nanoseconds: 100_000) }
        h.record(nanoseconds: 5_000_000)
        h.record(nanoseconds: -5)
        h.record(nanoseconds: Int64.max)
        let s = h.summary
        #expect(s.count == 102)
        #expect(abs(s.p50 - 100) < 0.1)
        #expect(s.max >= 119_000_000)
        #expect(LatencyHistogram().summary == LatencySummary())
    }

    @Test("The percentile curve rises monotonically and ends at the maximum, at 1 − 1/count")
    func curve() {
        var h = LatencyHistogram()
        for i in 1...10_000 { h.record(nanoseconds: Int64(i) * 1_000) }
        let curve = h.percentileCurve
        #expect(curve.count > 10)
        #expect(curve.last?.percentile == 99.99)
        #expect(abs((curve.last?.microseconds ?? 0) - 10_000) < 10)
        for (previous, next) in zip(curve, curve.dropFirst()) {
            #expect(next.percentile >= previous.percentile)
            #expect(next.microseconds >= previous.microseconds)
        }
    }

    @Test("Durations parse the way they are written on a command line")
    func durations() {
        #expect(DurationParsing.parse("2ms") == .milliseconds(2))
        #expect(DurationParsing.parse("250us") == .microseconds(250))
        #expect(DurationParsing.parse("100µs") == .microseconds(100))
        #expect(DurationParsing.parse("1.5s") == .milliseconds(1_500))
        #expect(DurationParsing.parse("3") == .seconds(3))
        #expect(DurationParsing.parse("500ns") == .nanoseconds(500))
        #expect(DurationParsing.parse("-1ms") == nil)
        #expect(DurationParsing.parse("fast") == nil)
        #expect(DurationParsing.format(.milliseconds(2)) == "2ms")
        #expect(DurationParsing.format(.microseconds(100)) == "100us")
    }

    @Test("VmRSS and VmHWM are read from /proc status text")
    func statusParsing() {
        let status = "Name:\trpcbench\nVmHWM:\t   40960 kB\nVmRSS:\t   20480 kB\n"
        #expect(ProcessMemory.parseStatusField("VmRSS:", in: status) == 20_480 * 1024)
        #expect(ProcessMemory.parseStatusField("VmHWM:", in: status) == 40_960 * 1024)
        #expect(ProcessMemory.parseStatusField("VmSwap:", in: status) == 0)
    }
}
