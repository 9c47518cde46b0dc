extension BenchReport {
    /// What the victim calls were, for headings: checkouts through the demo topology (`--target demo`), else echoes.
    var victimCalls: String { self.target.hasPrefix("demo") ? "checkouts" : "unary echo" }
}
