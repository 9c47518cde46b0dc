/// How a server's or client's certificate reloads went (``ServerStats/tlsReloads``, ``ClientStats/tlsReloads``):
/// each reload — on the interval or asked for — either took (new connections use the new material) or failed and
/// kept the old material.
public struct TLSReloadStats: Sendable, Hashable {
    /// Reloads that took.
    public var succeeded: Int = 0
    /// Reloads that failed, by cause; a cause that never happened is absent.
    public var failed: [TLSReloadError.Cause: Int] = [:]

    /// Reloads that failed, whatever the cause.
    public var failedTotal: Int { self.failed.values.reduce(0, +) }

    /// Creates empty stats.
    public init() {}
}
