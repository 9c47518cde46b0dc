#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Percentile plots as standalone SVG.
public enum PercentilePlot {
    /// One panel's width, px.
    static let panelWidth = 560.0
    /// One panel's height, px.
    static let panelHeight = 420.0
    /// Space around a panel's plot area (axis labels, title, legend), px.
    static let margin = (left: 70.0, right: 20.0, top: 50.0, bottom: 110.0)

    /// The plot of a report: victims calm vs storm vs storm with propagation off, and cancel/deadline → handler
    /// task at the first and last hop.
    public static func svg(for report: BenchReport) -> String {
        var victims: [PlotSeries] = []
        let styles: [String: (String, Bool)] = [
            ReportBuilder.PhaseName.calm: ("#2b6cb0", false),
            ReportBuilder.PhaseName.storm: ("#c53030", false),
            ReportBuilder.PhaseName.stormPropagationOff: ("#dd6b20", true),
        ]
        for phase in report.phases {
            let style = styles[phase.name] ?? ("#4a5568", false)
            let label = "\(phase.name) (p99 \(ReportBuilder.format(phase.victims.latencyMicroseconds.p99)) µs)"
            victims.append(PlotSeries(name: label, points: phase.victims.percentileCurve, color: style.0, dashed: style.1))
        }
        var cancels: [PlotSeries] = []
        let hops = report.configuration.hops
        for phase in report.phases where phase.storm {
            let suffix = phase.propagation ? "" : ", propagation off"
            let dashed = !phase.propagation
            let results = phase.stormResults
            cancels.append(PlotSeries(name: "cancel → task, hop 1\(suffix)", points: results.cancelToHandlerTask.firstHopCurve, color: "#2f855a", dashed: dashed))
            if hops > 1 {
                cancels.append(PlotSeries(name: "cancel → task, hop \(hops)\(suffix)", points: results.cancelToHandlerTask.lastHopCurve, color: "#805ad5", dashed: dashed))
            }
            cancels.append(PlotSeries(name: "deadline → task, hop 1\(suffix)", points: results.deadlineToHandlerTask.firstHopCurve, color: "#d69e2e", dashed: dashed))
            if hops > 1 {
                cancels.append(PlotSeries(name: "deadline → task, hop \(hops)\(suffix)", points: results.deadlineToHandlerTask.lastHopCurve, color: "#b83280", dashed: dashed))
            }
        }
        let c = report.configuration
        let title = "rpcbench — \(c.stack), \(report.target), \(c.hops)-hop chain, \(c.mode == "open" ? "open loop \(ReportBuilder.format(c.rate))/s" : "closed loop ×\(c.concurrency)"), \(report.startedAt)"
        return Self.svg(
            title: title,
            panels: [
                PlotPanel(title: "Victim latency (\(report.victimCalls))", series: victims),
                PlotPanel(title: "Storm: death → handler task cancelled", series: cancels.filter { !$0.points.isEmpty }),
            ]
        )
    }

