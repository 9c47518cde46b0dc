import DeadlineRPC

/// The echo server's methods.
enum EchoMethods {
    /// Echoes its text.
    static let echo = Method<EchoMessage, EchoMessage>.unary("demo.Echo/Get")
    /// Waits until cancelled.
    static let wait = Method<EchoMessage, EchoMessage>.unary("demo.Echo/Wait")
}
