#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Everything one bench run measured: the structure of `report.json`.
///
/// Every field is always present (no optionals): a figure that does not apply is 0, an empty list or an empty
/// object, so a consumer can rely on the schema.
public struct BenchReport: Sendable, Codable {
    /// `rpcbench/1`.
    public var schema: String
    /// When the run started, ISO 8601 in UTC.
    public var startedAt: String
    /// `embedded` or the `host:port` of a remote `rpcbench serve`.
    public var target: String
    /// The settings the run used.
    public var configuration: ReportConfiguration
    /// `calm`, `storm` and (unless turned off) `storm-propagation-off`, in that order.
    public var phases: [PhaseReport]
    /// The headline ratios.
    public var comparison: Comparison
    /// The servers once the run was over.
    public var afterRun: AfterRun
    /// Resident memory before and after.
    public var memory: MemoryReport
    /// Whether client and handler instants come from one clock.
    public var clock: ClockCheck
    /// The project's goals, each checked against this run.
    public var goals: [GoalCheck]
    /// The shared client connections: how many were opened for how many clients (more means some were lost).
    public var sharedConnections: SharedConnectionCount = .notCounted

    /// The JSON schema name of this version.
    public static let schemaName = "rpcbench/1"

    /// Creates a report.
    public init(
        startedAt: String,
        target: String,
        configuration: ReportConfiguration,
        phases: [PhaseReport],
        comparison: Comparison,
        afterRun: AfterRun,
        memory: MemoryReport,
        clock: ClockCheck,
        goals: [GoalCheck]
    ) {
        self.schema = Self.schemaName
        self.startedAt = startedAt
        self.target = target
        self.configuration = configuration
        self.phases = phases
        self.comparison = comparison
        self.afterRun = afterRun
        self.memory = memory
        self.clock = clock
        self.goals = goals
    }

    /// The phase named `name`, if it ran.
    public func phase(_ name: String) -> PhaseReport? {
        self.phases.first { $0.name == name }
    }

    /// Pretty-printed JSON with sorted keys.
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }
}

/// The run's settings, as flags would give them.
public struct ReportConfiguration: Sendable, Codable, Hashable {
    /// `open` or `closed`.
    public var mode: String
    /// Victim calls per second (open loop; 0 in a closed loop).
    public var rate: Double
    /// Open loop: the cap on victim calls in flight.
    public var maxInFlight: Int
    /// Closed loop: concurrent callers (0 in an open loop).
    public var concurrency: Int
    /// Client connections the victims and the storm share.
    public var connections: Int
    /// Request payload bytes (echoed back).
    public var payloadBytes: Int
    /// Mean victim handler service time, µs.
    public var serviceTimeMicroseconds: Double
    /// `fixed` or `exponential`.
    public var serviceTimeDistribution: String
    /// `spin` or `park`.
    public var serviceWork: String
    /// Warm-up, s.
    public var warmupSeconds: Double
    /// Each measured phase, s.
    public var durationSeconds: Double
    /// Victim call timeout, ms.
    public var victimTimeoutMilliseconds: Double
    /// Servers in the chain.
    public var hops: Int
    /// Where the servers ran handlers: `global` (reports written before handlers left the I/O loops may say
    /// `event-loop`).
    public var handlerExecutor: String
    /// The embedded servers' stream limit per connection.
    public var maxConcurrentStreams: Int
    /// Whether the propagation-off phase ran.
    public var comparePropagation: Bool
    /// The storm's settings.
    public var storm: StormSettings
    /// `release` or `debug` (debug figures are not meaningful).
    public var build: String
    /// Logical CPUs of this machine.
    public var cores: Int
    /// The RPC stack measured: `DeadlineRPC` (rpcbench) or a peer (`grpc-swift-2`, from Benchmarks/PeerStorm).
    public var stack: String

