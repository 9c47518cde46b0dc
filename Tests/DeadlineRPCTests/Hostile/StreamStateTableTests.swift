import DeadlineRPC
import Foundation
import NIOCore
import Testing
import Wire

/// The server half of PROTOCOL.md §9.3's state table, one cell per (event, state), each with the outcome the test
/// drives over a raw connection. ``specSays`` is how the spec's cell begins: `tableMirrorsTheSpec` parses the
/// markdown and fails if a cell, a row or a column changed, so this mirror and the spec cannot drift apart.
enum ServerStateTable {
    /// The table's columns.
    enum State: String, Sendable, CaseIterable {
        case idle
        case open
        case halfClosed = "half-closed (client)"
        case closed
    }

    /// How a closed stream got closed: the frame must be dropped either way.
    enum ClosedVia: String, Sendable {
        /// The client cancelled it and, in the same write, sent the frame: the handler is still winding down.
        case cancelledHandlerWindingDown = "just cancelled, handler winding down"
        /// The call completed and was forgotten.
        case completed = "completed and forgotten"
    }

    /// What the server must do.
    enum Outcome: Sendable, Equatable {
        /// `GOAWAY(PROTOCOL_ERROR)` with the last seen stream id, then close.
        case protocolError
        /// The call starts (its handler runs).
        case callStarts
        /// The message reaches the handler (the `count` handler answers `1` after the client's `HALF_CLOSE`).
        case delivered
        /// The handler's request stream ends (the `count` handler answers `0` at once).
        case halfClosed
        /// Nothing sent for the stream; the stream stays open (its handler still runs).
        case accepted
        /// The handler is cancelled; nothing is sent.
        case handlerCancelled
        /// `CALL_END` with this status (and the message, when given); a running handler is cancelled.
        case callEnd(StatusCode, String?)
        /// Nothing sent for the stream; the connection lives on.
        case dropped
        /// A local event a raw peer cannot cause, or "—" (cannot happen); covered by
        /// `CallStateMachineServerTests` and the end-to-end suites.
        case notDriven(String)
    }

    /// One cell of the table.
    struct Cell: Sendable, CustomTestStringConvertible {
        /// The row label, verbatim from the spec.
        let event: String
        /// Which frame of the row is sent (a row may name two frame types).
        let variant: String
        let state: State
        var closedVia: ClosedVia? = nil
        /// How the spec's cell text begins.
        let specSays: String
        let outcome: Outcome

        var testDescription: String {
            "\(self.variant) on \(self.state.rawValue)\(self.closedVia.map { " (\($0.rawValue))" } ?? "") → \(self.specSays)"
        }
    }

    static let recvCallStart = "recv `CALL_START` (valid odd id > last seen)"
    static let recvMessage = "recv `MESSAGE` / `MESSAGE_CONTINUATION`"
    static let recvHalfClose = "recv `HALF_CLOSE`"
    static let recvCredit = "recv `CREDIT`"
    static let recvCancel = "recv `CANCEL`"
    static let recvCallEnd = "recv `CALL_END`"
    static let streamError = "stream error in a received frame ([§13.2](#132-stream-level-errors-one-call-ends))"
    static let deadline = "server's deadline for the call passes"
    static let handlerReturns = "handler returns a status"
    static let sendMessage = "send `MESSAGE`"
    static let sendCancel = "send `CANCEL`"

