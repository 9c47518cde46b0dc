import Foundation
import Testing

/// The guides' Swift examples are excerpts of code that compiles and runs in the test suite: every ```swift block in
/// them must appear, line for line (indentation aside), in a file under `Tests/`, so a guide cannot drift from the
/// API.
@Suite("Guide examples are compiled code", .timeLimit(.minutes(5)))
struct GuideExamplesTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func normalized(_ text: some StringProtocol) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
    }

    static func swiftBlocks(in document: String) -> [String] {
        var blocks: [String] = []
        var current: [Substring]? = nil
        for line in document.split(separator: "\n", omittingEmptySubsequences: false) {
            if current == nil, line.trimmingCharacters(in: .whitespaces) == "```swift" {
                current = []
            } else if current != nil, line.trimmingCharacters(in: .whitespaces) == "```" {
                blocks.append(current!.joined(separator: "\n"))
                current = nil
            } else {
                current?.append(line)
            }
        }
        return blocks
    }

    static func testSources() throws -> [[String]] {
        let tests = Self.root.appendingPathComponent("Tests")
        let files = FileManager.default.enumerator(at: tests, includingPropertiesForKeys: nil)!
            .compactMap { $0 as? URL }
            .filter { $0.pathExtension == "swift" }
        return try files.map { Self.normalized(try String(contentsOf: $0, encoding: .utf8)) }
    }

    static func contains(_ haystack: [String], _ needle: [String]) -> Bool {
        guard !needle.isEmpty, needle.count <= haystack.count else { return needle.isEmpty }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if Array(haystack[start..<start + needle.count]) == needle { return true }
        }
        return false
    }

    @Test("Every Swift example in docs/DEADLINES.md is in the test suite", arguments: ["docs/DEADLINES.md"])
    func examplesCompile(path: String) throws {
        let document = try String(contentsOf: Self.root.appendingPathComponent(path), encoding: .utf8)
        let blocks = Self.swiftBlocks(in: document)
        #expect(blocks.count >= 5)
        let sources = try Self.testSources()
        for block in blocks {
            let lines = Self.normalized(block)
            #expect(sources.contains { Self.contains($0, lines) }, "not found in Tests/:\n\(block)")
        }
    }
}