    /// Creates a value with every field given.
    public init(
        mode: String,
        rate: Double,
        maxInFlight: Int,
        concurrency: Int,
        connections: Int,
        payloadBytes: Int,
        serviceTimeMicroseconds: Double,
        serviceTimeDistribution: String,
        serviceWork: String,
        warmupSeconds: Double,
        durationSeconds: Double,
        victimTimeoutMilliseconds: Double,
        hops: Int,
        handlerExecutor: String,
        maxConcurrentStreams: Int,
        comparePropagation: Bool,
        storm: StormSettings,
        build: String,
        cores: Int,
        stack: String = "DeadlineRPC"
    ) {
        self.mode = mode
        self.rate = rate
        self.maxInFlight = maxInFlight
        self.concurrency = concurrency
        self.connections = connections
        self.payloadBytes = payloadBytes
        self.serviceTimeMicroseconds = serviceTimeMicroseconds
        self.serviceTimeDistribution = serviceTimeDistribution
        self.serviceWork = serviceWork
        self.warmupSeconds = warmupSeconds
        self.durationSeconds = durationSeconds
        self.victimTimeoutMilliseconds = victimTimeoutMilliseconds
        self.hops = hops
        self.handlerExecutor = handlerExecutor
        self.maxConcurrentStreams = maxConcurrentStreams
        self.comparePropagation = comparePropagation
        self.storm = storm
        self.build = build
        self.cores = cores
        self.stack = stack
    }
}

/// The storm's settings in the report.
public struct StormSettings: Sendable, Codable, Hashable {
    /// Cancelled calls on.
    public var cancel: Bool
    /// Per second.
    public var cancelRate: Double
    /// Delay before the cancel, µs.
    public var cancelAfterMicroseconds: Double
    /// Short-budget calls on.
    public var deadline: Bool
    /// Per second.
    public var deadlineRate: Double
    /// Budget, µs.
    public var deadlineBudgetMicroseconds: Double
    /// Bursts on.
    public var burst: Bool
    /// Calls per burst.
    public var burstSize: Int
    /// Between bursts, ms.
    public var burstIntervalMilliseconds: Double
    /// Over how long a burst's calls are started, ms.
    public var burstRampMilliseconds: Double
    /// Delay after a burst's last start before it is cancelled, µs.
    public var burstCancelAfterMicroseconds: Double
    /// Disconnecting clients on.
    public var disconnect: Bool
    /// Between disconnects, ms.
    public var disconnectIntervalMilliseconds: Double
    /// Calls open per disconnecting client.
    public var disconnectCalls: Int
    /// Delay before the close, µs.
    public var disconnectAfterMicroseconds: Double
    /// Chain calls on (needs 2+ hops).
    public var chain: Bool
    /// Per second.
    public var chainRate: Double
    /// Delay before a chain cancel, µs.
    public var chainCancelAfterMicroseconds: Double
    /// Budget of a short-budget chain call, µs.
    public var chainBudgetMicroseconds: Double
    /// The work a storm handler needs, µs.
    public var workMicroseconds: Double
    /// `spin` or `park` (cancel, deadline and chain handlers).
    public var workKind: String
    /// Cooperative work slice, µs.
    public var workUnitMicroseconds: Double

    /// The settings of `configuration`.
    public init(_ configuration: StormConfiguration) {
        self.cancel = configuration.cancel
        self.cancelRate = configuration.cancelRate
        self.cancelAfterMicroseconds = configuration.cancelAfter.benchMicroseconds
        self.deadline = configuration.deadline
        self.deadlineRate = configuration.deadlineRate
        self.deadlineBudgetMicroseconds = configuration.deadlineBudget.benchMicroseconds
        self.burst = configuration.burst
        self.burstSize = configuration.burstSize
        self.burstIntervalMilliseconds = configuration.burstInterval.benchMicroseconds / 1_000
        self.burstRampMilliseconds = configuration.burstRamp.benchMicroseconds / 1_000
        self.burstCancelAfterMicroseconds = configuration.burstCancelAfter.benchMicroseconds
        self.disconnect = configuration.disconnect
        self.disconnectIntervalMilliseconds = configuration.disconnectInterval.benchMicroseconds / 1_000
        self.disconnectCalls = configuration.disconnectCalls
        self.disconnectAfterMicroseconds = configuration.disconnectAfter.benchMicroseconds
        self.chain = configuration.chain
        self.chainRate = configuration.chainRate
        self.chainCancelAfterMicroseconds = configuration.chainCancelAfter.benchMicroseconds
        self.chainBudgetMicroseconds = configuration.chainBudget.benchMicroseconds
        self.workMicroseconds = configuration.work.benchMicroseconds
        self.workKind = configuration.workKind.description
        self.workUnitMicroseconds = configuration.workUnit.benchMicroseconds
    }
}

