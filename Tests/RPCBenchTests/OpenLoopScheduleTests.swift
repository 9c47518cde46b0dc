import RPCBenchCore
import Synchronization
import Testing

@Suite("Open loop: schedule and coordinated omission", .timeLimit(.minutes(5)))
struct OpenLoopScheduleTests {
    @Test("Intended times are start + k / rate, and due counts follow them exactly")
    func intendedTimes() {
        let schedule = OpenLoopSchedule(start: 1_000_000, rate: 1_000, duration: .milliseconds(10))
        #expect(schedule.count == 10)
        #expect(schedule.intendedTime(of: 0) == 1_000_000)
        #expect(schedule.intendedTime(of: 3) == 4_000_000)
        #expect(schedule.dueCount(at: 999_999) == 0)
        #expect(schedule.dueCount(at: 1_000_000) == 1)
        #expect(schedule.dueCount(at: 3_999_999) == 3)
        #expect(schedule.dueCount(at: 4_000_000) == 4)
        #expect(schedule.dueCount(at: 1_000_000_000) == 10)
    }

    @Test("Due counts are exact at awkward rates", arguments: [3.0, 7.0, 1_234.5, 33_333.0])
    func awkwardRates(rate: Double) {
        let schedule = OpenLoopSchedule(start: 0, rate: rate, duration: .seconds(1))
        for k in stride(from: 0, to: schedule.count, by: max(1, schedule.count / 50)) {
            let time = schedule.intendedTime(of: k)
            #expect(schedule.dueCount(at: time) == k + 1)
            if time > 0 { #expect(schedule.dueCount(at: time - 1) == k) }
        }
    }

    @Test("A late call's latency counts from its intended time, not from when it was sent")
    func lateCallLatency() {
        let schedule = OpenLoopSchedule(start: 0, rate: 1_000, duration: .seconds(1))
        // Call 5 is due at 5 ms; the pacer stalled and it went out at 25 ms, then took 100 µs.
        let sentAt: Int64 = 25_000_000
        let completedAt = sentAt + 100_000
        #expect(schedule.latency(of: 5, completedAt: completedAt) == 20_100_000)
    }

    @Test("The open-loop runner charges calls for waiting behind a stalled call (no coordinated omission)")
    func runnerChargesQueueing() async {
        // 1,000 calls/s for 60 ms with one call in flight at most. The first call stalls 30 ms; the calls due
        // meanwhile wait for the slot. Each takes ~0 s once sent, so a driver timing from the actual send would
        // see ~0 µs everywhere; timed from intended times, the waiters carry up to ~30 ms.
        let schedule = OpenLoopSchedule(start: BenchClock.now() + 2_000_000, rate: 1_000, duration: .milliseconds(60))
        let recorder = LatencyRecorder()
        let sendTimes = Mutex<[Int: Int64]>([:])
        let summary = await LoadGenerator.runOpen(schedule, maxInFlight: 1, recorders: [recorder]) { k in
            sendTimes.withLock { $0[k] = BenchClock.now() }
            if k == 0 { try? await Task.sleep(for: .milliseconds(30)) }
            return .ok
        }
        #expect(summary.calls == 60)
        let histogram = recorder.histogram
        #expect(histogram.count == 60)
        // Call 1 was due at 1 ms and could not start before call 0 ended (~30 ms).
        let sent1 = sendTimes.withLock { $0[1] } ?? 0
        #expect(sent1 - schedule.intendedTime(of: 1) >= 25_000_000)
        // The histogram holds those waits: call k (due at k ms) went out at ~30 ms, so calls 1...20 carry 10 ms
        // or more — the top third of the 60 — and the max is ~29 ms. Calls due after the stall carry ~0.
        #expect(histogram.nanoseconds(atPercentile: 100) >= 25_000_000)
        #expect(histogram.nanoseconds(atPercentile: 75) >= 8_000_000)
    }

    @Test("The closed loop keeps its callers busy and times each call from its send")
    func closedLoop() async {
        let recorder = LatencyRecorder()
        let summary = await LoadGenerator.runClosed(concurrency: 4, duration: .milliseconds(300), recorders: [recorder]) { _ in
            try? await Task.sleep(for: .milliseconds(1))
            return .ok
        }
        #expect(summary.calls >= 4)
        #expect(recorder.succeeded == summary.calls)
        #expect(recorder.histogram.nanoseconds(atPercentile: 50) >= 1_000_000)
    }
}
