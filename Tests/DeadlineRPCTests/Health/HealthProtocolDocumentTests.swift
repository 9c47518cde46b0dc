@testable import DeadlineRPC
import Foundation
import NIOCore
import Testing

/// The health messages of `docs/PROTOCOL.md` §17, read from the document itself so spec and code cannot drift apart:
/// every ```` ```health-bytes <name> ```` block decodes to its value and is exactly what the encoder writes.
@Suite("PROTOCOL.md health examples")
struct HealthProtocolDocumentTests {
    enum Example: Equatable {
        case request(String)
        case response(ServingStatus)
    }

    /// Every example the document must contain, and what it encodes.
    static let expected: [String: Example] = [
        "request-orders": .request("orders.Orders"),
        "response-serving": .response(.serving),
        "response-not-serving": .response(.notServing),
        "response-service-unknown": .response(.serviceUnknown),
    ]

    /// The `health-bytes` blocks of `docs/PROTOCOL.md`, by name, as bytes (annotations after `#` stripped).
    static func examples() throws -> [String: [UInt8]] {
        let root = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()  // Health
            .deletingLastPathComponent()  // DeadlineRPCTests
            .deletingLastPathComponent()  // Tests
            .deletingLastPathComponent()  // package root
        let document = try String(contentsOf: root.appendingPathComponent("docs/PROTOCOL.md"), encoding: .utf8)
        var examples: [String: [UInt8]] = [:]
        var current: (name: String, hex: String)? = nil
        for rawLine in document.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if let block = current {
                if line == "```" {
                    #expect(examples[block.name] == nil, "example \(block.name) appears twice")
                    let digits = Array(block.hex)
                    try #require(digits.count % 2 == 0, "example \(block.name) has an odd number of hex digits")
                    examples[block.name] = try stride(from: 0, to: digits.count, by: 2).map { index in
                        try #require(UInt8(String(digits[index...index + 1]), radix: 16), "example \(block.name): not hex")
                    }
                    current = nil
                } else {
                    let code = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
                    current = (block.name, block.hex + code.filter { !$0.isWhitespace })
                }
            } else if line.hasPrefix("```health-bytes ") {
                current = (String(line.dropFirst("```health-bytes ".count)).trimmingCharacters(in: .whitespaces), "")
            }
        }
        try #require(current == nil, "an example is not closed by ```")
        return examples
    }

    @Test("The document holds exactly the expected examples; each decodes to its value and re-encodes to the same bytes")
    func examplesMatchTheCodecs() throws {
        let examples = try Self.examples()
        #expect(Set(examples.keys) == Set(Self.expected.keys))
        for (name, bytes) in examples.sorted(by: { $0.key < $1.key }) {
            var encoded = ByteBuffer()
            switch Self.expected[name] {
            case .request(let service)?:
                #expect(try HealthCheckRequestCodec().decode(ByteBuffer(bytes: bytes)) == service, "\(name)")
                HealthCheckRequestCodec().encode(service, into: &encoded)
            case .response(let status)?:
                #expect(try HealthCheckResponseCodec().decode(ByteBuffer(bytes: bytes)) == status, "\(name)")
                HealthCheckResponseCodec().encode(status, into: &encoded)
            case nil:
                continue
            }
            #expect(Array(encoded.readableBytesView) == bytes, "\(name)")
        }
    }
}