/// One phase: the victims' figures, the storm's, and the servers' counters over the phase.
public struct PhaseReport: Sendable, Codable {
    /// `calm`, `storm` or `storm-propagation-off`.
    public var name: String
    /// Whether the storm ran.
    public var storm: Bool
    /// Whether the hops forwarded deadline and cancellation.
    public var propagation: Bool
    /// Measured seconds (first intended send to last completion).
    public var seconds: Double
    /// The victims.
    public var victims: VictimReport
    /// The storm's figures (zero in the calm phase).
    public var stormResults: StormReport
    /// Server counters over the phase.
    public var server: PhaseServerReport
    /// How late the open loop's pacer released calls (already included in the victims' latency), µs.
    public var pacerLatenessMicroseconds: LatencySummary

    /// Creates a value with every field given.
    public init(
        name: String,
        storm: Bool,
        propagation: Bool,
        seconds: Double,
        victims: VictimReport,
        stormResults: StormReport,
        server: PhaseServerReport,
        pacerLatenessMicroseconds: LatencySummary
    ) {
        self.name = name
        self.storm = storm
        self.propagation = propagation
        self.seconds = seconds
        self.victims = victims
        self.stormResults = stormResults
        self.server = server
        self.pacerLatenessMicroseconds = pacerLatenessMicroseconds
    }
}

/// The victims of one phase.
public struct VictimReport: Sendable, Codable {
    /// Calls sent.
    public var calls: Int
    /// Calls that succeeded.
    public var succeeded: Int
    /// Calls that failed.
    public var errors: Int
    /// Failed calls by status code name.
    public var errorsByCode: [String: Int]
    /// Successful calls per second.
    public var throughputPerSecond: Double
    /// Latency of successful calls, µs (open loop: from the intended send time).
    public var latencyMicroseconds: LatencySummary
    /// The latency distribution, for plots.
    public var percentileCurve: [CurvePoint]

    /// Creates a value with every field given.
    public init(
        calls: Int,
        succeeded: Int,
        errors: Int,
        errorsByCode: [String: Int],
        throughputPerSecond: Double,
        latencyMicroseconds: LatencySummary,
        percentileCurve: [CurvePoint]
    ) {
        self.calls = calls
        self.succeeded = succeeded
        self.errors = errors
        self.errorsByCode = errorsByCode
        self.throughputPerSecond = throughputPerSecond
        self.latencyMicroseconds = latencyMicroseconds
        self.percentileCurve = percentileCurve
    }
}

/// Server counters over one phase (differences between the start and the end of the phase) and how long the
/// servers took to settle afterwards.
public struct PhaseServerReport: Sendable, Codable {
    /// Calls accepted, all hops.
    public var callsStarted: Int
    /// Calls ended, all hops.
    public var callsFinished: Int
    /// New stragglers, all hops.
    public var stragglers: Int
    /// Calls shed for a spent budget, all hops.
    public var shedCalls: Int
    /// Calls refused at the stream limit, all hops.
    public var refusedCalls: Int
    /// Time from the end of the phase until no handler was in flight, ms.
    public var settleMilliseconds: Double
    /// Handlers still in flight when the settle wait ended (0 unless it timed out).
    public var handlersInFlightAfterSettle: Int

    /// Creates a value with every field given.
    public init(
        callsStarted: Int,
        callsFinished: Int,
        stragglers: Int,
        shedCalls: Int,
        refusedCalls: Int,
        settleMilliseconds: Double,
        handlersInFlightAfterSettle: Int
    ) {
        self.callsStarted = callsStarted
        self.callsFinished = callsFinished
        self.stragglers = stragglers
        self.shedCalls = shedCalls
        self.refusedCalls = refusedCalls
        self.settleMilliseconds = settleMilliseconds
        self.handlersInFlightAfterSettle = handlersInFlightAfterSettle
    }
}