    /// Every row of the spec, in order, with its four cells (idle, open, half-closed, closed): how the spec's cell
    /// begins, and the outcome driven.
    static let rows: [(event: String, variants: [String], cells: [(String, Outcome)])] = [
        (recvCallStart, ["CALL_START"], [
            ("→ open", .callStarts), ("PE", .protocolError), ("PE", .protocolError), ("PE", .protocolError),
        ]),
        (recvMessage, ["MESSAGE", "MESSAGE_CONTINUATION"], [
            ("PE", .protocolError),
            ("deliver", .delivered),
            ("end with `INTERNAL`", .callEnd(.internal, "The client sent a message after ending its stream.")),
            ("drop quietly", .dropped),
        ]),
        (recvHalfClose, ["HALF_CLOSE"], [
            ("PE", .protocolError),
            ("→ half-closed", .halfClosed),
            ("end with `INTERNAL`", .callEnd(.internal, "The client ended its stream twice.")),
            ("drop quietly", .dropped),
        ]),
        (recvCredit, ["CREDIT"], [
            ("PE", .protocolError), ("add to send credit", .accepted), ("add to send credit", .accepted), ("drop quietly", .dropped),
        ]),
        (recvCancel, ["CANCEL"], [
            ("PE", .protocolError), ("cancel the handler", .handlerCancelled), ("same → closed", .handlerCancelled), ("drop quietly", .dropped),
        ]),
        (recvCallEnd, ["CALL_END"], [
            ("PE (role)", .protocolError), ("PE (role)", .protocolError), ("PE (role)", .protocolError), ("PE (role)", .protocolError),
        ]),
        (streamError, ["stream error"], [
            ("send `CALL_END(status)`", .callEnd(.invalidArgument, nil)),
            ("send `CALL_END(status)`", .callEnd(.resourceExhausted, nil)),
            ("end with `INTERNAL`", .callEnd(.internal, "The client sent a message after ending its stream.")),
            ("drop quietly", .dropped),
        ]),
        (deadline, ["deadline"], [
            ("—", .notDriven("no call, no deadline")),
            ("send `CALL_END(DEADLINE_EXCEEDED)`", .callEnd(.deadlineExceeded, "The call's deadline passed on the server.")),
            ("same → closed", .callEnd(.deadlineExceeded, "The call's deadline passed on the server.")),
            ("—", .notDriven("an ended call has no deadline")),
        ]),
        (handlerReturns, ["handler returns"], [
            ("—", .notDriven("no handler")),
            ("`OK`: send remaining messages", .notDriven("a local event: every end-to-end call; an error end is ErrorEndFlowControlTests")),
            ("same → closed", .notDriven("a local event: every end-to-end call")),
            ("nothing", .notDriven("a local event: straggler tests")),
        ]),
        (sendMessage, ["send MESSAGE"], [
            ("never", .notDriven("a local action")), ("allowed", .notDriven("a local action")),
            ("allowed", .notDriven("a local action")), ("never", .notDriven("a local action")),
        ]),
        (sendCancel, ["send CANCEL"], [
            ("never", .notDriven("a local action")), ("→ closed", .notDriven("a local action")),
            ("→ closed", .notDriven("a local action")), ("never", .notDriven("a local action")),
        ]),
    ]

    /// Every cell, one per frame variant; the closed column twice (just cancelled, and completed).
    static let cells: [Cell] = rows.flatMap { row in
        row.variants.flatMap { variant in
            zip(State.allCases, row.cells).flatMap { state, cell -> [Cell] in
                if state == .closed {
                    return [ClosedVia.cancelledHandlerWindingDown, .completed].map {
                        Cell(event: row.event, variant: variant, state: state, closedVia: $0, specSays: cell.0, outcome: cell.1)
                    }
                }
                return [Cell(event: row.event, variant: variant, state: state, specSays: cell.0, outcome: cell.1)]
            }
        }
    }

    /// The cells a raw client drives.
    static let drivenCells: [Cell] = cells.filter {
        if case .notDriven = $0.outcome { return false }
        return true
    }

    /// The server-side table of PROTOCOL.md §9.3, parsed: row label and its four cells.
    static func parseSpec() throws -> [(event: String, cells: [String])] {
        try Self.parseSpecTable(after: "**Server side**")
    }

    /// The first markdown table after the line that starts with `marker` in PROTOCOL.md: each row's label and its
    /// other cells (header and separator rows left out).
    static func parseSpecTable(after marker: String) throws -> [(event: String, cells: [String])] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/PROTOCOL.md"), encoding: .utf8)
        let lines = text.components(separatedBy: "\n")
        guard let start = lines.firstIndex(where: { $0.hasPrefix(marker) }) else { return [] }
        var rows: [(String, [String])] = []
        var inTable = false
        for line in lines[(start + 1)...] {
            if line.hasPrefix("|") {
                inTable = true
                var fields = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
                fields.removeFirst()
                fields.removeLast()
                rows.append((fields[0], Array(fields.dropFirst())))
            } else if inTable {
                break
            }
        }
        // Header and separator rows.
        return Array(rows.dropFirst(2))
    }
}

