import DeadlineRPC
import NIOCore

/// Runs a storm against a target for a while, beside the victims, on the victims' own clients (so cancels share
/// their connections) — except disconnecting clients, which have their own.
public struct StormDriver: Sendable {
    /// What to do.
    public var configuration: StormConfiguration
    /// The shared connections (the victims' own).
    public var clients: [any BenchConnection]
    /// Opens the disconnecting clients' connections of their own.
    public var connector: any BenchConnector
    /// The chain's length.
    public var hops: Int
    /// Whether the hops forward deadline and cancellation.
    public var propagation: Bool
    /// The payload of every storm request.
    public var payload: ByteBuffer
    /// Where calls are recorded.
    public var log: StormLog
    /// Bumped on every storm call, for the progress line.
    public var live: LiveCounters?

    /// Creates a driver over any stack's connections.
    public init(
        configuration: StormConfiguration,
        clients: [any BenchConnection],
        connector: any BenchConnector,
        hops: Int,
        propagation: Bool,
        payload: ByteBuffer,
        log: StormLog,
        live: LiveCounters?
    ) {
        precondition(!clients.isEmpty, "at least one client")
        self.configuration = configuration
        self.clients = clients
        self.connector = connector
        self.hops = hops
        self.propagation = propagation
        self.payload = payload
        self.log = log
        self.live = live
    }

    /// Runs every enabled kind for `duration`, then waits for their calls to end.
    public func run(for duration: Duration) async {
        let c = self.configuration
        await withDiscardingTaskGroup { group in
            if c.cancel && c.cancelRate > 0 {
                group.addTask {
                    await Self.paced(rate: c.cancelRate, offset: 0, duration: duration) { k in
                        await self.cancelled(after: c.cancelAfter, kind: .cancel, hops: 1, client: self.client(k))
                    }
                }
            }
            if c.deadline && c.deadlineRate > 0 {
                group.addTask {
                    await Self.paced(rate: c.deadlineRate, offset: 0.5, duration: duration) { k in
                        await self.shortBudget(c.deadlineBudget, kind: .deadline, hops: 1, client: self.client(k))
                    }
                }
            }
            if c.burst && c.burstSize > 0 && c.burstInterval > .zero {
                group.addTask {
                    await Self.paced(rate: 1 / c.burstInterval.benchSeconds, offset: 0.5, duration: duration) { _ in
                        await self.burst()
                    }
                }
            }
            if c.disconnect && c.disconnectCalls > 0 && c.disconnectInterval > .zero {
                group.addTask {
                    await Self.paced(rate: 1 / c.disconnectInterval.benchSeconds, offset: 0.25, duration: duration) { _ in
                        await self.disconnectingClient()
                    }
                }
            }
            if c.chain && c.chainRate > 0 && self.hops >= 2 {
                group.addTask {
                    await Self.paced(rate: c.chainRate, offset: 0.25, duration: duration) { k in
                        if k % 2 == 0 {
                            await self.cancelled(after: c.chainCancelAfter, kind: .chainCancel, hops: self.hops, client: self.client(k))
                        } else {
                            await self.shortBudget(c.chainBudget, kind: .chainDeadline, hops: self.hops, client: self.client(k))
                        }
                    }
                }
            }
        }
    }

    // MARK: Kinds

    private func client(_ k: Int) -> any BenchConnection {
        self.clients[k % self.clients.count]
    }

    private func request(tag: UInt64, hops: Int, kind: WorkKind, work: Duration? = nil) -> BenchRequest {
        BenchRequest(
            tag: tag,
            workNanoseconds: (work ?? self.configuration.work).benchNanoseconds,
            workKind: kind,
            workUnitNanoseconds: self.configuration.workUnit.benchNanoseconds,
            hop: 1,
            hops: UInt8(clamping: hops),
            propagation: self.propagation,
            payload: self.payload
        )
    }

    private func record(_ tag: UInt64, _ kind: StormKind, deadAt: Int64, _ outcome: CallOutcome) {
        self.log.append(StormCallRecord(tag: tag, kind: kind, deadAt: deadAt, outcome: outcome.code))
        self.live?.stormCompleted()
    }