/// The storm of one phase.
public struct StormReport: Sendable, Codable {
    /// Storm calls by kind.
    public var callsByKind: [String: Int]
    /// Storm calls by kind and the status code the client saw.
    public var outcomesByKind: [String: [String: Int]]
    /// Storm calls whose first-hop handler had not started when the call died (cancelled while queued or in
    /// transit, shed, or refused), by kind.
    public var diedBeforeHandlerByKind: [String: Int]
    /// Client cancel → handler task cancelled (`cancel` and `chain-cancel`).
    public var cancelToHandlerTask: HopLatencies
    /// Client cancel → handler code noticed (work loop or forwarded call returned).
    public var cancelToHandlerObserved: HopLatencies
    /// Deadline instant → handler task cancelled (`deadline` and `chain-deadline`).
    public var deadlineToHandlerTask: HopLatencies
    /// Deadline instant → handler code noticed.
    public var deadlineToHandlerObserved: HopLatencies
    /// Burst cancel → handler task cancelled, µs.
    public var burstCancelToHandlerTask: LatencySummary
    /// Client close → handler task cancelled, µs.
    public var disconnectToHandlerTask: LatencySummary
    /// Handler time after the call was dead.
    public var wastedWork: WastedWork

    /// An empty report (a phase without storm).
    public static func empty(hops: Int) -> StormReport {
        StormReport(
            callsByKind: [:],
            outcomesByKind: [:],
            diedBeforeHandlerByKind: [:],
            cancelToHandlerTask: .empty(hops: hops),
            cancelToHandlerObserved: .empty(hops: hops),
            deadlineToHandlerTask: .empty(hops: hops),
            deadlineToHandlerObserved: .empty(hops: hops),
            burstCancelToHandlerTask: LatencySummary(),
            disconnectToHandlerTask: LatencySummary(),
            wastedWork: .empty(hops: hops)
        )
    }

    /// Storm calls in all.
    public var totalCalls: Int { self.callsByKind.values.reduce(0, +) }

    /// Creates a value with every field given.
    public init(
        callsByKind: [String: Int],
        outcomesByKind: [String: [String: Int]],
        diedBeforeHandlerByKind: [String: Int],
        cancelToHandlerTask: HopLatencies,
        cancelToHandlerObserved: HopLatencies,
        deadlineToHandlerTask: HopLatencies,
        deadlineToHandlerObserved: HopLatencies,
        burstCancelToHandlerTask: LatencySummary,
        disconnectToHandlerTask: LatencySummary,
        wastedWork: WastedWork
    ) {
        self.callsByKind = callsByKind
        self.outcomesByKind = outcomesByKind
        self.diedBeforeHandlerByKind = diedBeforeHandlerByKind
        self.cancelToHandlerTask = cancelToHandlerTask
        self.cancelToHandlerObserved = cancelToHandlerObserved
        self.deadlineToHandlerTask = deadlineToHandlerTask
        self.deadlineToHandlerObserved = deadlineToHandlerObserved
        self.burstCancelToHandlerTask = burstCancelToHandlerTask
        self.disconnectToHandlerTask = disconnectToHandlerTask
        self.wastedWork = wastedWork
    }
}

/// A latency measured at each hop of the chain, µs.
public struct HopLatencies: Sendable, Codable {
    /// Hop 1 (the server the client called): single-hop and chain calls.
    public var firstHop: LatencySummary
    /// The last hop (chain calls only; the same as the first hop when there is one hop).
    public var lastHop: LatencySummary
    /// Every hop, first first.
    public var byHop: [LatencySummary]
    /// Handlers, by hop, that had started before the call died and never saw it (ran on: the leak).
    public var neverCancelledByHop: [Int]
    /// Handlers, by hop, that stopped short of their work after the death although this instant was never taken:
    /// a forwarding hop whose outbound call failed at the shared deadline first (it stopped; it did not leak).
    public var stoppedUnmeasuredByHop: [Int]
    /// The first hop's distribution, for plots.
    public var firstHopCurve: [CurvePoint]
    /// The last hop's distribution, for plots.
    public var lastHopCurve: [CurvePoint]

    /// Creates a value with every field given.
    public init(
        firstHop: LatencySummary,
        lastHop: LatencySummary,
        byHop: [LatencySummary],
        neverCancelledByHop: [Int],
        stoppedUnmeasuredByHop: [Int],
        firstHopCurve: [CurvePoint],
        lastHopCurve: [CurvePoint]
    ) {
        self.firstHop = firstHop
        self.lastHop = lastHop
        self.byHop = byHop
        self.neverCancelledByHop = neverCancelledByHop
        self.stoppedUnmeasuredByHop = stoppedUnmeasuredByHop
        self.firstHopCurve = firstHopCurve
        self.lastHopCurve = lastHopCurve
    }

