import NIOCore
import Testing
import Wire

@testable import DeadlineRPC

/// The server half of a stream as a pure value: every (state, event) pair is checked against a table written from
/// docs/PROTOCOL.md §9.3 (server side), §9.3 "Call kinds" and §12.2, for single-request (unary, server-streaming) and
/// streaming-request (client-streaming, bidirectional) calls; then thousands of event sequences check that a
/// stream ends exactly once and is released exactly once.
///
/// The machine's state is the spec's (§9.3: `idle`, `open`, `halfClosed`, `closed`), with whether a handler is still
/// owed its return tracked beside it; the table's columns are the five combinations a call reaches: `idle` (a
/// single-request call whose handler waits for its one request message), `open`, `halfClosed`,
/// `closedHandlerRunning` (ended while a cancelled handler is still returning: the stream slot is held until it
/// does) and `closed`.
@Suite("CallStateMachine.Server: every (state, event) pair matches PROTOCOL.md §9.3", .timeLimit(.minutes(5)))
struct CallStateMachineServerTests {
    typealias Machine = CallStateMachine.Server
    typealias Action = CallStateMachine.Server.Action
    /// A table column: the §9.3 state and whether the handler is still owed its return.
    typealias State = TargetState

    /// A machine for the table: it is fed every event in every state, our bugs (a handler returning when none runs)
    /// included, so those do not trap.
    static func newMachine(singleRequest: Bool) -> Machine {
        Machine(singleRequest: singleRequest, assertsOnBugs: false)
    }

    // MARK: Reaching each state through real transitions

    /// Every state a test can ask for; `makeMachine` reaches it from `init` through the transitions a connection
    /// drives, so tests loop over "every state" without building states by hand.
    enum TargetState: Hashable, CaseIterable, CustomStringConvertible {
        case idle
        case open
        case halfClosed
        case closedHandlerRunning
        case closed

        /// The column a machine is in.
        init(_ machine: Machine) {
            switch (machine.state, machine.handlerOutstanding) {
            case (.idle, _): self = .idle
            case (.open, _): self = .open
            case (.halfClosed, _): self = .halfClosed
            case (.closed, true): self = .closedHandlerRunning
            case (.closed, false): self = .closed
            }
        }

        var description: String {
            switch self {
            case .idle: return "idle"
            case .open: return "open"
            case .halfClosed: return "halfClosed"
            case .closedHandlerRunning: return "closed (handler running)"
            case .closed: return "closed"
            }
        }
    }

    /// A machine in `target`, reached through real transitions; nil when the call kind cannot be in that state
    /// (a streaming-request call starts its handler with the call, so it is never `idle`).
    static func makeMachine(singleRequest: Bool, target: TargetState) throws -> Machine? {
        var machine = Self.newMachine(singleRequest: singleRequest)
        if target == .idle {
            guard singleRequest else { return nil }
            try #require(TargetState(machine) == .idle)
            return machine
        }
        if singleRequest {
            try #require(machine.receiveMessage(endStream: false) == .startHandler(closeInbound: false))
        }
        try #require(TargetState(machine) == .open)
        switch target {
        case .idle:
            preconditionFailure("handled above")
        case .open:
            break
        case .halfClosed:
            try #require(machine.receiveHalfClose() == .closeInbound)
        case .closedHandlerRunning:
            try #require(machine.receiveCancel(.cancelled) == .cancelHandler(.cancelled))
        case .closed:
            try #require(machine.receiveCancel(.cancelled) == .cancelHandler(.cancelled))
            try #require(machine.handlerFinished(.ok) == .release)
        }
        try #require(TargetState(machine) == target)
        return machine
    }

    // MARK: Events

