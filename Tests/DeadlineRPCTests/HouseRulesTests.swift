import Foundation
import Testing

/// Issue #15's size rules for the runtime's sources, checked so that a later change cannot quietly regrow a file
/// that holds too many concerns: no file in `Sources/DeadlineRPC` over 450 lines, the server connection handler
/// at most 400.
@Suite("House rules: file sizes in Sources/DeadlineRPC")
struct HouseRulesTests {
    static let sources = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/DeadlineRPC")

    static func lineCounts() throws -> [String: Int] {
        var counts: [String: Int] = [:]
        let files = FileManager.default.enumerator(at: Self.sources, includingPropertiesForKeys: nil)
        while let url = files?.nextObject() as? URL {
            guard url.pathExtension == "swift" else { continue }
            let text = try String(contentsOf: url, encoding: .utf8)
            let relative = String(url.path.dropFirst(Self.sources.path.count + 1))
            // Lines as `wc -l` counts them: newline characters.
            counts[relative] = text.utf8.reduce(0) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
        }
        return counts
    }

    @Test("No source file of the runtime is over 450 lines")
    func noFileOver450() throws {
        let counts = try Self.lineCounts()
        #expect(counts.count > 100, "found the sources (\(counts.count) files)")
        let over = counts.filter { $0.value > 450 }.sorted { $0.key < $1.key }
        #expect(over.isEmpty, "over 450 lines: \(over.map { "\($0.key) (\($0.value))" })")
    }

    @Test("The server connection handler is at most 400 lines")
    func serverHandlerAtMost400() throws {
        let counts = try Self.lineCounts()
        let handler = try #require(counts["Transport/Server/ServerConnectionHandler.swift"])
        #expect(handler <= 400, "ServerConnectionHandler.swift has \(handler) lines")
    }
}