    /// Nothing measured.
    public static func empty(hops: Int) -> HopLatencies {
        HopLatencies(
            firstHop: LatencySummary(),
            lastHop: LatencySummary(),
            byHop: Array(repeating: LatencySummary(), count: max(1, hops)),
            neverCancelledByHop: Array(repeating: 0, count: max(1, hops)),
            stoppedUnmeasuredByHop: Array(repeating: 0, count: max(1, hops)),
            firstHopCurve: [],
            lastHopCurve: []
        )
    }
}

/// Handler time spent after the call was already dead (after the client's cancel, the deadline instant or the
/// close): at a hop that forwards, the time spent waiting on the next hop; at the last hop, the work itself.
public struct WastedWork: Sendable, Codable {
    /// All hops, ms.
    public var totalMilliseconds: Double
    /// Hops 2 and later, ms (what propagation is for).
    public var beyondFirstHopMilliseconds: Double
    /// Per hop.
    public var byHop: [HopWaste]
    /// Per storm kind (all hops).
    public var byKind: [String: KindWaste]

    /// Creates a value with every field given.
    public init(
        totalMilliseconds: Double,
        beyondFirstHopMilliseconds: Double,
        byHop: [HopWaste],
        byKind: [String: KindWaste]
    ) {
        self.totalMilliseconds = totalMilliseconds
        self.beyondFirstHopMilliseconds = beyondFirstHopMilliseconds
        self.byHop = byHop
        self.byKind = byKind
    }

    /// Nothing measured.
    public static func empty(hops: Int) -> WastedWork {
        WastedWork(
            totalMilliseconds: 0,
            beyondFirstHopMilliseconds: 0,
            byHop: (1...max(1, hops)).map {
                HopWaste(hop: $0, handlers: 0, handlersPastDeath: 0, ranToCompletionAfterDeath: 0, totalMilliseconds: 0, perHandlerMicroseconds: LatencySummary())
            },
            byKind: [:]
        )
    }
}

/// Wasted work at one hop.
public struct HopWaste: Sendable, Codable, Hashable {
    /// The hop.
    public var hop: Int
    /// Storm handlers that ran at this hop.
    public var handlers: Int
    /// Handlers still running after their call died.
    public var handlersPastDeath: Int
    /// Handlers that did all their work although the call had died first.
    public var ranToCompletionAfterDeath: Int
    /// Handler time after death, ms.
    public var totalMilliseconds: Double
    /// Handler time after death per handler, µs.
    public var perHandlerMicroseconds: LatencySummary

    /// Creates a value with every field given.
    public init(
        hop: Int,
        handlers: Int,
        handlersPastDeath: Int,
        ranToCompletionAfterDeath: Int,
        totalMilliseconds: Double,
        perHandlerMicroseconds: LatencySummary
    ) {
        self.hop = hop
        self.handlers = handlers
        self.handlersPastDeath = handlersPastDeath
        self.ranToCompletionAfterDeath = ranToCompletionAfterDeath
        self.totalMilliseconds = totalMilliseconds
        self.perHandlerMicroseconds = perHandlerMicroseconds
    }
}

/// Wasted work of one storm kind, over every hop.
public struct KindWaste: Sendable, Codable, Hashable {
    /// Storm handlers of this kind.
    public var handlers: Int
    /// Handler time after death, ms.
    public var totalMilliseconds: Double
    /// Handler time after death per handler, µs.
    public var perHandlerMicroseconds: LatencySummary

    /// Creates a value with every field given.
    public init(handlers: Int, totalMilliseconds: Double, perHandlerMicroseconds: LatencySummary) {
        self.handlers = handlers
        self.totalMilliseconds = totalMilliseconds
        self.perHandlerMicroseconds = perHandlerMicroseconds
    }
}

