/// Passive outlier ejection: an endpoint whose calls fail `unavailable` (or whose connection attempts fail) this many
/// times in a row is not chosen for a while, even when its connection looks ready.
///
/// Defaults: 5 consecutive failures (grpc's `consecutive_5xx` and Finagle's failure accrual both use 5); ejected for
/// 10 s, then 20 s, 30 s … for each ejection in a row, at most 5 minutes (grpc: 30 s base, 300 s cap; Finagle: 5 s to
/// 300 s). An endpoint is never ejected when that would leave no endpoint to choose (Finagle's "panic mode").
public struct OutlierEjection: Sendable, Hashable {
    /// Failures in a row that eject an endpoint.
    public var consecutiveFailures: Int = 5
    /// How long the first ejection lasts; the n-th ejection in a row lasts n times as long.
    public var baseEjectionTime: Duration = .seconds(10)
    /// The longest an ejection lasts.
    public var maximumEjectionTime: Duration = .seconds(300)

    /// The defaults: 5 failures, 10 s growing by 10 s per repeat, at most 300 s.
    public init() {}

    /// How long the `count`-th consecutive ejection lasts.
    func ejectionTime(count: Int) -> Duration {
        let nanos = min(Double(self.baseEjectionTime.nanoseconds) * Double(max(1, count)), Double(self.maximumEjectionTime.nanoseconds))
        return .nanoseconds(Int64(nanos))
    }
}
