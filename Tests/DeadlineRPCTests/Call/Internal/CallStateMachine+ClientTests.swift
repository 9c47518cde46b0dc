import NIOCore
import Testing
import Wire

@testable import DeadlineRPC

/// The client half of the call machine as a pure value: every (state, event) pair is checked against a table
/// written from docs/PROTOCOL.md §9.3 (client side), §9.3 "Call kinds" and §12.2, for single-response (unary,
/// client-streaming) and multi-response (server-streaming, bidirectional) calls; then thousands of event sequences
/// check that every call gets exactly one terminal action.
///
/// The machine has hidden facts besides `state`: whether a response message arrived, and whether a cancel overtook
/// the start. The target states spell them out, so the table can say what a second response, an `OK` without one,
/// or the start after a cancel does. Events the runtime never feeds in a state ("our bug") are checked too, with
/// the debug trap turned off: they must change nothing.
@Suite("CallStateMachine.Client: every (state, event) pair matches PROTOCOL.md §9.3", .timeLimit(.minutes(5)))
struct CallStateMachineClientTests {
    typealias Machine = CallStateMachine.Client
    typealias State = CallStateMachine.Client.State
    typealias Action = CallStateMachine.Client.Action

    // MARK: Reaching each state through real transitions

    enum TargetState: CaseIterable, CustomStringConvertible {
        /// Made, not yet handed to the manager.
        case idle
        /// Made, and cancelled (`cancelled`, by the caller) before the manager took it.
        case idleCancelled
        /// Held by the manager, no stream yet.
        case queued
        /// Open, no response yet.
        case open
        /// Open, a response message arrived.
        case openResponded
        /// Half-closed by the client, no response yet.
        case halfClosed
        /// Half-closed by the client, a response message arrived.
        case halfClosedResponded
        /// Ended.
        case closed

        var state: State {
            switch self {
            case .idle, .idleCancelled: return .idle
            case .queued: return .queued
            case .open, .openResponded: return .open
            case .halfClosed, .halfClosedResponded: return .halfClosed
            case .closed: return .closed
            }
        }

        var description: String {
            switch self {
            case .idle: return "idle"
            case .idleCancelled: return "idle (cancelled)"
            case .queued: return "queued"
            case .open: return "open"
            case .openResponded: return "open (responded)"
            case .halfClosed: return "halfClosed"
            case .halfClosedResponded: return "halfClosed (responded)"
            case .closed: return "closed"
            }
        }
    }

    /// A fresh machine, with the debug trap for our bugs off (the table feeds those events on purpose).
    static func newMachine(singleResponse: Bool) -> Machine {
        Machine(singleResponse: singleResponse, skipAssertions: true)
    }

    /// A machine whose call is on a stream: queued by the manager, then started by the connection.
    static func openMachine(singleResponse: Bool) -> Machine {
        var machine = Self.newMachine(singleResponse: singleResponse)
        _ = machine.queued()
        machine.streamOpened()
        return machine
    }

    /// A machine in `target`, reached through the transitions the manager and the connection drive; an
    /// `idleCancelled` one was cancelled for `pendingReason`.
    static func makeMachine(singleResponse: Bool, target: TargetState, pendingReason: CancelReason = .cancelled) throws -> Machine {
        var machine = Self.newMachine(singleResponse: singleResponse)
        try #require(machine.state == .idle)
        switch target {
        case .idle:
            return machine
        case .idleCancelled:
            try #require(machine.callerCancelled(pendingReason) == .none)
            return machine
        case .queued:
            try #require(machine.queued() == .none)
            return machine
        default:
            break
        }
        try #require(machine.queued() == .none)
        machine.streamOpened()
        try #require(machine.state == .open)
        switch target {
        case .idle, .idleCancelled, .queued, .open:
            break
        case .openResponded:
            try #require(machine.receiveMessage() == .deliver)
        case .halfClosed:
            try #require(machine.send(end: true) == .write)
        case .halfClosedResponded:
            try #require(machine.receiveMessage() == .deliver)
            try #require(machine.send(end: true) == .write)
        case .closed:
            try #require(machine.receiveCallEnd(Self.serverError) == .finish(Self.serverError))
        }
        try #require(machine.state == target.state)
        return machine
    }

    // MARK: Events

