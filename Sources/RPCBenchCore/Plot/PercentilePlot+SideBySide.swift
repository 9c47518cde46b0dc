/// The combined plot of a side-by-side sitting.
extension PercentilePlot {
    /// Two panels: every stack's victims calm (dashed) and under the storm (solid), the floor as five points (legend
    /// names short enough for the two-column legend; the figures are in the table); and
    /// client cancel → handler task cancelled at hop 1 and the last hop for every stack that ran the storm (a stack
    /// whose handler tasks are never cancelled has no line there).
    public static func svg(sideBySide reports: [(label: String, report: BenchReport)], floor: FloorResult?, title: String) -> String {
        let palette = ["#2b6cb0", "#c53030", "#2f855a", "#805ad5", "#d69e2e"]
        var victims: [PlotSeries] = []
        var cancels: [PlotSeries] = []
        for (index, entry) in reports.enumerated() {
            let color = palette[index % palette.count]
            if let calm = entry.report.phase(ReportBuilder.PhaseName.calm) {
                victims.append(PlotSeries(name: "\(entry.label), calm", points: calm.victims.percentileCurve, color: color, dashed: true))
            }
            if let storm = entry.report.phase(ReportBuilder.PhaseName.storm) {
                victims.append(PlotSeries(name: "\(entry.label), storm", points: storm.victims.percentileCurve, color: color))
                let results = storm.stormResults
                cancels.append(PlotSeries(name: "\(entry.label) hop 1", points: results.cancelToHandlerTask.firstHopCurve, color: color))
                if entry.report.configuration.hops > 1 {
                    cancels.append(PlotSeries(name: "\(entry.label) hop \(entry.report.configuration.hops)", points: results.cancelToHandlerTask.lastHopCurve, color: color, dashed: true))
                }
            }
        }
        if let floor {
            victims.append(PlotSeries(name: "raw NIO floor, no storm", points: floor.curve, color: "#4a5568", dashed: true))
        }
        return Self.svg(
            title: title,
            panels: [
                PlotPanel(title: "Victim latency (unary echo), calm dashed, storm solid", series: victims.filter { !$0.points.isEmpty }),
                PlotPanel(title: "Client cancel → handler task cancelled", series: cancels.filter { !$0.points.isEmpty }),
            ]
        )
    }
}
