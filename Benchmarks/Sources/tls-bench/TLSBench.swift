import ArgumentParser

/// `tls-bench`: what TLS costs DeadlineRPC beyond the echo figures (`echo-bench --tls`): full handshakes, and a
/// legitimate client's latency while a flood of handshakes (and trickled ClientHellos) hits the server.
@main
struct TLSBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tls-bench",
        abstract: "TLS handshake cost, and a legitimate client's latency during a handshake flood (issue #17).",
        subcommands: [HandshakesCommand.self, FloodCommand.self]
    )
}