    static let serverError = Status(code: .notFound, message: "No such record.")
    static let streamErrorStatus = Status(code: .invalidArgument, message: "The server's reply was refused: bad metadata key.")
    static let connectionLost = Status(code: .unavailable, message: "The connection to the server was lost.")
    static let notSentStatus = Status(code: .unavailable, message: "The client is closed; the call was not sent.")
    static let cancelReasons: [CancelReason] = (0...6).map { CancelReason(rawValue: $0) } + [CancelReason(rawValue: 7), CancelReason(rawValue: 255)]

    enum Event: Hashable, CustomStringConvertible {
        case queued
        case streamOpened
        case notSent(Status)
        case halfClose
        case receiveMessage
        case receiveCallEnd(Status)
        case receiveCancel(CancelReason)
        case deadlineExpired
        case callerCancelled(CancelReason)
        case streamError(Status)
        case connectionClosed(Status)
        case send(end: Bool)

        func apply(to machine: inout Machine) -> Action {
            switch self {
            case .queued: return machine.queued()
            case .streamOpened:
                machine.streamOpened()
                return .none
            case .notSent(let status): return machine.notSent(status)
            case .halfClose: return machine.halfClose()
            case .receiveMessage: return machine.receiveMessage()
            case .receiveCallEnd(let status): return machine.receiveCallEnd(status)
            case .receiveCancel(let reason): return machine.receiveCancel(reason)
            case .deadlineExpired: return machine.deadlineExpired()
            case .callerCancelled(let reason): return machine.callerCancelled(reason)
            case .streamError(let status): return machine.streamError(status)
            case .connectionClosed(let status): return machine.connectionClosed(status)
            case .send(let end): return machine.send(end: end)
            }
        }

        var description: String {
            switch self {
            case .queued: return "queued"
            case .streamOpened: return "streamOpened"
            case .notSent(let status): return "notSent(\(status.code))"
            case .halfClose: return "halfClose"
            case .receiveMessage: return "receiveMessage"
            case .receiveCallEnd(let status): return "receiveCallEnd(\(status.code))"
            case .receiveCancel(let reason): return "receiveCancel(\(reason))"
            case .deadlineExpired: return "deadlineExpired"
            case .callerCancelled(let reason): return "callerCancelled(\(reason))"
            case .streamError(let status): return "streamError(\(status.code))"
            case .connectionClosed(let status): return "connectionClosed(\(status.code))"
            case .send(let end): return "send(end: \(end))"
            }
        }
    }

    static let allEvents: [Event] =
        [
            .queued,
            .streamOpened,
            .notSent(Self.notSentStatus),
            .halfClose,
            .receiveMessage,
            .receiveCallEnd(.ok),
            .receiveCallEnd(Status(code: .ok, message: "fine")),
            .receiveCallEnd(Self.serverError),
            .receiveCallEnd(Status(code: .internal)),
        ]
        + Self.cancelReasons.map { .receiveCancel($0) }
        + [.deadlineExpired]
        + Self.cancelReasons.map { .callerCancelled($0) }
        + [
            .streamError(Self.streamErrorStatus),
            .connectionClosed(Self.connectionLost),
            .send(end: false),
            .send(end: true),
        ]

    static let eventAlphabet: [Event] = [
        .queued, .streamOpened, .receiveMessage, .receiveCallEnd(.ok), .receiveCallEnd(Self.serverError), .receiveCancel(.shuttingDown),
        .deadlineExpired, .callerCancelled(.siblingFailed), .streamError(Self.streamErrorStatus),
        .connectionClosed(Self.connectionLost), .send(end: false), .send(end: true),
    ]

    /// §12.2, copied from the spec's table: the status a call cancelled for each reason ends with.
    static func specStatus(_ reason: CancelReason) -> StatusCode {
        switch reason.rawValue {
        case 0: return .cancelled
        case 1: return .deadlineExceeded
        case 2: return .unavailable
        case 3: return .cancelled
        case 4: return .cancelled
        case 5: return .resourceExhausted
        case 6: return .internal
        default: return .cancelled
        }
    }

    // MARK: The expected table

    enum StatusPattern: CustomStringConvertible {
        case exactly(Status)
        /// The machine writes the status itself: this code and some message.
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
        case deliver
        case write
        case refuse
        case dropLateFrame
        /// An event the runtime never feeds in this state: nothing happens (a debug trap, off in these tests).
        case ourBug
        case finish(Status)
        case fail(StatusPattern, CancelReason?)
        case failAndCancel(StatusPattern, CancelReason)

