import Foundation

/// Writes a run's files: `<root>/<timestamp>/report.json` and `plot.svg`.
public enum ResultsFolder {
    /// The folder name for a run started at `date`: `2026-11-25T12-00-00Z` (no colons, sortable).
    public static func name(for date: Date) -> String {
        date.formatted(.iso8601).replacingOccurrences(of: ":", with: "-")
    }

    /// Creates the folder and writes the report and the plot; returns the folder's path.
    @discardableResult
    public static func write(_ report: BenchReport, plot: String, under root: String = "results", date: Date = Date()) throws -> String {
        try Self.write(files: ["report.json": try report.json(), "plot.svg": Data(plot.utf8)], under: root, date: date)
    }

    /// Creates the folder (a new one when the name is taken) and writes `files` into it; returns its path.
    @discardableResult
    public static func write(files: [String: Data], under root: String = "results", date: Date = Date()) throws -> String {
        var folder = "\(root)/\(Self.name(for: date))"
        var attempt = 1
        while FileManager.default.fileExists(atPath: folder) {
            attempt += 1
            folder = "\(root)/\(Self.name(for: date))-\(attempt)"
        }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for (name, data) in files.sorted(by: { $0.key < $1.key }) {
            try data.write(to: URL(fileURLWithPath: "\(folder)/\(name)"))
        }
        return folder
    }
}
