import Foundation
import Testing

/// Replays the `FuzzServerConnection` seed corpus and every minimized crasher (`FuzzTesting/`) through the same
/// harness the libFuzzer target runs (`ServerConnectionFuzzHarness.swift`, symlinked from `FuzzTesting/`), so a fixed
/// finding stays fixed without a libFuzzer build: every input must leave every invariant intact.
@Suite("Server connection fuzz regressions", .timeLimit(.minutes(5)))
struct ServerConnectionFuzzRegressionTests {
    /// `FuzzTesting/...` paths of every input, relative to the repository root.
    static let inputs: [String] = {
        ["FuzzTesting/FailCases/FuzzServerConnection", "FuzzTesting/Corpus/FuzzServerConnection"].flatMap { folder in
            let names = try? FileManager.default.contentsOfDirectory(atPath: Self.root.appendingPathComponent(folder).path)
            return (names ?? []).filter { !$0.hasPrefix(".") }.sorted().map { "\(folder)/\($0)" }
        }
    }()

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    @Test("The seed corpus is there")
    func corpusIsPresent() {
        #expect(Self.inputs.filter { $0.hasPrefix("FuzzTesting/Corpus/") }.count >= 20)
    }

    @Test("Replays a fuzz input: no invariant breaks", arguments: Self.inputs)
    func replay(_ input: String) throws {
        let bytes = [UInt8](try Data(contentsOf: Self.root.appendingPathComponent(input)))
        let violations = ServerConnectionFuzzHarness.run(bytes)
        #expect(violations == [], "\(input)")
    }
}