        func matches(_ action: Action) -> Bool {
            switch (self, action) {
            case (.none, .none), (.deliver, .deliver), (.write, .write), (.refuse, .refuse), (.dropLateFrame, .dropLateFrame), (.ourBug, .none):
                return true
            case (.finish(let a), .finish(let b)): return a == b
            case (.fail(let pattern, let a), .fail(let status, let b)): return a == b && pattern.matches(status)
            case (.failAndCancel(let pattern, let a), .failAndCancel(let status, let b)): return a == b && pattern.matches(status)
            default: return false
            }
        }

        var description: String {
            switch self {
            case .none: return "none"
            case .deliver: return "deliver"
            case .write: return "write"
            case .refuse: return "refuse"
            case .dropLateFrame: return "dropLateFrame"
            case .ourBug: return "ourBug (nothing)"
            case .finish(let status): return "finish(\(status))"
            case .fail(let status, let reason): return "fail(\(status), \(reason.map { "\($0)" } ?? "nil"))"
            case .failAndCancel(let status, let reason): return "failAndCancel(\(status), \(reason))"
            }
        }
    }

    struct Outcome {
        var action: Expected
        var next: TargetState
        /// For `idleCancelled`: the reason the pending cancel keeps (the first cancel's).
        var pendingReason: CancelReason
        init(_ action: Expected, _ next: TargetState, pendingReason: CancelReason = .cancelled) {
            self.action = action
            self.next = next
            self.pendingReason = pendingReason
        }
    }

    struct Row {
        var idle = Outcome(.ourBug, .idle)
        var idleCancelled = Outcome(.ourBug, .idleCancelled)
        var queued = Outcome(.ourBug, .queued)
        var open = Outcome(.ourBug, .open)
        var openResponded = Outcome(.ourBug, .openResponded)
        var halfClosed = Outcome(.ourBug, .halfClosed)
        var halfClosedResponded = Outcome(.ourBug, .halfClosedResponded)
        var closed = Outcome(.ourBug, .closed)

        subscript(target: TargetState) -> Outcome {
            switch target {
            case .idle: return self.idle
            case .idleCancelled: return self.idleCancelled
            case .queued: return self.queued
            case .open: return self.open
            case .openResponded: return self.openResponded
            case .halfClosed: return self.halfClosed
            case .halfClosedResponded: return self.halfClosedResponded
            case .closed: return self.closed
            }
        }

        /// The same ending in every state with a stream; `closed` says what happens after the end.
        static func onStream(_ action: Expected, closed: Outcome) -> Row {
            let ends = Outcome(action, .closed)
            var row = Row(open: ends, openResponded: ends, halfClosed: ends, halfClosedResponded: ends)
            row.closed = closed
            return row
        }

        /// A frame of the server's: the same ending on a stream, a late frame once ended, and never without a stream.
        static func fromServer(_ action: Expected) -> Row {
            .onStream(action, closed: Outcome(.dropLateFrame, .closed))
        }
    }

