import Foundation
import Testing

/// The dissector's heuristic on a capture whose packet order is fixed (made with `text2pcap`, which Debian's tshark
/// brings along): a peer that writes its preface in pieces, seen before the other side's preface. A live capture
/// produced this order only sometimes (`DissectorCaptureTests` split the raw peer's preface after two bytes), and the
/// heuristic then lost the preface.
@Suite("The Wireshark dissector's heuristic", .timeLimit(.minutes(2)))
struct DissectorHeuristicTests {
    /// `text2pcap`, installed beside tshark (Debian's wireshark-common).
    static let text2pcap: URL? = TSharkCapture.executable.map {
        $0.deletingLastPathComponent().appendingPathComponent("text2pcap")
    }

    static let preface: [UInt8] = Array("DRPC".utf8) + [0x00, 0x01, 0x0d, 0x0a]

    /// A SETTINGS frame with the given (id, value) pairs.
    static func settings(_ values: [(UInt16, UInt32)]) -> [UInt8] {
        var payload: [UInt8] = []
        for (id, value) in values {
            payload += [UInt8(id >> 8), UInt8(id & 0xff)]
            payload += [24, 16, 8, 0].map { UInt8((value >> $0) & 0xff) }
        }
        let length = UInt32(payload.count)
        return [24, 16, 8, 0].map { UInt8((length >> $0) & 0xff) } + [0x00, 0x00, 0, 0, 0, 0] + payload
    }

    @Test("A first segment with only the preface's first two bytes, ahead of the server's preface, is still taken and reassembled")
    func splitPrefaceFirst() async throws {
        try #require(TSharkCapture.executable != nil, "CI runs this test: .ci/run installs tshark")
        let text2pcap = try #require(Self.text2pcap, "text2pcap comes with tshark")
        try #require(FileManager.default.isExecutableFile(atPath: text2pcap.path), "text2pcap comes with tshark")
        let client = Self.settings([(1, 20_000), (2, 7), (3, 70_000), (4, 1_000_000), (5, 4_000), (6, 9), (7, 1)])
        let server = Self.settings([(1, 16_384), (2, 100), (3, 65_536), (4, 4_194_304), (5, 8_192), (6, 64), (7, 3)])
        // text2pcap's direction marks, as it writes them with these arguments: "O" from port 47123 (the client), "I" from 40000.
        let packets: [(String, [UInt8])] = [
            ("O", Array(Self.preface[0..<2])),
            ("I", Self.preface + server),
            ("O", Array(Self.preface[2...]) + client),
        ]
        let hex = packets.map { direction, bytes in
            "\(direction)\n0000 " + bytes.map { String(format: "%02x", $0) }.joined(separator: " ") + "\n"
        }.joined(separator: "\n")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("drpc-heuristic-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let text = directory.appendingPathComponent("split.txt")
        let pcap = directory.appendingPathComponent("split.pcap")
        try hex.write(to: text, atomically: true, encoding: .utf8)
        // A port no dissector owns, so only the heuristic can claim the connection.
        _ = try await Self.run(text2pcap, ["-q", "-D", "-4", "10.0.0.1,10.0.0.2", "-T", "40000,47123", text.path, pcap.path])
        let pdml = try await Self.run(
            TSharkCapture.executable!,
            ["-r", pcap.path, "-X", "lua_script:\(TSharkCapture.dissector.path)", "-o", "tcp.try_heuristic_first:TRUE", "-T", "pdml"]
        )
        let frames = DissectedFrame.parse(pdml: pdml)
        let fromClient = frames.filter { $0.sourcePort == 47123 }
        let fromServer = frames.filter { $0.sourcePort == 40000 }
        #expect(fromServer.map(\.isPreface) == [true, false])
        #expect(fromServer.last?.values("drpc.setting.value").first == "16384")
        // The client's preface, split 2 + 6 bytes, reassembled and shown with the SETTINGS behind it on packet 3.
        #expect(fromClient.map(\.isPreface) == [true, false], "\(fromClient)")
        #expect(fromClient.map(\.packet) == [3, 3])
        #expect(fromClient.last?.values("drpc.setting.value") == ["20000", "7", "70000", "1000000", "4000", "9", "1"])
    }

    /// Runs `executable` with `arguments` to its exit; returns its standard output (written to a file, so a large
    /// output never blocks the child on a full pipe).
    static func run(_ executable: URL, _ arguments: [String]) async throws -> String {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("drpc-heuristic-\(UUID().uuidString).out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: output) }
        let handle = try FileHandle(forWritingTo: output)
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = handle
        process.standardError = FileHandle.nullDevice
        try process.run()
        await ChildProcess.waitForExit(process)
        try handle.close()
        #expect(process.terminationStatus == 0, "\(executable.lastPathComponent) \(arguments) exited \(process.terminationStatus)")
        return try String(contentsOf: output, encoding: .utf8)
    }
}
