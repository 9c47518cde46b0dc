import CoreMetrics
import Synchronization
import Wire

/// The server's swift-metrics instruments, created once per method (and status) and reused, so a call costs a
/// dictionary look-up, not an instrument allocation.
final class ServerMetrics: Sendable {
    private struct MethodInstruments: Sendable {
        let started: Counter
        let duration: Timer
        let shed: Counter
        let stragglers: Counter
        var finished: [StatusCode: Counter]
    }

    let prefix: String
    let counters = ServerCounters()
    private let handlersInFlight: Meter
    private let stragglersNow: Meter
    private let stragglerOverrun: Timer
    private let instruments = Mutex<[String: MethodInstruments]>([:])

    private let factory: any MetricsFactory

    init(prefix: String, factory: (any MetricsFactory)? = nil) {
        self.prefix = prefix
        let factory = factory ?? MetricsSystem.factory
        self.factory = factory
        self.handlersInFlight = Meter(label: "\(prefix)_server_handlers_in_flight", dimensions: [], factory: factory)
        self.stragglersNow = Meter(label: "\(prefix)_server_stragglers", dimensions: [], factory: factory)
        self.stragglerOverrun = Timer(label: "\(prefix)_server_straggler_overrun_seconds", dimensions: [], factory: factory)
    }

    private func withInstruments<T>(_ method: String, _ body: (inout MethodInstruments) -> T) -> T {
        self.instruments.withLock { all in
            if all[method] == nil {
                let dims = [("method", method)]
                all[method] = MethodInstruments(
                    started: Counter(label: "\(prefix)_server_calls_started_total", dimensions: dims, factory: factory),
                    duration: Timer(label: "\(prefix)_server_call_duration_seconds", dimensions: dims, factory: factory),
                    shed: Counter(label: "\(prefix)_server_calls_shed_total", dimensions: dims, factory: factory),
                    stragglers: Counter(label: "\(prefix)_server_stragglers_total", dimensions: dims, factory: factory),
                    finished: [:]
                )
            }
            return body(&all[method]!)
        }
    }

    func callStarted(_ method: String) {
        self.counters.callsStarted.add(1, ordering: .relaxed)
        self.withInstruments(method) { $0.started }.increment()
    }

    func callFinished(_ method: String, code: StatusCode, nanoseconds: Int64) {
        self.counters.callsFinished.add(1, ordering: .relaxed)
        let (counter, timer) = self.withInstruments(method) { instruments -> (Counter, Timer) in
            if instruments.finished[code] == nil {
                instruments.finished[code] = Counter(
                    label: "\(prefix)_server_calls_finished_total",
                    dimensions: [("method", method), ("code", code.description)],
                    factory: self.factory
                )
            }
            return (instruments.finished[code]!, instruments.duration)
        }
        counter.increment()
        timer.recordNanoseconds(nanoseconds)
    }

    func callShed(_ method: String) {
        self.counters.shedCalls.add(1, ordering: .relaxed)
        self.withInstruments(method) { $0.shed }.increment()
    }

    func callRefused() {
        self.counters.refusedCalls.add(1, ordering: .relaxed)
    }

    func handlerStarted() {
        self.counters.handlersInFlight.add(1, ordering: .relaxed)
        self.handlersInFlight.increment()
    }

    func handlerReturned() {
        self.counters.handlersInFlight.subtract(1, ordering: .relaxed)
        self.handlersInFlight.decrement()
    }

    func stragglerDetected(_ method: String) {
        self.counters.stragglersNow.add(1, ordering: .relaxed)
        self.counters.stragglersTotal.add(1, ordering: .relaxed)
        self.stragglersNow.increment()
        self.withInstruments(method) { $0.stragglers }.increment()
    }

    func stragglerReturned(overrunNanoseconds: Int64) {
        self.counters.stragglersNow.subtract(1, ordering: .relaxed)
        self.stragglersNow.decrement()
        self.stragglerOverrun.recordNanoseconds(overrunNanoseconds)
    }
}