    static func expectedRow(_ event: Event, singleResponse: Bool) -> Row {
        switch event {
        case .queued:
            // The manager takes the call: it waits for a connection (§9.3 idle); a cancel that overtook the start
            // ends it now, nothing sent.
            return Row(idle: Outcome(.none, .queued), idleCancelled: Outcome(.fail(.code(.cancelled), .cancelled), .closed))
        case .streamOpened:
            // send CALL_START: idle → open.
            return Row(queued: Outcome(.none, .open))
        case .notSent(let status):
            // The manager could not send it (no connection, client closed, budget spent): fail, nothing written.
            return Row(queued: Outcome(.fail(.exactly(status), nil), .closed))
        case .halfClose:
            // send HALF_CLOSE: open → half-closed; never again after it or the end (a no-op, not a bug).
            return Row(
                open: Outcome(.write, .halfClosed),
                openResponded: Outcome(.write, .halfClosedResponded),
                halfClosed: Outcome(.none, .halfClosed),
                halfClosedResponded: Outcome(.none, .halfClosedResponded),
                closed: Outcome(.none, .closed)
            )
        case .receiveMessage:
            // recv MESSAGE: deliver. Call kinds: a second response on a single-response call → fail INTERNAL and
            // send CANCEL(stream error) (the stream is still open). Closed: drop quietly.
            let second = singleResponse
                ? Outcome(.failAndCancel(.code(.internal), .streamError), .closed)
                : nil
            return Row(
                open: Outcome(.deliver, .openResponded),
                openResponded: second ?? Outcome(.deliver, .openResponded),
                halfClosed: Outcome(.deliver, .halfClosedResponded),
                halfClosedResponded: second ?? Outcome(.deliver, .halfClosedResponded),
                closed: Outcome(.dropLateFrame, .closed)
            )
        case .receiveCallEnd(let status):
            // recv CALL_END: complete the call with the status → closed. Call kinds: CALL_END(OK) without a
            // response on a single-response call → fail INTERNAL; the stream already ended, so no CANCEL.
            let finish = Outcome(.finish(status), .closed)
            let noResponse = status.code == .ok && singleResponse ? Outcome(.fail(.code(.internal), nil), .closed) : finish
            return Row(
                open: noResponse,
                openResponded: finish,
                halfClosed: noResponse,
                halfClosedResponded: finish,
                closed: Outcome(.dropLateFrame, .closed)
            )
        case .receiveCancel(let reason):
            // recv CANCEL: fail with the reason's status (§12.2), send nothing.
            return .fromServer(.fail(.code(Self.specStatus(reason)), reason))
        case .deadlineExpired:
            // client's deadline passes: fail DEADLINE_EXCEEDED, send CANCEL(deadline exceeded); while queued,
            // nothing was written, so nothing is sent.
            var row = Row.onStream(.failAndCancel(.code(.deadlineExceeded), .deadlineExceeded), closed: Outcome(.ourBug, .closed))
            row.queued = Outcome(.fail(.code(.deadlineExceeded), .deadlineExceeded), .closed)
            return row
        case .callerCancelled(let reason):
            // send CANCEL (caller cancelled, …): fail with the reason's status. Before a stream: nothing is sent
            // (§10.3), and before the manager took it the cancel waits for it. After the end: nothing.
            var row = Row.onStream(.failAndCancel(.code(Self.specStatus(reason)), reason), closed: Outcome(.none, .closed))
            row.idle = Outcome(.none, .idleCancelled, pendingReason: reason)
            row.idleCancelled = Outcome(.none, .idleCancelled)
            row.queued = Outcome(.fail(.code(Self.specStatus(reason)), reason), .closed)
            return row
        case .streamError(let status):
            // stream error in a received frame: fail with the status, send CANCEL(stream error).
            return .fromServer(.failAndCancel(.exactly(status), .streamError))
        case .connectionClosed(let status):
            // connection lost / GOAWAY above this id: fail (UNAVAILABLE), nothing can be sent.
            return .onStream(.fail(.exactly(status), nil), closed: Outcome(.ourBug, .closed))
        case .send(let end):
            // send MESSAGE: allowed while open; refused after half-close or the end (the caller's mistake).
            return Row(
                open: Outcome(.write, end ? .halfClosed : .open),
                openResponded: Outcome(.write, end ? .halfClosedResponded : .openResponded),
                halfClosed: Outcome(.refuse, .halfClosed),
                halfClosedResponded: Outcome(.refuse, .halfClosedResponded),
                closed: Outcome(.refuse, .closed)
            )
        }
    }

    // MARK: Tests: the table

    @Test("the helper reaches every target state through real transitions", arguments: [true, false])
    func helperReachesTargets(singleResponse: Bool) throws {
        for target in TargetState.allCases {
            let machine = try Self.makeMachine(singleResponse: singleResponse, target: target)
            #expect(machine.state == target.state)
            #expect(machine.isClosed == (target == .closed))
            #expect(machine.singleResponse == singleResponse)
        }
    }