    static let streamErrorStatus = Status(code: .invalidArgument, message: "A request metadata key is malformed.")
    static let shutdownStatus = Status(code: .unavailable, message: "The server shut down before the call finished.")
    static let limitStatus = Status(code: .resourceExhausted, message: "A response message is too large.")
    static let handlerError = Status(code: .notFound, message: "No such record.")
    /// The seven defined reasons plus two undefined ones (read as *cancelled*, §12.2).
    static let cancelReasons: [CancelReason] = (0...6).map { CancelReason(rawValue: $0) } + [CancelReason(rawValue: 7), CancelReason(rawValue: 255)]

    /// Everything that can happen to a server stream.
    enum Event: Hashable, CustomStringConvertible {
        case receiveMessage(endStream: Bool)
        case receiveHalfClose
        case receiveCancel(CancelReason)
        case deadlineExpired
        case streamError(Status)
        case abort(Status, CancelReason)
        case handlerWrote
        case handlerFinished(Status)
        case connectionClosed(CancelReason)

        func apply(to machine: inout Machine) -> Action {
            switch self {
            case .receiveMessage(let endStream): return machine.receiveMessage(endStream: endStream)
            case .receiveHalfClose: return machine.receiveHalfClose()
            case .receiveCancel(let reason): return machine.receiveCancel(reason)
            case .deadlineExpired: return machine.deadlineExpired()
            case .streamError(let status): return machine.streamError(status)
            case .abort(let status, let reason): return machine.abort(status, reason: reason)
            case .handlerWrote: return machine.handlerWrote()
            case .handlerFinished(let status): return machine.handlerFinished(status)
            case .connectionClosed(let reason): return machine.connectionClosed(reason)
            }
        }

        var description: String {
            switch self {
            case .receiveMessage(let endStream): return "receiveMessage(endStream: \(endStream))"
            case .receiveHalfClose: return "receiveHalfClose"
            case .receiveCancel(let reason): return "receiveCancel(\(reason))"
            case .deadlineExpired: return "deadlineExpired"
            case .streamError(let status): return "streamError(\(status.code))"
            case .abort(let status, let reason): return "abort(\(status.code), \(reason))"
            case .handlerWrote: return "handlerWrote"
            case .handlerFinished(let status): return "handlerFinished(\(status.code))"
            case .connectionClosed(let reason): return "connectionClosed(\(reason))"
            }
        }
    }

    static let allEvents: [Event] =
        [.receiveMessage(endStream: false), .receiveMessage(endStream: true), .receiveHalfClose]
        + Self.cancelReasons.map { .receiveCancel($0) }
        + [
            .deadlineExpired,
            .streamError(Self.streamErrorStatus),
            .abort(Self.shutdownStatus, .shuttingDown),
            .abort(Self.limitStatus, .resourceLimit),
            .handlerWrote,
            .handlerFinished(.ok),
            .handlerFinished(Self.handlerError),
            .connectionClosed(.cancelled),
            .connectionClosed(.shuttingDown),
            .connectionClosed(.streamError),
        ]

    /// One of each kind of event, for exhaustive enumeration of short sequences.
    static let eventAlphabet: [Event] = [
        .receiveMessage(endStream: false), .receiveMessage(endStream: true), .receiveHalfClose,
        .receiveCancel(.hedgeLost), .deadlineExpired, .streamError(Self.streamErrorStatus),
        .abort(Self.shutdownStatus, .shuttingDown), .handlerWrote, .handlerFinished(.ok),
        .handlerFinished(Self.handlerError), .connectionClosed(.cancelled),
    ]

    // MARK: The expected table

    /// A status the machine must produce: the one the event carried, or one it writes itself (then only the code
    /// is specified, and the message must say something).
    enum StatusPattern: CustomStringConvertible {
        case exactly(Status)
        case code(StatusCode)

        func matches(_ status: Status) -> Bool {
            switch self {
            case .exactly(let expected): return status == expected
            case .code(let code): return status.code == code && !status.message.isEmpty
            }
        }

        var description: String {
            switch self {
            case .exactly(let status): return "\(status)"
            case .code(let code): return "\(code): <any message>"
            }
        }
    }