    /// A call whose task is cancelled `delay` after it starts.
    private func cancelled(after delay: Duration, kind: StormKind, hops: Int, client: any BenchConnection) async {
        let tag = self.log.nextTag()
        let request = self.request(tag: tag, hops: hops, kind: self.configuration.workKind)
        let (outcome, deadAt) = await withTaskGroup(of: CallOutcome.self) { group -> (CallOutcome, Int64) in
            group.addTask {
                await client.work(request, timeout: nil)
            }
            try? await Task.sleep(for: delay)
            let deadAt = BenchClock.now()
            group.cancelAll()
            return (await group.next() ?? .failed("other"), deadAt)
        }
        self.record(tag, kind, deadAt: deadAt, outcome)
    }

    /// A call whose budget is far shorter than the work.
    private func shortBudget(_ budget: Duration, kind: StormKind, hops: Int, client: any BenchConnection) async {
        let tag = self.log.nextTag()
        let request = self.request(tag: tag, hops: hops, kind: self.configuration.workKind)
        let deadAt = BenchClock.now() + budget.benchNanoseconds
        let outcome = await client.work(request, timeout: budget)
        self.record(tag, kind, deadAt: deadAt, outcome)
    }

    /// `burstSize` calls spread over the shared clients and started over `burstRamp`, all cancelled at once.
    private func burst() async {
        let c = self.configuration
        await withTaskGroup(of: (UInt64, CallOutcome).self) { group in
            let start = BenchClock.now()
            let ramp = Double(max(0, c.burstRamp.benchNanoseconds))
            var i = 0
            while i < c.burstSize {
                // Start every call now due, then sleep (at least 1 ms) until the next one is.
                let elapsed = Double(BenchClock.now() - start)
                let due = ramp > 0 ? min(c.burstSize, Int(elapsed / ramp * Double(c.burstSize)) + 1) : c.burstSize
                while i < due {
                    let tag = self.log.nextTag()
                    // Parked until the cancel: longer than the ramp and the delay together.
                    let request = self.request(tag: tag, hops: 1, kind: .park, work: c.burstRamp + c.burstCancelAfter + c.work)
                    let client = self.client(i)
                    group.addTask {
                        (tag, await client.work(request, timeout: nil))
                    }
                    i += 1
                }
                if i < c.burstSize { try? await Task.sleep(for: .milliseconds(1)) }
            }
            try? await Task.sleep(for: c.burstCancelAfter)
            let deadAt = BenchClock.now()
            group.cancelAll()
            for await (tag, outcome) in group {
                self.record(tag, .burst, deadAt: deadAt, outcome)
            }
        }
    }

    /// A client of its own with calls open, closed abruptly (its connection drops mid-call).
    private func disconnectingClient() async {
        let c = self.configuration
        // A client that cannot even be set up has no calls to record (the victims' connection to the same address
        // is open already, so this does not happen in practice).
        try? await self.connector.withConnection { client in
            await withTaskGroup(of: (UInt64, CallOutcome).self) { group in
                for _ in 0..<c.disconnectCalls {
                    let tag = self.log.nextTag()
                    let request = self.request(tag: tag, hops: 1, kind: .park, work: c.disconnectAfter + c.work)
                    group.addTask {
                        (tag, await client.work(request, timeout: nil))
                    }
                }
                try? await Task.sleep(for: c.disconnectAfter)
                let deadAt = BenchClock.now()
                await client.close()
                for await (tag, outcome) in group {
                    self.record(tag, .disconnect, deadAt: deadAt, outcome)
                }
            }
        }
    }

    /// Calls `body(k)` in a child task at `start + (k + offset) / rate` until `duration` has passed, then waits
    /// for every child.
    static func paced(
        rate: Double,
        offset: Double,
        duration: Duration,
        _ body: @escaping @Sendable (Int) async -> Void
    ) async {
        let interval = 1e9 / rate
        let start = BenchClock.now()
        let end = start + duration.benchNanoseconds
        await withDiscardingTaskGroup { group in
            var k = 0
            while !Task.isCancelled {
                let due = start + Int64((Double(k) + offset) * interval)
                if due >= end { break }
                let wait = due - BenchClock.now()
                if wait > 0 { try? await Task.sleep(for: .nanoseconds(wait)) }
                let index = k
                group.addTask { await body(index) }
                k += 1
            }
        }
    }
}
