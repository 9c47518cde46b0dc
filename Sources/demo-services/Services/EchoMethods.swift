import DeadlineRPC

/// The echo server's methods.
enum EchoMethods {
    /// Echoes its text (safe to retry: it changes nothing).
    static let echo = Method<EchoMessage, EchoMessage>.unary("demo.Echo/Get", isIdempotent: true)
    /// Waits until cancelled.
    static let wait = Method<EchoMessage, EchoMessage>.unary("demo.Echo/Wait")
}
