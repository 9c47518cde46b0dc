import ArgumentParser
import Foundation
import RPCBenchCore

extension PeerStorm {
    /// `peer-storm compare`: the side-by-side table, JSON and plot from reports of one sitting.
    struct Compare: AsyncParsableCommand {
        /// The subcommand's abstract.
        static let configuration = CommandConfiguration(
            abstract: "Side-by-side table, Markdown, JSON and plot from rpcbench/peer-storm reports and the floor's JSON line."
        )

        /// `LABEL=PATH/report.json`, baseline first; a `connections.json` beside a report is read too.
        @Option(name: .customLong("report"), help: "LABEL=path/to/report.json (repeat; the first is the baseline). A connections.json beside it is read too.")
        var reports: [String] = []

        /// The floor's JSON line (peer-nio's output, optionally with rss_kb added).
        @Option(help: "The raw NIO floor's JSON line (peer-nio's output, rss_kb added by the script).")
        var floor: String?

        /// Where side-by-side.{txt,md,json} and plot.svg are written.
        @Option(help: "Folder for side-by-side.txt, side-by-side.md, side-by-side.json and plot.svg.")
        var out: String

        /// Rejects reports not given as LABEL=PATH.
        func validate() throws {
            guard !self.reports.isEmpty else { throw ValidationError("give at least one --report LABEL=PATH") }
            for entry in self.reports where Self.split(entry) == nil {
                throw ValidationError("--report takes LABEL=PATH, not \(entry)")
            }
        }

        /// `LABEL=PATH` split, or nil.
        static func split(_ entry: String) -> (label: String, path: String)? {
            guard let equals = entry.firstIndex(of: "=") else { return nil }
            let label = String(entry[..<equals])
            let path = String(entry[entry.index(after: equals)...])
            return label.isEmpty || path.isEmpty ? nil : (label, path)
        }

        /// Reads everything, writes the four files, prints the table.
        func run() async throws {
            let decoder = JSONDecoder()
            var reports: [(label: String, report: BenchReport)] = []
            var columns: [SideBySideColumn] = []
            var sources: [String: String] = [:]
            for entry in self.reports.compactMap(Self.split) {
                let report = try decoder.decode(BenchReport.self, from: Data(contentsOf: URL(fileURLWithPath: entry.path)))
                let sidecar = URL(fileURLWithPath: entry.path).deletingLastPathComponent().appendingPathComponent("connections.json")
                let lost = (try? decoder.decode(SharedConnections.self, from: Data(contentsOf: sidecar)))?.lost
                reports.append((entry.label, report))
                columns.append(SideBySideColumn(report: report, label: entry.label, sharedConnectionsLost: lost))
                sources[entry.label] = entry.path
            }
            var floorResult: FloorResult?
            if let path = self.floor {
                let line = try String(contentsOfFile: path, encoding: .utf8)
                    .split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init) ?? ""
                let floor = try decoder.decode(FloorResult.self, from: Data(line.utf8))
                columns.append(SideBySideColumn(floor: floor))
                sources["raw NIO floor"] = path
                floorResult = floor
            }
            let sideBySide = SideBySideReport(columns: columns, sources: sources)
            try FileManager.default.createDirectory(atPath: self.out, withIntermediateDirectories: true)
            try Data(sideBySide.text.utf8).write(to: URL(fileURLWithPath: "\(self.out)/side-by-side.txt"))
            try Data(sideBySide.markdown.utf8).write(to: URL(fileURLWithPath: "\(self.out)/side-by-side.md"))
            try sideBySide.json().write(to: URL(fileURLWithPath: "\(self.out)/side-by-side.json"))
            let first = reports.first?.report
            let load = first.map { $0.configuration.mode == "open" ? "open loop \(ReportBuilder.format($0.configuration.rate))/s" : "closed loop ×\($0.configuration.concurrency)" } ?? ""
            let title = "Victims beside the default storm, \(first?.configuration.hops ?? 0)-hop chain, \(load), one sitting"
            try Data(PercentilePlot.svg(sideBySide: reports, floor: floorResult, title: title).utf8)
                .write(to: URL(fileURLWithPath: "\(self.out)/plot.svg"))
            print(sideBySide.text)
            print("\nSide by side: \(self.out)/  (side-by-side.txt, side-by-side.md, side-by-side.json, plot.svg)")
        }
    }
}