    enum Expected: CustomStringConvertible {
        case none
        case startHandler(closeInbound: Bool)
        case deliver(closeInbound: Bool)
        case closeInbound
        case write
        case endCall(StatusPattern, cancelHandler: CancelReason)
        case cancelHandler(CancelReason)
        case endCallAndRelease(StatusPattern)
        case release

        func matches(_ action: Action) -> Bool {
            switch (self, action) {
            case (.none, .none), (.closeInbound, .closeInbound), (.write, .write), (.release, .release):
                return true
            case (.startHandler(let a), .startHandler(let b)), (.deliver(let a), .deliver(let b)):
                return a == b
            case (.endCall(let pattern, let a), .endCall(let status, let b)):
                return a == b && pattern.matches(status)
            case (.cancelHandler(let a), .cancelHandler(let b)):
                return a == b
            case (.endCallAndRelease(let pattern), .endCallAndRelease(let status)):
                return pattern.matches(status)
            default:
                return false
            }
        }

        var description: String {
            switch self {
            case .none: return "none"
            case .startHandler(let close): return "startHandler(closeInbound: \(close))"
            case .deliver(let close): return "deliver(closeInbound: \(close))"
            case .closeInbound: return "closeInbound"
            case .write: return "write"
            case .endCall(let status, let reason): return "endCall(\(status), cancelHandler: \(reason))"
            case .cancelHandler(let reason): return "cancelHandler(\(reason))"
            case .endCallAndRelease(let status): return "endCallAndRelease(\(status))"
            case .release: return "release"
            }
        }
    }

    struct Outcome {
        var action: Expected
        var next: State
        init(_ action: Expected, _ next: State) {
            self.action = action
            self.next = next
        }
    }

    /// One row of the table: an event's outcome in every state (the labels make every row complete).
    struct Row {
        var idle: Outcome
        var open: Outcome
        var halfClosed: Outcome
        var closedHandlerRunning: Outcome
        var closed: Outcome

        subscript(state: State) -> Outcome {
            switch state {
            case .idle: return self.idle
            case .open: return self.open
            case .halfClosed: return self.halfClosed
            case .closedHandlerRunning: return self.closedHandlerRunning
            case .closed: return self.closed
            }
        }
    }