    @Test("every (state, event) pair has the outcome the table gives", arguments: [true, false])
    func everyStateEveryEvent(singleResponse: Bool) throws {
        var checked = 0
        for target in TargetState.allCases {
            let start = try Self.makeMachine(singleResponse: singleResponse, target: target)
            for event in Self.allEvents {
                var machine = start
                let action = event.apply(to: &machine)
                let expected = Self.expectedRow(event, singleResponse: singleResponse)[target]
                #expect(
                    expected.action.matches(action),
                    "singleResponse \(singleResponse), \(target) + \(event): got \(action), expected \(expected.action)"
                )
                if expected.next == .closed {
                    #expect(machine.state == .closed, "singleResponse \(singleResponse), \(target) + \(event): went to \(machine.state)")
                } else {
                    // Compares the hidden "responded" fact too.
                    let next = try Self.makeMachine(singleResponse: singleResponse, target: expected.next, pendingReason: expected.pendingReason)
                    #expect(machine == next, "singleResponse \(singleResponse), \(target) + \(event): expected \(expected.next), got \(machine)")
                }
                checked += 1
            }
        }
        #expect(checked == TargetState.allCases.count * Self.allEvents.count)
    }

    @Test("the reachable machines are exactly the target states", arguments: [true, false])
    func reachableStates(singleResponse: Bool) throws {
        var seen: Set<Machine> = [Self.newMachine(singleResponse: singleResponse)]
        var frontier = Array(seen)
        while let machine = frontier.popLast() {
            for event in Self.allEvents {
                var next = machine
                _ = event.apply(to: &next)
                if seen.insert(next).inserted { frontier.append(next) }
            }
        }
        // A cancel that overtook the start keeps its reason (the first one): one idle machine per reason.
        let cancelledFirst = Self.cancelReasons.map { reason in
            var machine = Self.newMachine(singleResponse: singleResponse)
            _ = machine.callerCancelled(reason)
            return machine
        }
        let open = try TargetState.allCases.filter { $0 != .closed }.map { try Self.makeMachine(singleResponse: singleResponse, target: $0) }
            + cancelledFirst
        #expect(Set(open).isSubset(of: seen))
        #expect(Set(seen.filter { !$0.isClosed }) == Set(open))
        #expect(Set(seen.map(\.state)) == Set(State.allCases))
    }

    @Test("a single-response call: one response then OK finishes; OK without one, or two, fail INTERNAL")
    func singleResponseCallKind() {
        var good = Self.openMachine(singleResponse: true)
        #expect(good.send(end: true) == .write)
        #expect(good.receiveMessage() == .deliver)
        #expect(good.receiveCallEnd(.ok) == .finish(.ok))

        var empty = Self.openMachine(singleResponse: true)
        guard case .fail(let status, let reason) = empty.receiveCallEnd(.ok) else {
            Issue.record("OK without a response did not fail")
            return
        }
        #expect(status.code == .internal)
        #expect(reason == nil)  // the server already ended the stream: nothing to cancel

        var two = Self.openMachine(singleResponse: true)
        #expect(two.receiveMessage() == .deliver)
        guard case .failAndCancel(let second, .streamError) = two.receiveMessage() else {
            Issue.record("a second response did not fail and cancel")
            return
        }
        #expect(second.code == .internal)
        #expect(two.receiveCallEnd(.ok) == .dropLateFrame)  // the server's CALL_END crosses our CANCEL: dropped, counted

        var errorOnly = Self.openMachine(singleResponse: true)
        #expect(errorOnly.receiveCallEnd(Self.serverError) == .finish(Self.serverError))  // non-OK needs no message
    }

    @Test("a message after the server's END_STREAM ends the call INTERNAL and cancels it (PROTOCOL.md §9.3)", arguments: [true, false])
    func messageAfterServerEndStream(singleResponse: Bool) {
        var machine = Self.openMachine(singleResponse: singleResponse)
        #expect(machine.receiveMessage(endStream: true) == .deliver)
        guard case .failAndCancel(let status, .streamError) = machine.receiveMessage() else {
            Issue.record("a message after END_STREAM was not refused")
            return
        }
        #expect(status.code == .internal)
        #expect(status.message == "The server sent a message after its END_STREAM.")
        #expect(machine.isClosed)

        var streaming = Self.openMachine(singleResponse: false)
        #expect(streaming.receiveMessage(endStream: false) == .deliver)
        #expect(streaming.receiveMessage(endStream: true) == .deliver)
        #expect(streaming.receiveCallEnd(.ok) == .finish(.ok), "END_STREAM is optional and CALL_END still ends the call")
    }

    @Test("a multi-response call delivers any number of responses, and OK with none finishes")
    func multiResponseCallKind() {
        var machine = Self.openMachine(singleResponse: false)
        for _ in 0..<1_000 { #expect(machine.receiveMessage() == .deliver) }
        #expect(machine.receiveCallEnd(.ok) == .finish(.ok))
        var none = Self.openMachine(singleResponse: false)
        #expect(none.receiveCallEnd(.ok) == .finish(.ok))
    }

    // MARK: Tests: exactly one terminal action per call

    struct Lifecycle {
        let singleResponse: Bool
        var machine: Machine
        var terminals = 0
        var delivers = 0
        var outboundOpen = true
        var trace: [Event] = []

        init(singleResponse: Bool) {
            self.singleResponse = singleResponse
            self.machine = CallStateMachineClientTests.newMachine(singleResponse: singleResponse)
        }

        mutating func step(_ event: Event) -> String? {
            self.trace.append(event)
            let before = self.machine.state
            let action = event.apply(to: &self.machine)
            let after = self.machine.state
            func violation(_ rule: String) -> String {
                "singleResponse \(self.singleResponse): \(rule); \(before) + \(event) → \(action), \(after); trace \(self.trace)"
            }
            if before == .closed && after != .closed { return violation("an event after the end reopened the call") }
            switch action {
            case .none:
                break
            case .refuse:
                guard case .send = event, !self.outboundOpen || self.terminals > 0 else {
                    return violation("refused a message while the request stream was open")
                }
            case .dropLateFrame:
                if before != .closed { return violation("dropped a frame as late before the end") }
            case .deliver:
                self.delivers += 1
                if self.terminals > 0 { return violation("delivered after the end") }
                if self.singleResponse && self.delivers > 1 { return violation("delivered a second response on a single-response call") }
            case .write:
                guard self.outboundOpen, self.terminals == 0 else { return violation("wrote after half-close or the end") }
                switch event {
                case .send(let end): if end { self.outboundOpen = false }
                case .halfClose: self.outboundOpen = false
                default: return violation("wrote for an event that is not the caller's")
                }
            case .finish, .fail, .failAndCancel:
                self.terminals += 1
                if after != .closed { return violation("a terminal action left the stream open") }
                if before == .closed { return violation("an event after the end ended the call again") }
            }
            if case .failAndCancel(_, let reason) = action, case .receiveCancel = event {
                return violation("answered the server's CANCEL with a CANCEL (\(reason))")
            }
            if case .failAndCancel = action, case .receiveCallEnd = event {
                return violation("cancelled a stream the server already ended")
            }
            if case .failAndCancel = action, before == .idle || before == .queued {
                return violation("sent CANCEL for a call whose CALL_START was never written")
            }
            if self.terminals > 1 { return violation("a second terminal action") }
            if (self.terminals == 1) != (after == .closed) { return violation("terminal-ness disagrees with the state") }
            if after == .halfClosed && self.outboundOpen { return violation("half-closed without a write") }
            return nil
        }

        /// Ends whatever is left the way the runtime does in each state: the manager takes an idle call (ending a
        /// cancelled one) and refuses a queued one (the client closing), the connection's loss ends one on a stream.
        mutating func windDown() -> String? {
            if self.machine.state == .idle, let failure = self.step(.queued) { return failure }
            if self.machine.state == .queued, let failure = self.step(.notSent(CallStateMachineClientTests.notSentStatus)) {
                return failure
            }
            if self.machine.isOnStream, let failure = self.step(.connectionClosed(CallStateMachineClientTests.connectionLost)) {
                return failure
            }
            if self.terminals != 1 || !self.machine.isClosed {
                return "singleResponse \(self.singleResponse): \(self.terminals) terminal actions; trace \(self.trace)"
            }
            return nil
        }
    }

    @Test("random sequences: exactly one terminal action per call, nothing after it", arguments: [true, false])
    func randomSequences(singleResponse: Bool) {
        var generator = SeededGenerator(seed: singleResponse ? 0xC11E_0001 : 0xC11E_0002)
        var failures: [String] = []
        var endedBeforeWindDown = 0
        for _ in 0..<5_000 {
            var lifecycle = Lifecycle(singleResponse: singleResponse)
            var failure: String? = nil
            for _ in 0..<Int.random(in: 1...24, using: &generator) {
                let event = Bool.random(using: &generator)
                    ? [Event.queued, .streamOpened, .receiveMessage, .send(end: false), .send(end: true)].randomElement(using: &generator)!
                    : Self.allEvents.randomElement(using: &generator)!
                failure = lifecycle.step(event)
                if failure != nil { break }
            }
            if lifecycle.terminals == 1 { endedBeforeWindDown += 1 }
            if failure == nil { failure = lifecycle.windDown() }
            if let failure, failures.count < 10 { failures.append(failure) }
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
        #expect(endedBeforeWindDown > 1_000)
    }

    @Test("every sequence of up to five events has exactly one terminal action", arguments: [true, false])
    func exhaustiveShortSequences(singleResponse: Bool) {
        var failures: [String] = []
        var sequences = 0
        func explore(_ lifecycle: Lifecycle, depth: Int) {
            sequences += 1
            var ended = lifecycle
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
        explore(Lifecycle(singleResponse: singleResponse), depth: 5)
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
        #expect(sequences == (0...5).reduce(0) { total, depth in total + (0..<depth).reduce(1) { value, _ in value * Self.eventAlphabet.count } })
    }
}
