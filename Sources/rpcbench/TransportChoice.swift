import ArgumentParser

/// `rpcbench run --transport`: what the embedded chain's connections use.
enum TransportChoice: String, ExpressibleByArgument, CaseIterable, Sendable {
    /// No TLS (the default).
    case plaintext
    /// TLS on every connection: the bench's clients to hop 1 and each hop to the next.
    case tls
    /// The whole run over plaintext, then again over TLS, and the two side by side.
    case both
}
