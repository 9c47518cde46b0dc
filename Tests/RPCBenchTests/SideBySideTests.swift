import Foundation
import RPCBenchCore
import Testing

@Suite("Side by side: DeadlineRPC, its peers and the floor in one table", .timeLimit(.minutes(5)))
struct SideBySideTests {
    /// peer-nio's JSON line with the RSS compare.sh adds.
    static let floorLine = """
        {"stack":"nio","mode":"open","concurrency":64,"rate":2000,"payload":64,"calls":12000,"errors":0,"qps":1999.9,\
        "p50_us":60,"p90_us":80,"p99_us":120,"p999_us":300,"max_us":900,"rss_kb":17000}
        """

    /// The fixture report relabelled as another stack, with a worse storm phase and victim errors.
    static var peerReport: BenchReport {
        var report = Fixture.report
        report.configuration.stack = "grpc-swift-2"
        let index = report.phases.firstIndex { $0.name == "storm" }!
        report.phases[index].victims.latencyMicroseconds.p99 *= 4
        report.phases[index].victims.errors = 7
        report.phases[index].victims.errorsByCode = ["unavailable": 7]
        report.comparison = ReportBuilder.comparison(report.phases)
        return report
    }

    @Test("The floor's JSON line decodes, with and without the RSS")
    func floorDecodes() throws {
        let floor = try JSONDecoder().decode(FloorResult.self, from: Data(Self.floorLine.utf8))
        #expect(floor.stack == "nio" && floor.rate == 2_000 && floor.p99 == 120 && floor.rssKilobytes == 17_000)
        #expect(floor.summary.count == 12_000 && floor.summary.p999 == 300)
        #expect(floor.curve.map(\.percentile).prefix(4) == [50, 90, 99, 99.9])
        let bare = Self.floorLine.replacingOccurrences(of: ",\"rss_kb\":17000", with: "")
        #expect(try JSONDecoder().decode(FloorResult.self, from: Data(bare.utf8)).rssKilobytes == nil)
    }

    @Test("A report's column takes the calm and storm victims, cancel and deadline latencies and wasted work")
    func columnFromReport() {
        let report = Fixture.report
        let column = SideBySideColumn(report: report, sharedConnectionsLost: 3)
        let storm = report.phase("storm")!
        #expect(column.stack == "DeadlineRPC")
        #expect(column.victimsCalm == report.phase("calm")!.victims.latencyMicroseconds)
        #expect(column.victimsStorm == storm.victims.latencyMicroseconds)
        #expect(column.p99Ratio == report.comparison.victimP99Ratio)
        #expect(column.cancelToTaskFirstHop == storm.stormResults.cancelToHandlerTask.firstHop)
        #expect(column.wastedWorkMilliseconds == storm.stormResults.wastedWork.totalMilliseconds)
        #expect(column.deadlineNeverReachedTaskByHop == [0, 1, 1])
        #expect(column.sharedConnectionsLost == 3)
        #expect(column.handlersInFlightAfter == 0)
    }

    @Test("Rows have one cell per column; the floor has no storm; Markdown and verdicts compare with the baseline")
    func table() throws {
        let floor = try JSONDecoder().decode(FloorResult.self, from: Data(Self.floorLine.utf8))
        let sideBySide = SideBySideReport(columns: [
            SideBySideColumn(report: Fixture.report),
            SideBySideColumn(report: Self.peerReport),
            SideBySideColumn(floor: floor),
        ])
        let rows = sideBySide.rows
        #expect(rows.allSatisfy { $0.count == 4 })
        #expect(rows[0] == ["figure", "DeadlineRPC", "grpc-swift-2", "raw NIO floor"])
        let storm = try #require(rows.first { $0[0].hasPrefix("victims storm") })
        #expect(storm[3] == "no storm")
        let deadlineLast = try #require(rows.first { $0[0].hasPrefix("deadline → handler task, last hop") })
        #expect(deadlineLast[1] == "1 never")
        let errors = try #require(rows.first { $0[0].hasPrefix("victim errors") })
        #expect(errors[2] == "1 / 7 (unavailable 7)")
        #expect(sideBySide.verdicts.count == 1)
        #expect(sideBySide.verdicts[0].hasPrefix("grpc-swift-2 vs DeadlineRPC: victims' p99 under the storm"))
        #expect(sideBySide.verdicts[0].contains("(4×)"))
        let markdown = sideBySide.markdown.split(separator: "\n").map(String.init)
        #expect(markdown[0] == "| figure | DeadlineRPC | grpc-swift-2 | raw NIO floor |")
        #expect(markdown[1] == "| --- | ---: | ---: | ---: |")
        #expect(markdown.contains { $0.hasPrefix("- grpc-swift-2 vs DeadlineRPC") })
        #expect(sideBySide.text.contains("raw NIO floor"))
        let json = try JSONSerialization.jsonObject(with: sideBySide.json()) as? [String: Any]
        #expect(json?["schema"] as? String == "peerstorm/1")
    }

    @Test("The combined plot has a line per stack and phase, and the floor")
    func plot() throws {
        let floor = try JSONDecoder().decode(FloorResult.self, from: Data(Self.floorLine.utf8))
        let svg = PercentilePlot.svg(
            sideBySide: [("DeadlineRPC", Fixture.report), ("grpc-swift-2", Self.peerReport)],
            floor: floor,
            title: "one sitting"
        )
        #expect(svg.contains("DeadlineRPC, storm"))
        #expect(svg.contains("grpc-swift-2, calm"))
        #expect(svg.contains("raw NIO floor"))
        #expect(svg.components(separatedBy: "<polyline").count - 1 >= 5)
    }
}

@Suite("Shared connections counted by the DeadlineRPC run", .timeLimit(.minutes(5)))
struct SharedConnectionCountTests {
    @Test("Lost connections are those opened beyond one per client; an uncounted stack shows none")
    func counting() {
        #expect(SharedConnectionCount(clients: 4, opened: 4).lost == 0)
        #expect(SharedConnectionCount(clients: 4, opened: 7).lost == 3)
        #expect(SharedConnectionCount(clients: 4, opened: 2).lost == 0)  // a client that never connected
        #expect(!SharedConnectionCount.notCounted.counted)
    }
}
