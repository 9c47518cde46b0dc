/// A command line or input drpc cannot act on: printed as `drpc: REASON` and exit code 64.
struct DRPCUsageError: Error, CustomStringConvertible {
    /// What is wrong and what to do instead.
    var reason: String

    var description: String { self.reason }
}
