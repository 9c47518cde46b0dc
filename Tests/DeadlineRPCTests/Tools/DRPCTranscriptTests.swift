@testable import DeadlineRPC
import Foundation
import TestSupport
import Testing

/// Replays the README's `drpc` transcript (the first `console` block under "### drpc") against the server it was
/// recorded against (``DRPCTestService``): every `$ drpc …` command is run with the real port in place of
/// `127.0.0.1:7070`, its standard output then standard error must equal the lines that follow it, and a
/// following `$ echo $?` must show its exit code. Only the lines ``variableLines`` names may differ, and only in
/// the part it names.
@Suite("drpc: the README transcript", .serialized, .timeLimit(.minutes(5)), .heavyweight)
struct DRPCTranscriptTests {
    /// The lines that vary from run to run: a transcript line starting with `prefix` matches an actual line that
    /// starts with the same prefix and whose rest matches `rest`. They are the time a call took, and which side's
    /// timer ended an expired call first (the client's or the server's: both run the deadline, and the message says
    /// which one fired).
    static let variableLines: [(prefix: String, rest: String)] = [
        ("budget: hop 0: 250ms budget, 0µs used upstream, 250ms left on arrival, ", #"^[0-9]+(ms|µs) used here$"#),
        ("message: The call's deadline passed ", #"^(before it completed|on the server)\.$"#),
        ("ERROR: DEADLINE_EXCEEDED: The call's deadline passed ", #"^(before it completed|on the server)\.$"#),
    ]

    /// The address the transcript was recorded with.
    static let recordedTarget = "127.0.0.1:7070"

    /// One command of the transcript and what it printed.
    struct Step {
        var arguments: [String]
        var stdin: String?
        var output: [String] = []
        var exitCode: Int32 = 0
    }

    /// The transcript's steps, read from README.md.
    static func steps() throws -> [Step] {
        let readme = try String(contentsOf: DRPCProcess.root.appendingPathComponent("README.md"), encoding: .utf8)
        let lines = readme.components(separatedBy: "\n")
        let section = try #require(lines.firstIndex(of: "### drpc"), "README.md has no '### drpc' section")
        let start = try #require(lines[section...].firstIndex(of: "```console"), "the drpc section has no console block")
        let end = try #require(lines[(start + 1)...].firstIndex(of: "```"))
        var steps: [Step] = []
        var expectingExitCode = false
        for line in lines[(start + 1)..<end] {
            if expectingExitCode {
                steps[steps.count - 1].exitCode = try #require(Int32(line), "'\(line)' after '$ echo $?' is not an exit code")
                expectingExitCode = false
            } else if line == "$ echo $?" {
                expectingExitCode = true
            } else if line.hasPrefix("$ ") {
                steps.append(try Self.parse(String(line.dropFirst(2))))
            } else {
                try #require(!steps.isEmpty, "output before the first command: \(line)")
                steps[steps.count - 1].output.append(line)
            }
        }
        return steps
    }

    /// `drpc ARGS…` or `printf 'TEXT' | drpc ARGS…` (single quotes and `\n` in printf's text are all it reads).
    static func parse(_ command: String) throws -> Step {
        var words = try Self.words(command)
        var stdin: String? = nil
        if words.first == "printf" {
            try #require(words.count > 3 && words[2] == "|", "expected printf 'TEXT' | drpc …: \(command)")
            stdin = words[1].replacingOccurrences(of: "\\n", with: "\n")
            words.removeFirst(3)
        }
        try #require(words.first == "drpc", "not a drpc command: \(command)")
        return Step(arguments: Array(words.dropFirst()), stdin: stdin)
    }

    /// Splits a command line into words: spaces separate, single quotes keep everything inside as is.
    static func words(_ command: String) throws -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quoted = false
        for character in command {
            if quoted {
                if character == "'" { quoted = false } else { current.append(character) }
            } else if character == "'" {
                quoted = true
                inWord = true
            } else if character == " " {
                if inWord { words.append(current) }
                current = ""
                inWord = false
            } else {
                current.append(character)
                inWord = true
            }
        }
        try #require(!quoted, "unbalanced quote: \(command)")
        if inWord { words.append(current) }
        return words
    }

    /// Whether `actual` is what the transcript's `expected` line shows.
    static func matches(_ expected: String, _ actual: String) -> Bool {
        if expected == actual { return true }
        for (prefix, rest) in Self.variableLines where expected.hasPrefix(prefix) {
            guard actual.hasPrefix(prefix) else { return false }
            return actual.dropFirst(prefix.count).range(of: rest, options: .regularExpression) != nil
        }
        return false
    }

    @Test("The transcript reads as expected: commands, outputs, exit codes")
    func transcriptParses() throws {
        let steps = try Self.steps()
        #expect(steps.count >= 8)
        #expect(Set(steps.compactMap(\.arguments.first)) == ["list", "describe", "call", "health"])
        #expect(steps.contains { $0.exitCode != 0 })
        #expect(steps.contains { $0.stdin != nil })
        #expect(steps.allSatisfy { $0.arguments.contains(Self.recordedTarget) })
    }

    @Test("Every command of the README's drpc transcript prints exactly what the transcript shows")
    func replay() async throws {
        let steps = try Self.steps()
        try await withDRPCServer { target in
            for step in steps {
                let arguments = step.arguments.map { $0 == Self.recordedTarget ? target : $0 }
                let result = try await DRPCProcess.run(arguments, stdin: step.stdin)
                let actual = result.stdoutLines + result.stderrLines
                let same = actual.count == step.output.count && zip(step.output, actual).allSatisfy(Self.matches)
                #expect(same, "drpc \(step.arguments.joined(separator: " ")) printed:\n\(actual.joined(separator: "\n"))\nthe README shows:\n\(step.output.joined(separator: "\n"))")
                #expect(result.status == step.exitCode, "drpc \(step.arguments.joined(separator: " ")): \(result)")
            }
        }
    }
}
