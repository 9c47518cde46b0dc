import NIOCore
import Wire

/// What the dissector must show for a frame: the exact value of every field it decodes, derived from the frame
/// itself (one the test sent, or one a raw peer decoded from the server), so the check is independent of the
/// dissector's code.
struct DissectorExpectation: Sendable {
    /// Field name → every value in tree order (an empty list: the field must be absent).
    var values: [String: [String]]
    /// Field name → every label in tree order, where the label carries what matters (names, milliseconds).
    var labels: [String: [String]] = [:]

    /// The names and labels of undefined codes, as PROTOCOL.md §13.3 reads them.
    static func statusName(_ code: StatusCode) -> String {
        code.isDefined ? code.description : "UNKNOWN (undefined code \(code.rawValue))"
    }

    static func reasonName(_ reason: CancelReason) -> String {
        reason.rawValue <= 6 ? reason.description : "cancelled (undefined reason \(reason.rawValue))"
    }

    static func goAwayName(_ code: GoAwayCode) -> String {
        code.rawValue <= 9 ? code.description : "INTERNAL_ERROR (undefined code \(code.rawValue))"
    }

    /// Microseconds as the dissector labels them in milliseconds: all three decimals.
    static func milliseconds(_ micros: Int64) -> String {
        let magnitude = micros.magnitude
        let fraction = String(magnitude % 1000)
        return "\(micros < 0 ? "-" : "")\(magnitude / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction) ms"
    }

    private static func hex(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { ($0 < 0x10 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    private static func byteHex(_ value: UInt8) -> String { "0x" + (value < 0x10 ? "0" : "") + String(value, radix: 16) }

    /// The expectation for `frame`.
    init(_ frame: Frame) {
        var buffer = ByteBuffer()
        FrameEncoder.write(frame, into: &buffer)
        let header = buffer.getBytes(at: 0, length: 10)!
        var values: [String: [String]] = [
            "drpc.length": ["\(buffer.readableBytes - 10)"],
            "drpc.type": [Self.byteHex(header[4])],
            "drpc.flags": [Self.byteHex(header[5])],
            "drpc.stream_id": ["\(frame.streamID)"],
        ]
        var labels: [String: [String]] = [:]
        func metadata(_ metadata: Metadata) {
            values["drpc.metadata.count"] = ["\(metadata.count)"]
            values["drpc.metadata.length"] = ["\(metadata.encodedBlockLength)"]
            values["drpc.metadata.key"] = metadata.map(\.key)
            values["drpc.metadata.value"] = metadata.compactMap { if case .string(let s) = $0.value { return s }; return nil }
            values["drpc.metadata.value_bin"] = metadata.compactMap { if case .binary(let b) = $0.value { return Self.hex(b) }; return nil }
        }
        switch frame {
        case .settings(let settings):
            values["drpc.setting.id"] = (1...7).map { "0x000\($0)" }
            values["drpc.setting.value"] = [
                settings.maxFrameSize, settings.maxConcurrentStreams, settings.initialStreamCredit,
                settings.maxMessageSize, settings.maxMetadataSize, settings.maxMetadataEntries, settings.acceptedEncodings,
            ].map { "\($0)" }
        case .callStart(let start):
            values["drpc.flags.has_deadline"] = [start.budget == nil ? "0" : "1"]
            values["drpc.budget.remaining_us"] = start.budget.map { ["\($0.remainingMicroseconds)"] } ?? []
            values["drpc.budget.original_us"] = start.budget.map { ["\($0.originalMicroseconds)"] } ?? []
            labels["drpc.budget.remaining_us"] = start.budget.map {
                ["Remaining budget: \(Self.milliseconds($0.remainingMicroseconds)) (\($0.remainingMicroseconds) µs)"]
            } ?? []
            values["drpc.hop_count"] = ["\(start.hopCount)"]
            values["drpc.encoding"] = ["\(start.encoding.rawValue)"]
            values["drpc.method.length"] = ["\(start.method.utf8.count)"]
            values["drpc.method"] = [start.method]
            metadata(start.metadata)
        case .message(let message):
            values["drpc.flags.end_stream"] = [message.endStream ? "1" : "0"]
            values["drpc.flags.more"] = [message.more ? "1" : "0"]
            values["drpc.flags.compressed"] = message.messageLength == nil ? [] : [message.compressed ? "1" : "0"]
            values["drpc.message.length"] = message.messageLength.map { ["\($0)"] } ?? []
            values["drpc.message.chunk_length"] = ["\(message.data.readableBytes)"]
            values["drpc.message.chunk"] = message.data.readableBytes == 0 ? [] : [Self.hex(message.data.readableBytesView)]
        case .halfClose:
            break
        case .callEnd(let end):
            values["drpc.status"] = ["\(end.status.rawValue)"]
            values["drpc.status.name"] = [Self.statusName(end.status)]
            labels["drpc.status"] = ["Status: \(Self.statusName(end.status)) (\(end.status.rawValue))"]
            values["drpc.status.message_length"] = ["\(end.message.utf8.count)"]
            values["drpc.status.message"] = [end.message]
            metadata(end.metadata)
        case .cancel(_, let reason):
            values["drpc.cancel.reason"] = ["\(reason.rawValue)"]
            values["drpc.cancel.reason_name"] = [Self.reasonName(reason)]
        case .credit(_, let bytes):
            values["drpc.credit.increment"] = ["\(bytes)"]
        case .ping(let ping):
            values["drpc.flags.ack"] = [ping.ack ? "1" : "0"]
            let digits = String(ping.payload, radix: 16)
            values["drpc.ping.data"] = ["0x" + String(repeating: "0", count: 16 - digits.count) + digits]
        case .goAway(let goAway):
            values["drpc.goaway.last_stream_id"] = ["\(goAway.lastStreamID)"]
            values["drpc.goaway.code"] = ["\(goAway.code.rawValue)"]
            values["drpc.goaway.code_name"] = [Self.goAwayName(goAway.code)]
            values["drpc.goaway.reason_length"] = ["\(goAway.reason.utf8.count)"]
            values["drpc.goaway.reason"] = [goAway.reason]
        }
        self.values = values
        self.labels = labels
    }

    /// The differences between this expectation and what the dissector showed (empty when they agree).
    func mismatches(in dissected: DissectedFrame) -> [String] {
        var problems: [String] = []
        for (name, expected) in self.values.sorted(by: { $0.key < $1.key }) where dissected.values(name) != expected {
            problems.append("\(name): expected \(expected), dissected \(dissected.values(name))")
        }
        for (name, expected) in self.labels.sorted(by: { $0.key < $1.key }) where dissected.labels(name) != expected {
            problems.append("\(name) label: expected \(expected), dissected \(dissected.labels(name))")
        }
        return problems
    }
}