    /// The table, one row per event, written from the spec rather than from the code.
    static func expectedRow(_ event: Event, singleRequest: Bool) -> Row {
        // Every event on an ended stream is dropped quietly (§9.3 "closed" column, §13.3), except a straggler
        // handler returning: its slot is freed ("nothing (the handler was a straggler; its slot is freed)").
        let droppedWhenEnded = Outcome(.none, .closedHandlerRunning)
        let droppedWhenClosed = Outcome(.none, .closed)
        let internalEnd = Outcome(.endCall(.code(.internal), cancelHandler: .streamError), .closedHandlerRunning)

        switch event {
        case .receiveMessage(let endStream):
            // recv MESSAGE, open: deliver; with END_STREAM → half-closed. Half-closed: end with INTERNAL.
            // Call kinds: a single-request handler starts on its one message; a second one → INTERNAL.
            let inbound: State = endStream ? .halfClosed : .open
            return Row(
                idle: Outcome(.startHandler(closeInbound: endStream), inbound),
                open: singleRequest ? internalEnd : Outcome(.deliver(closeInbound: endStream), inbound),
                halfClosed: internalEnd,
                closedHandlerRunning: droppedWhenEnded,
                closed: droppedWhenClosed
            )
        case .receiveHalfClose:
            // recv HALF_CLOSE, open: → half-closed. Half-closed: end with INTERNAL (ended twice).
            // Call kinds: a single-request call ended with zero request messages → INTERNAL; no handler ran.
            return Row(
                idle: Outcome(.endCallAndRelease(.code(.internal)), .closed),
                open: Outcome(.closeInbound, .halfClosed),
                halfClosed: internalEnd,
                closedHandlerRunning: droppedWhenEnded,
                closed: droppedWhenClosed
            )
        case .receiveCancel(let reason):
            // recv CANCEL: cancel the handler with the reason, send nothing → closed. No handler yet: just forget it.
            return Row(
                idle: Outcome(.release, .closed),
                open: Outcome(.cancelHandler(reason), .closedHandlerRunning),
                halfClosed: Outcome(.cancelHandler(reason), .closedHandlerRunning),
                closedHandlerRunning: droppedWhenEnded,
                closed: droppedWhenClosed
            )
        case .deadlineExpired:
            // §8 / §9.3: send CALL_END(DEADLINE_EXCEEDED), cancel the handler (reason deadline exceeded) → closed.
            return Self.endRow(.code(.deadlineExceeded), reason: .deadlineExceeded)
        case .streamError(let status):
            // §13.2: send CALL_END(status), cancel the handler (reason stream error) → closed.
            return Self.endRow(.exactly(status), reason: .streamError)
        case .abort(let status, let reason):
            // §14.1 drain timeout (UNAVAILABLE / shutting down) and resource limits: the server ends the call.
            return Self.endRow(.exactly(status), reason: reason)
        case .handlerWrote:
            // send MESSAGE: allowed while open or half-closed; after the end the message is discarded.
            return Row(
                idle: Outcome(.none, .idle),  // no handler runs that could write
                open: Outcome(.write, .open),
                halfClosed: Outcome(.write, .halfClosed),
                closedHandlerRunning: droppedWhenEnded,
                closed: droppedWhenClosed
            )
        case .handlerFinished(let status):
            // handler returns a status: send CALL_END(status) → closed; as a straggler: free its slot.
            return Row(
                idle: Outcome(.none, .idle),  // no handler runs that could return
                open: Outcome(.endCallAndRelease(.exactly(status)), .closed),
                halfClosed: Outcome(.endCallAndRelease(.exactly(status)), .closed),
                closedHandlerRunning: Outcome(.release, .closed),
                closed: droppedWhenClosed
            )
        case .connectionClosed(let reason):
            // §14.3: every handler is cancelled, nothing is written.
            return Row(
                idle: Outcome(.release, .closed),
                open: Outcome(.cancelHandler(reason), .closedHandlerRunning),
                halfClosed: Outcome(.cancelHandler(reason), .closedHandlerRunning),
                closedHandlerRunning: droppedWhenEnded,
                closed: droppedWhenClosed
            )
        }
    }

    /// A call the server ends itself: CALL_END and the handler cancelled; before the handler started, CALL_END only.
    static func endRow(_ status: StatusPattern, reason: CancelReason) -> Row {
        Row(
            idle: Outcome(.endCallAndRelease(status), .closed),
            open: Outcome(.endCall(status, cancelHandler: reason), .closedHandlerRunning),
            halfClosed: Outcome(.endCall(status, cancelHandler: reason), .closedHandlerRunning),
            closedHandlerRunning: Outcome(.none, .closedHandlerRunning),
            closed: Outcome(.none, .closed)
        )
    }

    // MARK: Tests: the table

    @Test("a new stream: single-request calls wait idle for their message, streaming ones start at once", arguments: [true, false])
    func initialState(singleRequest: Bool) {
        let machine = Self.newMachine(singleRequest: singleRequest)
        #expect(TargetState(machine) == (singleRequest ? .idle : .open))
        #expect(machine.startsHandlerImmediately == !singleRequest)
        #expect(machine.singleRequest == singleRequest)
    }

    @Test("the helper reaches every target state through real transitions", arguments: [true, false])
    func helperReachesTargets(singleRequest: Bool) throws {
        for target in TargetState.allCases {
            let machine = try Self.makeMachine(singleRequest: singleRequest, target: target)
            if target == .idle && !singleRequest {
                #expect(machine == nil)
            } else {
                #expect(machine.map(TargetState.init) == target)
            }
        }
    }