extension HostileTests {
    /// Issue #14 point 7: every cell of PROTOCOL.md §9.3's server table, over a raw connection.
    @Suite("§9.3 Server stream state table, cell by cell")
    struct StreamStateTableTests {
        @Test("The test's table mirrors PROTOCOL.md §9.3 (server side): same rows, same columns, each cell as the spec says")
        func tableMirrorsTheSpec() throws {
            let spec = try ServerStateTable.parseSpec()
            #expect(spec.map(\.event) == ServerStateTable.rows.map(\.event), "rows of §9.3 changed")
            for (specRow, row) in zip(spec, ServerStateTable.rows) {
                #expect(specRow.cells.count == ServerStateTable.State.allCases.count, "\(row.event): columns changed")
                for (text, cell) in zip(specRow.cells, row.cells) {
                    #expect(text.hasPrefix(cell.0), "\(row.event): the spec says '\(text)', the test expects '\(cell.0)…'")
                }
            }
            #expect(ServerStateTable.drivenCells.count >= 40)
        }

        @Test("Cell", arguments: ServerStateTable.drivenCells)
        func cell(_ cell: ServerStateTable.Cell) async throws {
            try await WireEndProbe.run { probe in
                try await Self.drive(cell, probe)
            }
        }

        /// The stream every cell is about.
        static let stream: UInt32 = 1

