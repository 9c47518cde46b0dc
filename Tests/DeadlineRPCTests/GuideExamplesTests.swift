import Foundation
import Testing

/// The guides' Swift examples are compiled code: every ```swift block in a guide is named by an HTML comment before
/// it (`<!-- guide: NAME -->`), and must equal, line for line (indentation aside), the region of a test source that
/// carries the same name between `// guide:begin NAME` and `// guide:end NAME`. The region is real code in a test
/// that compiles and runs, so a guide cannot drift from the API, and a match inside a comment or a string does not
/// count. A block that cannot compile says so instead: `<!-- guide: not compiled: WHY -->`.
@Suite("Guide examples are compiled code", .timeLimit(.minutes(5)))
struct GuideExamplesTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// The guides whose examples are checked.
    static let guides = ["docs/DEADLINES.md", "docs/PROTOBUF.md", "docs/TESTING.md"]

    /// What names a guide's block: a region of test code, or an explicit statement that it is not compiled.
    enum Label: Equatable {
        case region(String)
        case notCompiled(reason: String)
    }

    /// One ```swift block of a guide.
    struct Block {
        var label: Label?
        var lines: [String]
        /// 1-based line of the opening fence, for messages.
        var line: Int
    }

    /// One `// guide:begin NAME` … `// guide:end NAME` region of a test source.
    struct Region {
        var name: String
        var lines: [String]
        var location: String
    }

    /// Strips indentation and trailing spaces: the doc and the source indent differently, nothing else may differ.
    static func trimmed(_ lines: some Sequence<some StringProtocol>) -> [String] {
        lines.map { $0.trimmingCharacters(in: .whitespaces) }
    }

    static func lines(_ text: String) -> [Substring] {
        text.split(separator: "\n", omittingEmptySubsequences: false)
    }

    /// The guide's ```swift blocks, each with the label of the `<!-- guide: … -->` comment before it (the label
    /// names the next block, wherever it is), and what is malformed: a label with no block after it, an unclosed
    /// block.
    static func blocks(in document: String) -> (blocks: [Block], problems: [String]) {
        var blocks: [Block] = []
        var problems: [String] = []
        var pending: (label: Label, line: Int)? = nil
        var current: Block? = nil
        for (index, line) in Self.lines(document).enumerated() {
            let text = line.trimmingCharacters(in: .whitespaces)
            if current != nil {
                if text == "```" {
                    blocks.append(current!)
                    current = nil
                } else {
                    current!.lines.append(String(line))
                }
            } else if text == "```swift" {
                current = Block(label: pending?.label, lines: [], line: index + 1)
                pending = nil
            } else if text.hasPrefix("<!-- guide:"), text.hasSuffix("-->") {
                if let pending { problems.append("line \(pending.line): the label is followed by another label, not by a ```swift block") }
                let body = text.dropFirst("<!-- guide:".count).dropLast("-->".count).trimmingCharacters(in: .whitespaces)
                if body.hasPrefix("not compiled:") {
                    pending = (.notCompiled(reason: body.dropFirst("not compiled:".count).trimmingCharacters(in: .whitespaces)), index + 1)
                } else {
                    pending = (.region(body), index + 1)
                }
            }
        }
        if let pending { problems.append("line \(pending.line): the label is not followed by a ```swift block") }
        if let current { problems.append("line \(current.line): the ```swift block is never closed") }
        return (blocks, problems)
    }

    /// The marked regions of one source file, and what is malformed: an unclosed or nested region, an end without
    /// its begin, a marker inside a multi-line string literal.
    static func regions(inSource source: String, named file: String) -> (regions: [Region], problems: [String]) {
        var regions: [Region] = []
        var problems: [String] = []
        var open: (name: String, lines: [String], line: Int)? = nil
        var insideString = false
        for (index, line) in Self.lines(source).enumerated() {
            let text = line.trimmingCharacters(in: .whitespaces)
            let location = "\(file):\(index + 1)"
            if text.hasPrefix("// guide:begin ") || text.hasPrefix("// guide:end ") {
                let words = text.split(separator: " ")
                let name = words.count > 2 ? String(words[2]) : ""
                if insideString {
                    problems.append("\(location): a guide marker inside a multi-line string literal")
                } else if text.hasPrefix("// guide:begin ") {
                    if let open { problems.append("\(location): region '\(name)' begins inside region '\(open.name)'") }
                    open = (name, [], index + 1)
                } else if let region = open, region.name == name {
                    regions.append(Region(name: name, lines: region.lines, location: "\(file):\(region.line)"))
                    open = nil
                } else {
                    problems.append("\(location): 'guide:end \(name)' without its begin")
                }
                continue
            }
            // A region must be code, not text in a string: a line with an odd number of triple quotes opens or
            // closes a multi-line string literal.
            if line.components(separatedBy: String(repeating: "\"", count: 3)).count % 2 == 0 { insideString.toggle() }
            open?.lines.append(String(line))
        }
        if let open { problems.append("\(file):\(open.line): region '\(open.name)' is never closed") }
        return (regions, problems)
    }

    /// Every marked region in the `.swift` files under `Tests/`, and what is malformed (including a name marked
    /// twice).
    static func testRegions() throws -> (regions: [String: Region], problems: [String]) {
        let tests = Self.root.appendingPathComponent("Tests")
        let files = FileManager.default.enumerator(at: tests, includingPropertiesForKeys: nil)!
            .compactMap { $0 as? URL }
            .filter { $0.pathExtension == "swift" }
        var all: [String: Region] = [:]
        var problems: [String] = []
        for file in files {
            let relative = file.path.replacingOccurrences(of: Self.root.path + "/", with: "")
            let (regions, found) = Self.regions(inSource: try String(contentsOf: file, encoding: .utf8), named: relative)
            problems += found
            for region in regions {
                if let existing = all[region.name] {
                    problems.append("\(region.location): region '\(region.name)' is also marked at \(existing.location)")
                }
                all[region.name] = region
            }
        }
        return (all, problems)
    }

    /// Checks a guide's blocks against the regions: every block labelled, each name used once, each named block
    /// equal to its region (indentation aside), each unlabelled-by-choice block saying why it is not compiled.
    static func problems(in blocks: [Block], regions: [String: Region], guide: String) -> [String] {
        var problems: [String] = []
        var seen: Set<String> = []
        for block in blocks {
            switch block.label {
            case nil:
                problems.append("\(guide):\(block.line): the ```swift block has no <!-- guide: NAME --> (or <!-- guide: not compiled: WHY -->) before it")
            case .notCompiled(let reason):
                if reason.isEmpty { problems.append("\(guide):\(block.line): a block that is not compiled must say why") }
            case .region(let name):
                if !seen.insert(name).inserted { problems.append("\(guide):\(block.line): '\(name)' names two blocks") }
                guard let region = regions[name] else {
                    problems.append("\(guide):\(block.line): no '// guide:begin \(name)' region under Tests/")
                    continue
                }
                let shown = Self.trimmed(block.lines)
                let compiled = Self.trimmed(region.lines)
                if shown != compiled {
                    problems.append("\(guide):\(block.line): block '\(name)' differs from \(region.location):\n--- guide\n\(shown.joined(separator: "\n"))\n--- source\n\(compiled.joined(separator: "\n"))")
                }
            }
        }
        return problems
    }

    @Test("Every Swift example in a guide is the named region of compiled test code", arguments: Self.guides)
    func examplesAreCompiledRegions(path: String) throws {
        let document = try String(contentsOf: Self.root.appendingPathComponent(path), encoding: .utf8)
        let (blocks, blockProblems) = Self.blocks(in: document)
        #expect(blocks.count >= 5)
        let (regions, regionProblems) = try Self.testRegions()
        for problem in blockProblems.map({ "\(path): \($0)" }) + regionProblems + Self.problems(in: blocks, regions: regions, guide: path) {
            Issue.record(Comment(rawValue: problem))
        }
    }

    @Test("Every marked region of test code is shown in a guide")
    func everyRegionIsShown() throws {
        var shown: Set<String> = []
        for path in Self.guides {
            let document = try String(contentsOf: Self.root.appendingPathComponent(path), encoding: .utf8)
            for case .region(let name)? in Self.blocks(in: document).blocks.map(\.label) { shown.insert(name) }
        }
        for region in try Self.testRegions().regions.values {
            // A region no guide shows is a stale marker: nobody would notice its code drift from a guide.
            #expect(shown.contains(region.name), "\(region.location): region '\(region.name)' is in no guide")
        }
    }

    @Test("The check is exact: what the old line search let through now fails")
    func checkIsExact() {
        let fence = "```"
        let document = [
            "<!-- guide: in-a-comment -->", fence + "swift", "let answer = 42", fence,
            fence + "swift", "unlabelled()", fence,
            "<!-- guide: drifted -->", fence + "swift", "let x = 1", "let y = 2", fence,
            "<!-- guide: exact -->", fence + "swift", "    let x = 1", fence,
            "<!-- guide: not compiled: pseudo-code, names no real API -->", fence + "swift", "frobnicate()", fence,
        ].joined(separator: "\n")
        let (blocks, blockProblems) = Self.blocks(in: document)
        #expect(blockProblems.isEmpty)
        #expect(blocks.map(\.label) == [.region("in-a-comment"), nil, .region("drifted"), .region("exact"), .notCompiled(reason: "pseudo-code, names no real API")])
        // The block's line appears in the source, but only in a comment and a string, outside any region.
        let source = [
            "// let answer = 42",
            "let text = \"let answer = 42\"",
            "// guide:begin drifted", "let x = 1", "let y = 3", "// guide:end drifted",
            "// guide:begin exact", "        let x = 1", "// guide:end exact",
        ].joined(separator: "\n")
        let (regions, regionProblems) = Self.regions(inSource: source, named: "Example.swift")
        #expect(regionProblems.isEmpty)
        let problems = Self.problems(in: blocks, regions: Dictionary(uniqueKeysWithValues: regions.map { ($0.name, $0) }), guide: "GUIDE.md")
        #expect(problems.count == 3, "\(problems)")
        #expect(problems.contains { $0.contains("no '// guide:begin in-a-comment' region") })
        #expect(problems.contains { $0.contains("has no <!-- guide: NAME -->") })
        #expect(problems.contains { $0.contains("block 'drifted' differs") })
        // Malformed markers are reported, not skipped.
        let malformed = ["// guide:begin a", "// guide:begin b", "// guide:end c"].joined(separator: "\n")
        // b begins inside a; c ends without a begin; b is never closed.
        #expect(Self.regions(inSource: malformed, named: "M.swift").problems.count == 3)
        let inString = ["let s = " + String(repeating: "\"", count: 3), "// guide:begin s", String(repeating: "\"", count: 3)].joined(separator: "\n")
        #expect(Self.regions(inSource: inString, named: "S.swift").problems == ["S.swift:2: a guide marker inside a multi-line string literal"])
    }
}
