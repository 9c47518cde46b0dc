import Foundation
import RPCBenchCore

/// What happened to the victims' shared grpc-swift-2 connections over a run (`connections.json`): every TCP
/// connection beyond the first per client replaced one that was lost.
struct SharedConnections: Codable, Sendable {
    /// Shared clients.
    var clients: Int
    /// TCP connections they opened.
    var opened: Int
    /// Connections lost and reopened (`opened - clients`, at least 0).
    var lost: Int
    /// When each connection was opened, seconds after the run started (warm-up included).
    var openedAtSeconds: [Double]

    /// Reads `watch`.
    init(watch: ConnectionWatch, clients: Int, runStartedAt: Int64) {
        let opened = watch.openedAt
        self.clients = clients
        self.opened = opened.count
        self.lost = max(0, opened.count - clients)
        self.openedAtSeconds = opened.map { LatencySummary.round(Double($0 - runStartedAt) / 1e9) }
    }

    /// One line for the terminal.
    var summary: String {
        let reopened = self.openedAtSeconds.dropFirst(self.clients).map { "\(ReportBuilder.format($0)) s" }
        return "\(self.opened) TCP connection\(self.opened == 1 ? "" : "s") for \(self.clients) client\(self.clients == 1 ? "" : "s"): "
            + (self.lost == 0 ? "none lost" : "\(self.lost) lost and reopened (at \(reopened.prefix(12).joined(separator: ", "))\(reopened.count > 12 ? ", …" : "") after the start, warm-up included)")
    }

    /// Pretty-printed JSON.
    func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }
}