    @Test("the reachable states are exactly the target states (idle only for single-request calls)", arguments: [true, false])
    func reachableStates(singleRequest: Bool) {
        var seen: Set<Machine> = [Self.newMachine(singleRequest: singleRequest)]
        var frontier = Array(seen)
        while let machine = frontier.popLast() {
            for event in Self.allEvents {
                var next = machine
                _ = event.apply(to: &next)
                #expect(next.singleRequest == singleRequest)
                if TargetState(next) == .idle {
                    #expect(TargetState(machine) == .idle, "\(event) led back to idle from \(TargetState(machine))")
                }
                if seen.insert(next).inserted { frontier.append(next) }
            }
        }
        let expected: Set<State> = singleRequest ? Set(State.allCases) : Set(State.allCases).subtracting([.idle])
        #expect(Set(seen.map(TargetState.init)) == expected)
        #expect(seen.count == expected.count)  // nothing but `state` distinguishes two machines of one call kind
    }

    @Test("every (state, event) pair has the outcome the table gives", arguments: [true, false])
    func everyStateEveryEvent(singleRequest: Bool) throws {
        var checked = 0
        for target in TargetState.allCases {
            guard let start = try Self.makeMachine(singleRequest: singleRequest, target: target) else { continue }
            for event in Self.allEvents {
                var machine = start
                let action = event.apply(to: &machine)
                let expected = Self.expectedRow(event, singleRequest: singleRequest)[target]
                #expect(
                    expected.action.matches(action),
                    "singleRequest \(singleRequest), \(target) + \(event): got \(action), expected \(expected.action)"
                )
                #expect(
                    TargetState(machine) == expected.next,
                    "singleRequest \(singleRequest), \(target) + \(event): went to \(TargetState(machine)), expected \(expected.next)"
                )
                #expect(machine.singleRequest == singleRequest)
                checked += 1
            }
        }
        let reachable = singleRequest ? TargetState.allCases.count : TargetState.allCases.count - 1
        #expect(checked == reachable * Self.allEvents.count)
    }

    @Test("the table covers every cancel reason, and a cancelled handler observes the §12.2 status for it")
    func cancelReasonsReachTheHandler() throws {
        let specStatus: [UInt8: StatusCode] = [
            0: .cancelled, 1: .deadlineExceeded, 2: .unavailable, 3: .cancelled, 4: .cancelled,
            5: .resourceExhausted, 6: .internal, 7: .cancelled, 255: .cancelled,
        ]
        for reason in Self.cancelReasons {
            var machine = try #require(try Self.makeMachine(singleRequest: false, target: .open))
            #expect(machine.receiveCancel(reason) == .cancelHandler(reason))
            // The handler sees RPCError.cancelled(reason), whose code is the reason's status.
            #expect(RPCError.cancelled(reason).code == specStatus[reason.rawValue], "reason \(reason)")
            #expect(RPCError.cancelled(reason).cancelReason == reason)
        }
    }

    @Test("different paths to an ended or closed stream leave equal machines", arguments: [true, false])
    func pathsAgree(singleRequest: Bool) throws {
        let ended = try #require(try Self.makeMachine(singleRequest: singleRequest, target: .closedHandlerRunning))
        let closed = try #require(try Self.makeMachine(singleRequest: singleRequest, target: .closed))
        let handlerRunning: [TargetState] = [.open, .halfClosed]
        for target in handlerRunning {
            let start = try #require(try Self.makeMachine(singleRequest: singleRequest, target: target))
            for event: Event in [.deadlineExpired, .streamError(Self.streamErrorStatus), .receiveCancel(.siblingFailed), .connectionClosed(.shuttingDown), .abort(Self.shutdownStatus, .shuttingDown)] {
                var machine = start
                _ = event.apply(to: &machine)
                #expect(machine == ended, "\(target) + \(event)")
                #expect(machine.handlerFinished(.ok) == .release)
                #expect(machine == closed, "\(target) + \(event) + handlerFinished")
            }
            var machine = start
            _ = machine.handlerFinished(Self.handlerError)
            #expect(machine == closed, "\(target) + handlerFinished")
        }
        if singleRequest {
            for event: Event in [.receiveHalfClose, .receiveCancel(.cancelled), .deadlineExpired, .streamError(Self.streamErrorStatus), .connectionClosed(.cancelled)] {
                var machine = Self.newMachine(singleRequest: true)
                _ = event.apply(to: &machine)
                #expect(machine == closed, "idle + \(event)")
            }
        }
    }

    @Test("after closed, every event (and every sequence of three) is .none and the stream stays closed", arguments: [true, false])
    func closedIsTerminal(singleRequest: Bool) throws {
        let closed = try #require(try Self.makeMachine(singleRequest: singleRequest, target: .closed))
        for a in Self.allEvents {
            for b in Self.eventAlphabet {
                for c in Self.eventAlphabet {
                    var machine = closed
                    let actions = [a.apply(to: &machine), b.apply(to: &machine), c.apply(to: &machine)]
                    #expect(actions == [.none, .none, .none], "closed + \(a), \(b), \(c)")
                    #expect(machine == closed)
                }
            }
        }
    }

    // MARK: Tests: lifecycle properties over sequences

    /// Replays events against a machine and a model of the handler task, checking after each step that the stream
    /// ends at most once, is released at most once and only when no handler runs, and that the machine's idea of
    /// whether a handler runs matches the model's.
    struct Lifecycle {
        let singleRequest: Bool
        var machine: Machine
        /// Whether the handler task is running (started and not yet returned).
        var handlerRunning: Bool
        var handlerStarted: Bool
        /// Ends: CALL_END sent (endCall, endCallAndRelease), the client's CANCEL or the connection's loss acted on
        /// (cancelHandler), or a call forgotten before its handler started (a first `.release`).
        var ends = 0
        /// `.release` or `.endCallAndRelease`: the stream is forgotten.
        var releases = 0
        var trace: [Event] = []

        init(singleRequest: Bool) {
            self.singleRequest = singleRequest
            self.machine = CallStateMachineServerTests.newMachine(singleRequest: singleRequest)
            self.handlerRunning = !singleRequest  // the I/O layer starts a streaming handler with the call
            self.handlerStarted = !singleRequest
        }

        static let handlerStates: Set<State> = [.open, .halfClosed, .closedHandlerRunning]
        static let endedStates: Set<State> = [.closedHandlerRunning, .closed]

        /// Applies `event`; returns a description of the first rule it broke, if any.
        mutating func step(_ event: Event) -> String? {
            self.trace.append(event)
            let before = TargetState(self.machine)
            let action = event.apply(to: &self.machine)
            let after = TargetState(self.machine)
            func violation(_ rule: String) -> String {
                "singleRequest \(self.singleRequest): \(rule); \(before) + \(event) → \(action), \(after); trace \(self.trace)"
            }

            if before == .closed && (action != .none || after != .closed) {
                return violation("an event after closed did something")
            }
            switch event {
            case .handlerFinished:
                if !self.handlerRunning {
                    if action != .none || after != before { return violation("no handler runs, yet its return did something") }
                }
                self.handlerRunning = false
            case .handlerWrote:
                if !self.handlerRunning && action != .none { return violation("no handler runs, yet a write was allowed") }
            default:
                break
            }

            switch action {
            case .none:
                break
            case .startHandler:
                if !self.singleRequest || self.handlerStarted || self.ends > 0 {
                    return violation("startHandler for a streaming call, a second time, or after the end")
                }
                self.handlerStarted = true
                self.handlerRunning = true
            case .deliver:
                if self.singleRequest || !self.handlerRunning || self.ends > 0 { return violation("deliver without a running streaming handler") }
            case .closeInbound:
                if !self.handlerRunning || self.ends > 0 { return violation("closeInbound without a running handler") }
            case .write:
                if !self.handlerRunning || self.ends > 0 { return violation("write after the end or without a handler") }
            case .endCall:
                self.ends += 1
                if !self.handlerRunning { return violation("endCall cancels a handler, but none runs") }
            case .cancelHandler:
                self.ends += 1
                if !self.handlerRunning { return violation("cancelHandler, but no handler runs") }
            case .endCallAndRelease:
                self.ends += 1
                self.releases += 1
                if self.handlerRunning { return violation("released while the handler runs") }
            case .release:
                self.releases += 1
                if self.ends == 0 {
                    // Forgotten before the handler started (client CANCEL, connection loss): that is its end.
                    self.ends += 1
                    if self.handlerStarted { return violation("released a started call without ending it") }
                }
                if self.handlerRunning { return violation("released while the handler runs") }
            }

            if self.ends > 1 { return violation("the stream ended twice") }
            if self.releases > 1 { return violation("the stream was released twice") }
            if self.handlerRunning != Self.handlerStates.contains(after) {
                return violation("the machine's state disagrees with whether the handler runs (\(self.handlerRunning))")
            }
            if (self.ends == 1) != Self.endedStates.contains(after) { return violation("ended-ness disagrees with the state") }
            if (self.releases == 1) != (after == .closed) { return violation("released-ness disagrees with the state") }
            return nil
        }

        /// Ends whatever is left the way a connection does: it closes, then the (cancelled) handler returns.
        mutating func windDown() -> String? {
            if let failure = self.step(.connectionClosed(.cancelled)) { return failure }
            if self.handlerRunning, let failure = self.step(.handlerFinished(.ok)) { return failure }
            if TargetState(self.machine) != .closed || self.ends != 1 || self.releases != 1 {
                return "singleRequest \(self.singleRequest): not ended and released exactly once (\(TargetState(self.machine)), ends \(self.ends), releases \(self.releases)); trace \(self.trace)"
            }
            return nil
        }
    }

    @Test("random sequences: every stream ends exactly once and is released exactly once, after its handler", arguments: [true, false])
    func randomSequences(singleRequest: Bool) {
        var generator = SeededGenerator(seed: singleRequest ? 0x5EED_0001 : 0x5EED_0002)
        var failures: [String] = []
        var endedBeforeWindDown = 0
        for _ in 0..<5_000 {
            var lifecycle = Lifecycle(singleRequest: singleRequest)
            var failure: String? = nil
            for _ in 0..<Int.random(in: 1...24, using: &generator) {
                // Favour the events that keep a call alive, so long sequences stay interesting.
                let event = Bool.random(using: &generator)
                    ? [Event.receiveMessage(endStream: false), .handlerWrote, .receiveMessage(endStream: true), .receiveHalfClose].randomElement(using: &generator)!
                    : Self.allEvents.randomElement(using: &generator)!
                failure = lifecycle.step(event)
                if failure != nil { break }
            }
            if lifecycle.ends == 1 { endedBeforeWindDown += 1 }
            if failure == nil { failure = lifecycle.windDown() }
            if let failure, failures.count < 10 { failures.append(failure) }
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
        #expect(endedBeforeWindDown > 1_000)  // the sequences exercise real ends, not only the wind-down
    }

    @Test("every sequence of up to five events keeps the lifecycle rules", arguments: [true, false])
    func exhaustiveShortSequences(singleRequest: Bool) {
        var failures: [String] = []
        var sequences = 0
        func explore(_ lifecycle: Lifecycle, depth: Int) {
            var ended = lifecycle
            sequences += 1
            if let failure = ended.windDown() {
                if failures.count < 10 { failures.append(failure) }
                return
            }
            guard depth > 0 else { return }
            for event in Self.eventAlphabet {
                var next = lifecycle
                if let failure = next.step(event) {
                    if failures.count < 10 { failures.append(failure) }
                    continue
                }
                explore(next, depth: depth - 1)
            }
        }
        explore(Lifecycle(singleRequest: singleRequest), depth: 5)
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
        #expect(sequences == (0...5).reduce(0) { $0 + Self.pow(Self.eventAlphabet.count, $1) })
    }

    static func pow(_ base: Int, _ exponent: Int) -> Int {
        (0..<exponent).reduce(1) { value, _ in value * base }
    }
}
