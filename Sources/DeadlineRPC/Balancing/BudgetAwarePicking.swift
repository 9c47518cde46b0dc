/// Beyond the peers: a call is not sent to an endpoint whose recent typical latency already exceeds the call's
/// remaining budget while another endpoint could make it; when none could, the call fails at once with
/// `deadlineExceeded` (counted in ``ClientStats/shedForLatency``) instead of spending a server's work on an answer
/// nobody will wait for.
///
/// Each endpoint's latency is a time-decayed moving average of its successful calls (start to end, seen from the
/// client). An endpoint with fewer than ``minimumSamples`` recent samples, or none within ``staleAfter``, is
/// assumed able to make any budget, so an endpoint that was slow is tried again later.
public struct BudgetAwarePicking: Sendable, Hashable {
    /// Successful calls an endpoint must have answered before its latency is trusted.
    public var minimumSamples: Int = 10
    /// How fast old samples fade: a sample this old weighs 1/e of a new one.
    public var decayTime: Duration = .seconds(2)
    /// With no sample for this long, an endpoint's estimate is forgotten.
    public var staleAfter: Duration = .seconds(10)

    /// The defaults: 10 samples, 2 s decay, forgotten after 10 s without a sample.
    public init() {}
}
