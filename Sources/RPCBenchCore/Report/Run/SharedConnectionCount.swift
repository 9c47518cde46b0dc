/// The shared connections of a run: a connection opened beyond one per client replaced one that was lost.
public struct SharedConnectionCount: Sendable, Codable, Hashable {
    /// Whether the stack's harness counted them (false: the other figures are 0).
    public var counted: Bool
    /// Shared clients.
    public var clients: Int
    /// Connections they opened.
    public var opened: Int
    /// Connections lost and reopened (`opened - clients`, at least 0).
    public var lost: Int

    /// Creates a count; `lost` follows from the others.
    public init(clients: Int, opened: Int) {
        self.counted = true
        self.clients = clients
        self.opened = opened
        self.lost = max(0, opened - clients)
    }

    /// For stacks whose harness does not count connections.
    public static let notCounted: SharedConnectionCount = {
        var count = SharedConnectionCount(clients: 0, opened: 0)
        count.counted = false
        return count
    }()
}