        /// Brings stream 1 into the cell's state, sends the cell's frame, and checks the outcome.
        private static func drive(_ cell: ServerStateTable.Cell, _ probe: WireEndProbe) async throws {
            let raw = try await probe.connect()
            let id = Self.stream
            let hold = HostileServer.Methods.hold.name
            let count = HostileServer.Methods.count.name
            // Prelude: stream 1 in the cell's state. `count` (reads every request) for the open state, so delivery
            // shows; `hold` (never reads, runs until cancelled) for half-closed.
            var prelude: [Frame] = []
            var budget: WireBudget? = nil
            if cell.variant == "deadline" { budget = WireBudget(remainingMicroseconds: 300_000, originalMicroseconds: 0) }
            switch cell.state {
            case .idle:
                break
            case .open:
                prelude = [.callStart(CallStart(streamID: id, method: count, budget: budget))]
            case .halfClosed:
                prelude = [.callStart(CallStart(streamID: id, method: hold, budget: budget)), .halfClose(streamID: id)]
            case .closed:
                switch cell.closedVia! {
                case .cancelledHandlerWindingDown:
                    // Sent in the same write as the cell's frame: the server handles both before the handler's
                    // return reaches it (and if not, the stream is closed all the same).
                    prelude = [.callStart(CallStart(streamID: id, method: hold)), .cancel(streamID: id, reason: .cancelled)]
                case .completed:
                    try await raw.send(RawFrames.unaryCall(streamID: id, method: TestMethods.echo.name, body: echoBytes()))
                    let end = await raw.awaitCallEnd(id)
                    #expect(end?.status == .ok)
                }
            }
            var bytes = RawFrames.encode(prelude)
            var frame = Self.frame(for: cell)
            bytes.writeBuffer(&frame)
            if cell.state == .open || cell.state == .halfClosed {
                // Wait until the handler runs, so the outcome is the table's and not a race with its start.
                try await raw.send(RawFrames.encode(prelude))
                await probe.gauge.waitUntil(running: 1)
                bytes = Self.frame(for: cell)
            }
            if cell.variant == "deadline" { bytes = ByteBuffer() }  // The event is the deadline itself.
            let lateBefore = probe.server.stats.lateFramesDropped
            try await raw.send(bytes)

            switch cell.outcome {
            case .protocolError:
                let (goAway, _, closed) = await raw.awaitClose()
                #expect(closed)
                #expect(goAway?.code == .protocolError, "got \(String(describing: goAway))")
                #expect(goAway?.lastStreamID == (cell.state == .idle && cell.variant != "CALL_START" ? 0 : id))
            case .callStarts:
                await probe.gauge.waitUntil(running: 1)
                try await Self.expectSurvivesWithNothingFor(id, raw)
            case .delivered:
                try await raw.send(.halfClose(streamID: id))
                var (frames, ended) = await raw.framesUntilEnd(of: id)
                // Credit the server grants for a message it is assembling (§10.1) is not part of the outcome.
                frames.removeAll { if case .credit = $0 { return true }; return false }
                #expect(ended)
                #expect(frames.count == 2)
                if case .message(let message)? = frames.first {
                    #expect(try JSONDecoder().decode(Echo.self, from: Data(message.data.readableBytesView)) == Echo(text: "1"))
                }
                #expect(frames.last == .callEnd(CallEnd(streamID: id, status: .ok)))
            case .halfClosed:
                let (frames, ended) = await raw.framesUntilEnd(of: id)
                #expect(ended)
                if case .message(let message)? = frames.first {
                    #expect(try JSONDecoder().decode(Echo.self, from: Data(message.data.readableBytesView)) == Echo(text: "0"))
                }
                #expect(frames.last == .callEnd(CallEnd(streamID: id, status: .ok)))
            case .accepted:
                try await Self.expectSurvivesWithNothingFor(id, raw)
                #expect(probe.gauge.running == 1, "the stream should still be open")
            case .handlerCancelled:
                await probe.gauge.waitUntil(running: 0)
                try await Self.expectSurvivesWithNothingFor(id, raw)
            case .callEnd(let code, let message):
                let (frames, ended) = await raw.framesUntilEnd(of: id)
                #expect(ended)
                guard case .callEnd(let end)? = frames.last, frames.count == 1 else {
                    Issue.record("expected one CALL_END(\(code)), got \(frames)")
                    return
                }
                #expect(end.status == code)
                if let message { #expect(end.message == message) } else { #expect(!end.message.isEmpty) }
                await probe.gauge.waitUntil(running: 0)
                try await raw.expectEchoWorks(streamID: 3)
            case .dropped:
                try await Self.expectSurvivesWithNothingFor(id, raw)
                #expect(probe.server.stats.lateFramesDropped == lateBefore + 1, "a dropped frame is counted")
            case .notDriven:
                break
            }
            await raw.close()
        }

        /// The connection lives on (an echo on stream 3 completes) and nothing was sent for `streamID` before it.
        private static func expectSurvivesWithNothingFor(_ streamID: UInt32, _ raw: RawConnection) async throws {
            try await raw.send(RawFrames.unaryCall(streamID: 3, method: TestMethods.echo.name, body: echoBytes()))
            let (events, matched) = await raw.collect { event in
                if case .frame(.callEnd(let end)) = event, end.streamID == 3 { return true }
                if case .frame(.goAway) = event { return true }
                return false
            }
            #expect(matched, "the connection did not survive")
            for case .frame(let frame) in events {
                if case .goAway = frame { Issue.record("the server sent \(frame)") }
                #expect(frame.streamID != streamID, "the server sent \(frame) for stream \(streamID)")
            }
        }

        /// The frame (or frames) a cell sends.
        private static func frame(for cell: ServerStateTable.Cell) -> ByteBuffer {
            let id = Self.stream
            switch cell.variant {
            case "CALL_START":
                return RawFrames.encode([.callStart(CallStart(streamID: id, method: HostileServer.Methods.hold.name))])
            case "MESSAGE":
                return RawFrames.encode([.message(.whole(streamID: id, ByteBuffer(bytes: echoBytes())))])
            case "MESSAGE_CONTINUATION":
                if cell.state == .open {
                    // A continuation is delivered as part of the message it continues.
                    let body = echoBytes()
                    return RawFrames.encode([
                        .message(MessageFrame(streamID: id, messageLength: UInt32(body.count), data: ByteBuffer(bytes: body.prefix(2)), more: true)),
                        .message(MessageFrame(streamID: id, messageLength: nil, data: ByteBuffer(bytes: body.dropFirst(2)))),
                    ])
                }
                return RawFrames.frame(type: FrameType.messageContinuation.rawValue, streamID: id, payload: [1, 2])
            case "HALF_CLOSE":
                return RawFrames.encode([.halfClose(streamID: id)])
            case "CREDIT":
                return RawFrames.encode([.credit(streamID: id, bytes: 1024)])
            case "CANCEL":
                return RawFrames.encode([.cancel(streamID: id, reason: .cancelled)])
            case "CALL_END":
                return RawFrames.encode([.callEnd(CallEnd(streamID: id, status: .ok))])
            case "stream error":
                if cell.state == .idle {
                    return RawFrames.callStart(streamID: id, method: "")  // invalidMethodName: INVALID_ARGUMENT
                }
                // A message declared larger than the server's maxMessageSize (4 MiB): messageTooLarge.
                return RawFrames.encode([
                    .message(MessageFrame(streamID: id, messageLength: 8 * 1024 * 1024, data: ByteBuffer(bytes: [1]), more: true))
                ])
            default:
                return ByteBuffer()
            }
        }
    }
}