    /// Renders panels side by side under a title.
    public static func svg(title: String, panels: [PlotPanel]) -> String {
        let width = Self.panelWidth * Double(max(1, panels.count))
        let height = Self.panelHeight + 30
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(Int(width / 2))" y="20" text-anchor="middle" font-size="14" font-weight="bold">\(Self.escape(title))</text>

            """
        for (index, panel) in panels.enumerated() {
            svg += Self.panel(panel, originX: Double(index) * Self.panelWidth, originY: 30)
        }
        svg += "</svg>\n"
        return svg
    }

    /// x position of a percentile: log10(1 / (1 − p)), so 90, 99, 99.9 … are evenly spaced.
    public static func percentileAxisValue(_ percentile: Double) -> Double {
        let p = min(max(percentile, 0), 99.9999) / 100
        return log10(1 / (1 - p))
    }

    private static func panel(_ panel: PlotPanel, originX: Double, originY: Double) -> String {
        let left = originX + Self.margin.left
        let top = originY + Self.margin.top
        let plotWidth = Self.panelWidth - Self.margin.left - Self.margin.right
        let plotHeight = Self.panelHeight - Self.margin.top - Self.margin.bottom
        let values = panel.series.flatMap(\.points)
        let xMax = max(3, (values.map { Self.percentileAxisValue($0.percentile) }.max() ?? 3).rounded(.up))
        let lows = values.map { max(1, $0.microseconds) }
        let yMin = floor(log10(lows.min() ?? 10))
        let yMax = max(yMin + 1, ceil(log10(lows.max() ?? 1_000)))
        func x(_ percentile: Double) -> Double { left + Self.percentileAxisValue(percentile) / xMax * plotWidth }
        func y(_ microseconds: Double) -> Double {
            top + plotHeight - (log10(max(1, microseconds)) - yMin) / (yMax - yMin) * plotHeight
        }

        var svg = "<g>\n"
        svg += "<text x=\"\(f(left + plotWidth / 2))\" y=\"\(f(originY + 30))\" text-anchor=\"middle\" font-size=\"13\">\(Self.escape(panel.title))</text>\n"
        svg += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotWidth))\" height=\"\(f(plotHeight))\" fill=\"none\" stroke=\"#a0aec0\"/>\n"
        // y grid: decades.
        var decade = yMin
        while decade <= yMax {
            let value = pow(10, decade)
            let yy = y(value)
            svg += "<line x1=\"\(f(left))\" y1=\"\(f(yy))\" x2=\"\(f(left + plotWidth))\" y2=\"\(f(yy))\" stroke=\"#e2e8f0\"/>\n"
            svg += "<text x=\"\(f(left - 6))\" y=\"\(f(yy + 4))\" text-anchor=\"end\">\(Self.microsecondsLabel(value))</text>\n"
            decade += 1
        }
        // x grid: 0, 90, 99, 99.9, …
        var nines = 0.0
        while nines <= xMax {
            let percentile = 100 * (1 - pow(10, -nines))
            let xx = left + nines / xMax * plotWidth
            svg += "<line x1=\"\(f(xx))\" y1=\"\(f(top))\" x2=\"\(f(xx))\" y2=\"\(f(top + plotHeight))\" stroke=\"#e2e8f0\"/>\n"
            svg += "<text x=\"\(f(xx))\" y=\"\(f(top + plotHeight + 16))\" text-anchor=\"middle\">\(Self.percentileLabel(percentile))</text>\n"
            nines += 1
        }
        svg += "<text x=\"\(f(left + plotWidth / 2))\" y=\"\(f(top + plotHeight + 34))\" text-anchor=\"middle\">percentile</text>\n"
        svg += "<text transform=\"translate(\(f(originX + 16)) \(f(top + plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\">latency (log scale)</text>\n"
        if panel.series.isEmpty {
            svg += "<text x=\"\(f(left + plotWidth / 2))\" y=\"\(f(top + plotHeight / 2))\" text-anchor=\"middle\" fill=\"#718096\">no data</text>\n"
        }
        for (index, series) in panel.series.enumerated() {
            let points = series.points.map { "\(f(x($0.percentile))),\(f(y($0.microseconds)))" }.joined(separator: " ")
            let dash = series.dashed ? " stroke-dasharray=\"6 4\"" : ""
            svg += "<polyline fill=\"none\" stroke=\"\(series.color)\" stroke-width=\"2\"\(dash) points=\"\(points)\"/>\n"
            // Legend, below the axis label.
            let column = Double(index % 2)
            let row = Double(index / 2)
            let lx = left + column * (plotWidth / 2)
            let ly = top + plotHeight + 52 + row * 16
            svg += "<line x1=\"\(f(lx))\" y1=\"\(f(ly - 4))\" x2=\"\(f(lx + 18))\" y2=\"\(f(ly - 4))\" stroke=\"\(series.color)\" stroke-width=\"2\"\(dash)/>\n"
            svg += "<text x=\"\(f(lx + 24))\" y=\"\(f(ly))\" font-size=\"11\">\(Self.escape(series.name))</text>\n"
        }
        svg += "</g>\n"
        return svg
    }

    /// An axis label for a latency: `100 µs`, `2 ms`, `1 s`.
    static func microsecondsLabel(_ value: Double) -> String {
        if value >= 1_000_000 { return "\(ReportBuilder.format(value / 1_000_000)) s" }
        if value >= 1_000 { return "\(ReportBuilder.format(value / 1_000)) ms" }
        return "\(ReportBuilder.format(value)) µs"
    }

    /// An axis label for a percentile: `0%`, `90%`, `99.9%`.
    static func percentileLabel(_ percentile: Double) -> String {
        if percentile == 0 { return "0%" }
        var text = "\(percentile)"
        if text.hasSuffix(".0") { text.removeLast(2) }
        // Trim floating noise such as 99.90000000000001.
        if let dot = text.firstIndex(of: "."), text.distance(from: dot, to: text.endIndex) > 7 {
            text = String(text[..<text.index(dot, offsetBy: 7)])
            while text.hasSuffix("0") { text.removeLast() }
        }
        return text + "%"
    }

    /// Escapes text for XML.
    public static func escape(_ text: String) -> String {
        var escaped = ""
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    private static func f(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return tenths % 10 == 0 ? "\(tenths / 10)" : "\(Double(tenths) / 10)"
    }
}
