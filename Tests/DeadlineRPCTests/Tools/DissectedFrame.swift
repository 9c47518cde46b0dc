/// One DeadlineRPC PDU (the preface or a frame) as the dissector showed it in tshark's PDML: every field in tree
/// order, with the TCP ports of the packet it was shown in.
struct DissectedFrame: Sendable, CustomStringConvertible {
    /// One field of the tree.
    struct Field: Sendable {
        /// The filter name (`drpc.stream_id`), or `_ws.lua.text` for a label-only item.
        var name: String
        /// The value as text (`show`).
        var show: String
        /// The whole label (`showname`).
        var label: String
        /// The field's bytes in hex (`value`).
        var hex: String
    }

    /// The packet's number in the capture.
    var packet: Int
    /// TCP ports of the packet.
    var sourcePort: Int
    var destinationPort: Int
    /// The title of the PDU's tree, e.g. `DeadlineRPC CALL_START, stream 1, HAS_DEADLINE`.
    var title: String
    var fields: [Field]

    /// The fields whose bytes are compared as hex rather than as shown text.
    static let hexFields: Set<String> = ["drpc.message.chunk", "drpc.metadata.value_bin", "drpc.payload"]

    /// The values of every field named `name`, in tree order (hex for ``hexFields``).
    func values(_ name: String) -> [String] {
        self.fields.filter { $0.name == name }.map { Self.hexFields.contains(name) ? $0.hex : $0.show }
    }

    /// The labels of every field named `name`, in tree order.
    func labels(_ name: String) -> [String] {
        self.fields.filter { $0.name == name }.map(\.label)
    }

    /// Whether this is the preface rather than a frame.
    var isPreface: Bool { !self.values("drpc.preface.magic").isEmpty }

    /// The frame's type byte (nil for the preface).
    var type: UInt8? { self.values("drpc.type").first.flatMap { UInt8($0.dropFirst(2), radix: 16) } }

    /// The frame's stream id (nil for the preface).
    var streamID: UInt32? { self.values("drpc.stream_id").first.flatMap { UInt32($0) } }

    var description: String {
        "#\(self.packet) \(self.sourcePort)→\(self.destinationPort) \(self.title): "
            + self.fields.filter { $0.name != "_ws.lua.text" }.map { "\($0.name)=\($0.show)" }.joined(separator: " ")
    }

    /// Every DeadlineRPC PDU of a PDML document, in capture order (several per packet in the order the
    /// dissector met them).
    static func parse(pdml: String) -> [DissectedFrame] {
        var frames: [DissectedFrame] = []
        var packet = 0
        var sourcePort = 0
        var destinationPort = 0
        var current: DissectedFrame? = nil
        for rawLine in pdml.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = rawLine.drop { $0 == " " }
            if line.hasPrefix("<packet>") {
                packet += 1
            } else if line.hasPrefix("<field name=\"tcp.srcport\"") {
                sourcePort = Int(Self.attribute("show", in: line)) ?? 0
            } else if line.hasPrefix("<field name=\"tcp.dstport\"") {
                destinationPort = Int(Self.attribute("show", in: line)) ?? 0
            } else if line.hasPrefix("<proto name=\"drpc\"") {
                current = DissectedFrame(
                    packet: packet,
                    sourcePort: sourcePort,
                    destinationPort: destinationPort,
                    title: Self.attribute("showname", in: line),
                    fields: []
                )
            } else if line.hasPrefix("</proto>"), let frame = current {
                frames.append(frame)
                current = nil
            } else if line.hasPrefix("<field "), current != nil {
                current!.fields.append(Field(
                    name: Self.attribute("name", in: line),
                    show: Self.attribute("show", in: line),
                    label: Self.attribute("showname", in: line),
                    hex: Self.attribute("value", in: line)
                ))
            }
        }
        return frames
    }

    /// The unescaped value of attribute `name` in one PDML element line ("" when absent).
    static func attribute(_ name: String, in line: Substring) -> String {
        guard let start = line.range(of: " \(name)=\"") else { return "" }
        let rest = line[start.upperBound...]
        guard let end = rest.firstIndex(of: "\"") else { return "" }
        return Self.unescape(rest[..<end])
    }

    private static func unescape(_ text: Substring) -> String {
        guard text.contains("&") else { return String(text) }
        var result = ""
        var index = text.startIndex
        while index < text.endIndex {
            if text[index] == "&", let semicolon = text[index...].firstIndex(of: ";") {
                let entity = text[text.index(after: index)..<semicolon]
                switch entity {
                case "quot": result.append("\"")
                case "amp": result.append("&")
                case "lt": result.append("<")
                case "gt": result.append(">")
                case "apos": result.append("'")
                default:
                    let number = entity.hasPrefix("#x") ? UInt32(entity.dropFirst(2), radix: 16)
                        : entity.hasPrefix("#") ? UInt32(entity.dropFirst()) : nil
                    if let number, let scalar = Unicode.Scalar(number) { result.unicodeScalars.append(scalar) }
                    else { result.append(contentsOf: text[index...semicolon]) }
                }
                index = text.index(after: semicolon)
            } else {
                result.append(text[index])
                index = text.index(after: index)
            }
        }
        return result
    }
}
