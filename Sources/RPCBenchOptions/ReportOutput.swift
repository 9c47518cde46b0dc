import ArgumentParser
import Foundation
import RPCBenchCore

/// How `rpcbench` and `peer-storm` end a run, alike: the table on stdout, `report.json`, `plot.svg` and any extra
/// files in a timestamped folder (its path on a `Results:` line, which scripts read), and exit status 2 when
/// handlers were still in flight after the run (a correctness failure; missed goals do not change it).
public enum ReportOutput {
    /// Prints, writes and checks; `notes` are printed after the table, `extraFiles` written beside the report.
    public static func finish(
        _ report: BenchReport,
        tool: String,
        under root: String,
        notes: [String] = [],
        extraFiles: [String: Data] = [:]
    ) throws {
        print(ReportTable.render(report))
        for note in notes { print("\n" + note) }
        let folder = try ResultsFolder.write(report, plot: PercentilePlot.svg(for: report), under: root)
        for (name, data) in extraFiles {
            try data.write(to: URL(fileURLWithPath: "\(folder)/\(name)"))
        }
        print("\nResults: \(folder)/  (" + (["report.json", "plot.svg"] + extraFiles.keys.sorted()).joined(separator: ", ") + ")")
        if !report.afterRun.drained || report.afterRun.handlersInFlight != 0 {
            Self.log("\(tool): handlers were still in flight after the run (see afterRun in report.json)")
            throw ExitCode(2)
        }
    }

    /// Writes a line to stderr.
    public static func log(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