/// The headline ratios of the run.
public struct Comparison: Sendable, Codable, Hashable {
    /// Victim p99 without storm, µs.
    public var victimP99CalmMicroseconds: Double
    /// Victim p99 with storm, µs.
    public var victimP99StormMicroseconds: Double
    /// Storm p99 / calm p99.
    public var victimP99Ratio: Double
    /// Victim errors during the storm.
    public var victimErrorsStorm: Int
    /// Victim throughput without and with storm, calls/s.
    public var victimThroughputCalm: Double
    /// Victim throughput with storm, calls/s.
    public var victimThroughputStorm: Double
    /// Victim p99 with storm and propagation off, µs (0 if not run).
    public var victimP99PropagationOffMicroseconds: Double
    /// That p99 / calm p99.
    public var victimP99RatioPropagationOff: Double
    /// Victim errors with propagation off.
    public var victimErrorsPropagationOff: Int
    /// Wasted handler time with propagation on, ms.
    public var wastedWorkPropagationOnMilliseconds: Double
    /// Wasted handler time with propagation off, ms.
    public var wastedWorkPropagationOffMilliseconds: Double
    /// Wasted handler time at hops 2+ with propagation on, ms.
    public var wastedBeyondFirstHopPropagationOnMilliseconds: Double
    /// Wasted handler time at hops 2+ with propagation off, ms.
    public var wastedBeyondFirstHopPropagationOffMilliseconds: Double

    /// Creates a value with every field given.
    public init(
        victimP99CalmMicroseconds: Double,
        victimP99StormMicroseconds: Double,
        victimP99Ratio: Double,
        victimErrorsStorm: Int,
        victimThroughputCalm: Double,
        victimThroughputStorm: Double,
        victimP99PropagationOffMicroseconds: Double,
        victimP99RatioPropagationOff: Double,
        victimErrorsPropagationOff: Int,
        wastedWorkPropagationOnMilliseconds: Double,
        wastedWorkPropagationOffMilliseconds: Double,
        wastedBeyondFirstHopPropagationOnMilliseconds: Double,
        wastedBeyondFirstHopPropagationOffMilliseconds: Double
    ) {
        self.victimP99CalmMicroseconds = victimP99CalmMicroseconds
        self.victimP99StormMicroseconds = victimP99StormMicroseconds
        self.victimP99Ratio = victimP99Ratio
        self.victimErrorsStorm = victimErrorsStorm
        self.victimThroughputCalm = victimThroughputCalm
        self.victimThroughputStorm = victimThroughputStorm
        self.victimP99PropagationOffMicroseconds = victimP99PropagationOffMicroseconds
        self.victimP99RatioPropagationOff = victimP99RatioPropagationOff
        self.victimErrorsPropagationOff = victimErrorsPropagationOff
        self.wastedWorkPropagationOnMilliseconds = wastedWorkPropagationOnMilliseconds
        self.wastedWorkPropagationOffMilliseconds = wastedWorkPropagationOffMilliseconds
        self.wastedBeyondFirstHopPropagationOnMilliseconds = wastedBeyondFirstHopPropagationOnMilliseconds
        self.wastedBeyondFirstHopPropagationOffMilliseconds = wastedBeyondFirstHopPropagationOffMilliseconds
    }
}

/// The servers after the whole run, once the bench waited (bounded) for every handler to return.
public struct AfterRun: Sendable, Codable, Hashable {
    /// Handlers in flight at each hop (must be 0).
    public var handlersInFlightByHop: [Int]
    /// Their sum.
    public var handlersInFlight: Int
    /// Stragglers running now, by hop.
    public var stragglersNowByHop: [Int]
    /// Stragglers ever, by hop.
    public var stragglersTotalByHop: [Int]
    /// Calls shed, by hop.
    public var shedCallsByHop: [Int]
    /// Calls refused, by hop.
    public var refusedCallsByHop: [Int]
    /// Calls started, by hop.
    public var callsStartedByHop: [Int]
    /// Calls finished, by hop.
    public var callsFinishedByHop: [Int]
    /// Whether every hop reached 0 handlers in flight within the wait.
    public var drained: Bool
    /// How long that took, ms.
    public var drainMilliseconds: Double

