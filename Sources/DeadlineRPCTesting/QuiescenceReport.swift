import DeadlineRPC

/// What was still running on a ``TestNetwork`` when it was checked (``TestNetwork/quiescence(grace:)``): handlers
/// that had not returned, calls still open, connections still open. Empty lists mean nothing leaked.
public struct QuiescenceReport: Sendable, CustomStringConvertible {
    /// Handlers that had not returned (a handler that ignores cancellation stays here).
    public var runningHandlers: [HandledCall]
    /// Per server name, handler tasks still running as the server counts them (including ones whose call ended).
    public var handlerTasks: [String: Int]
    /// Per server name, calls started and not finished.
    public var openServerCalls: [String: Int]
    /// Per client (its target), calls started and not ended.
    public var openClientCalls: [String: Int]
    /// Per server name, open connections (only checked at the end of the scope, once clients are closed).
    public var openConnections: [String: Int]

    /// Whether nothing was left running.
    public var isQuiescent: Bool {
        self.runningHandlers.isEmpty && self.handlerTasks.values.allSatisfy { $0 == 0 }
            && self.openServerCalls.values.allSatisfy { $0 == 0 }
            && self.openClientCalls.values.allSatisfy { $0 == 0 }
            && self.openConnections.values.allSatisfy { $0 == 0 }
    }

    /// One line per leak, or "nothing left running".
    public var description: String {
        guard !self.isQuiescent else { return "nothing left running" }
        var lines: [String] = []
        for call in self.runningHandlers { lines.append("handler still running: \(call)") }
        for (name, count) in self.handlerTasks.sorted(by: { $0.key < $1.key }) where count > 0 {
            lines.append("\(name): \(count) handler task(s) running")
        }
        for (name, count) in self.openServerCalls.sorted(by: { $0.key < $1.key }) where count > 0 {
            lines.append("\(name): \(count) call(s) open on the server")
        }
        for (name, count) in self.openClientCalls.sorted(by: { $0.key < $1.key }) where count > 0 {
            lines.append("client of \(name): \(count) call(s) open")
        }
        for (name, count) in self.openConnections.sorted(by: { $0.key < $1.key }) where count > 0 {
            lines.append("\(name): \(count) connection(s) open")
        }
        return lines.joined(separator: "\n")
    }
}

/// Thrown by ``TestNetwork/expectQuiescent(grace:)`` and at the end of ``withTestNetwork(_:)`` when something was
/// left running.
public struct QuiescenceError: Error, Sendable, CustomStringConvertible {
    /// What was left.
    public var report: QuiescenceReport

    /// "Left running on the test network:" and the report.
    public var description: String { "Left running on the test network:\n\(self.report)" }
}
