import DeadlineRPC

extension Duration {
    /// The duration in whole nanoseconds (rounded toward zero, saturating): DeadlineRPC's own conversion, under a
    /// public name for RPCBenchCore's importers, since the runtime keeps it `package`.
    public var benchNanoseconds: Int64 { self.nanoseconds }

    /// The duration in seconds, as a `Double`.
    public var benchSeconds: Double {
        Double(self.benchNanoseconds) / 1e9
    }

    /// The duration in microseconds, as a `Double`.
    public var benchMicroseconds: Double {
        Double(self.benchNanoseconds) / 1e3
    }
}
