extension Duration {
    /// The duration in whole nanoseconds (saturating).
    public var benchNanoseconds: Int64 {
        let (seconds, attoseconds) = self.components
        let (fromSeconds, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (total, overflow2) = fromSeconds.addingReportingOverflow(attoseconds / 1_000_000_000)
        if overflow2 { return seconds < 0 ? .min : .max }
        return total
    }

    /// The duration in seconds, as a `Double`.
    public var benchSeconds: Double {
        Double(self.benchNanoseconds) / 1e9
    }

    /// The duration in microseconds, as a `Double`.
    public var benchMicroseconds: Double {
        Double(self.benchNanoseconds) / 1e3
    }
}