    /// Creates a value with every field given.
    public init(
        handlersInFlightByHop: [Int],
        handlersInFlight: Int,
        stragglersNowByHop: [Int],
        stragglersTotalByHop: [Int],
        shedCallsByHop: [Int],
        refusedCallsByHop: [Int],
        callsStartedByHop: [Int],
        callsFinishedByHop: [Int],
        drained: Bool,
        drainMilliseconds: Double
    ) {
        self.handlersInFlightByHop = handlersInFlightByHop
        self.handlersInFlight = handlersInFlight
        self.stragglersNowByHop = stragglersNowByHop
        self.stragglersTotalByHop = stragglersTotalByHop
        self.shedCallsByHop = shedCallsByHop
        self.refusedCallsByHop = refusedCallsByHop
        self.callsStartedByHop = callsStartedByHop
        self.callsFinishedByHop = callsFinishedByHop
        self.drained = drained
        self.drainMilliseconds = drainMilliseconds
    }
}

/// Resident memory (`VmRSS`) of this process and of the serving process (the same process when embedded).
public struct MemoryReport: Sendable, Codable, Hashable {
    /// This process after warm-up, bytes.
    public var rssBeforeBytes: Int
    /// This process after the run and the drain, bytes.
    public var rssAfterBytes: Int
    /// After / before.
    public var rssRatio: Double
    /// This process's peak (`VmHWM`), bytes.
    public var peakRSSBytes: Int
    /// The serving process after warm-up, bytes.
    public var serverRSSBeforeBytes: Int
    /// The serving process after the run, bytes.
    public var serverRSSAfterBytes: Int
    /// After / before.
    public var serverRSSRatio: Double
    /// The serving process's peak, bytes.
    public var serverPeakRSSBytes: Int

    /// Creates a value with every field given.
    public init(
        rssBeforeBytes: Int,
        rssAfterBytes: Int,
        rssRatio: Double,
        peakRSSBytes: Int,
        serverRSSBeforeBytes: Int,
        serverRSSAfterBytes: Int,
        serverRSSRatio: Double,
        serverPeakRSSBytes: Int
    ) {
        self.rssBeforeBytes = rssBeforeBytes
        self.rssAfterBytes = rssAfterBytes
        self.rssRatio = rssRatio
        self.peakRSSBytes = peakRSSBytes
        self.serverRSSBeforeBytes = serverRSSBeforeBytes
        self.serverRSSAfterBytes = serverRSSAfterBytes
        self.serverRSSRatio = serverRSSRatio
        self.serverPeakRSSBytes = serverPeakRSSBytes
    }
}

/// Whether the client's and the handlers' instants come from one monotonic clock.
public struct ClockCheck: Sendable, Codable, Hashable {
    /// True when embedded, or when the server's clock reading fell between two readings of ours.
    public var shared: Bool
    /// Server reading minus the midpoint of ours, µs.
    public var offsetMicroseconds: Double

    /// Creates a value with every field given.
    public init(
        shared: Bool,
        offsetMicroseconds: Double
    ) {
        self.shared = shared
        self.offsetMicroseconds = offsetMicroseconds
    }
}

/// One goal from the project's anchors, checked.
public struct GoalCheck: Sendable, Codable, Hashable {
    /// What is measured.
    public var name: String
    /// The target, in words.
    public var target: String
    /// The figure this run measured.
    public var measured: String
    /// Whether the target was met.
    public var met: Bool

    /// Creates a value with every field given.
    public init(
        name: String,
        target: String,
        measured: String,
        met: Bool
    ) {
        self.name = name
        self.target = target
        self.measured = measured
        self.met = met
    }
}

/// The shared connections of a run: a connection opened beyond one per client replaced one that was lost.
public struct SharedConnectionCount: Sendable, Codable, Hashable {
    /// Whether the stack's harness counted them (false: the other figures are 0).
    public var counted: Bool
    /// Shared clients.
    public var clients: Int
    /// Connections they opened.
    public var opened: Int
    /// Connections lost and reopened (`opened - clients`, at least 0).
    public var lost: Int

    /// Creates a count; `lost` follows from the others.
    public init(clients: Int, opened: Int) {
        self.counted = true
        self.clients = clients
        self.opened = opened
        self.lost = max(0, opened - clients)
    }

    /// For stacks whose harness does not count connections.
    public static let notCounted: SharedConnectionCount = {
        var count = SharedConnectionCount(clients: 0, opened: 0)
        count.counted = false
        return count
    }()
}
