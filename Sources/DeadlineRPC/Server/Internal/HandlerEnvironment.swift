import Instrumentation

/// What every handler of one server runs inside: the configured interceptors and the instrument that reads the
/// trace context (`traceparent`) from request metadata.
struct HandlerEnvironment: Sendable {
    var interceptors: [any ServerInterceptor] = []
    /// Nil reads `InstrumentationSystem.instrument` per call, so a bootstrap after the server was built still counts.
    var instrument: (any Instrument)? = nil
    /// Typed values read from request metadata after the instrument ran.
    var propagatedKeys = PropagatedKeys()
}
