import ArgumentParser
import DeadlineRPC

/// The options every subcommand takes: where the server is, how to secure the connection, the call's budget and
/// metadata, and how to print.
struct ConnectionOptions: ParsableArguments {
    @Argument(help: "The server, HOST:PORT (an IPv6 address in brackets: [::1]:7000).")
    var target: String

    @Option(name: .long, help: "The call's budget, e.g. 250ms, 1.5s (the method's default timeout still applies when shorter).")
    var timeout: TimeoutArgument?

    @Option(name: [.customShort("H"), .customLong("header")], help: "Request metadata, key:value (repeatable).")
    var headers: [String] = []

    @Flag(name: .shortAndLong, help: "Also print the status, its message, the trailers and the budget attribution.")
    var verbose = false

    @Flag(name: .long, help: "Print one JSON document for scripts instead of text.")
    var json = false

    @Flag(name: .long, help: "Connect with TLS, verifying the server against the system's trust roots (or --ca).")
    var tls = false

    @Option(name: .long, help: "A PEM file of the CA certificates the server's certificate must chain to (implies --tls).")
    var ca: String?

    @Option(name: .long, help: "A PEM certificate chain to present for mutual TLS (with --key; implies --tls).")
    var cert: String?

    @Option(name: .long, help: "The PEM private key of --cert.")
    var key: String?

    @Option(name: .long, help: "The name to send as SNI and check the server's certificate against (default: HOST).")
    var serverName: String?

    func validate() throws {
        if (self.cert == nil) != (self.key == nil) {
            throw ValidationError("--cert and --key go together (mutual TLS needs both).")
        }
        _ = try self.metadata()
        _ = try self.parsedTarget()
    }

    /// The request metadata from `-H key:value`.
    func metadata() throws -> Metadata {
        var metadata = Metadata()
        for header in self.headers {
            guard let colon = header.firstIndex(of: ":"), colon != header.startIndex else {
                throw ValidationError("-H '\(header)': expected key:value.")
            }
            let key = String(header[..<colon]).trimmingSpaces()
            let value = String(header[header.index(after: colon)...]).trimmingSpaces()
            if let problem = Metadata.validate(key: key, value: .string(value)) {
                throw ValidationError("-H '\(header)': \(problem)")
            }
            metadata.add(value, forKey: key)
        }
        return metadata
    }

    /// HOST:PORT as a target.
    func parsedTarget() throws -> Target {
        do {
            return try Target(parsing: self.target)
        } catch {
            throw ValidationError("\(error)")
        }
    }

    /// The transport security the TLS flags ask for.
    var transportSecurity: ClientTransportSecurity {
        guard self.tls || self.ca != nil || self.cert != nil else { return .plaintext }
        let roots: TLSTrustRoots = self.ca.map { .certificates([.pemFile($0)]) } ?? .system
        if let cert = self.cert, let key = self.key {
            return .mutualTLS(certificateChain: [.pemFile(cert)], privateKey: .pemFile(key), trustRoots: roots, serverName: self.serverName)
        }
        return .tls(trustRoots: roots, serverName: self.serverName)
    }

    /// Runs `body` with a client for the target, closing it afterwards.
    func withClient<Result>(_ body: (RPCClient) async throws -> Result) async throws -> Result {
        var configuration = RPCClient.Configuration()
        configuration.transportSecurity = self.transportSecurity
        configuration.logger.logLevel = .critical
        // One server, called once: no outlier ejection or budget-aware picking to reason about.
        configuration.outlierEjection = nil
        configuration.budgetAwarePicking = nil
        let client = RPCClient(target: try self.parsedTarget(), configuration: configuration)
        do {
            let result = try await body(client)
            await client.close()
            return result
        } catch {
            await client.close()
            throw error
        }
    }

    /// Call options with the timeout and headers (plus `extra` metadata).
    func callOptions(adding extra: Metadata = Metadata()) throws -> CallOptions {
        var metadata = try self.metadata()
        for (key, value) in extra { metadata.add(value, forKey: key) }
        return CallOptions(timeout: self.timeout?.duration, metadata: metadata)
    }
}

extension String {
    /// Without leading and trailing spaces (`-H 'key: value'`).
    fileprivate func trimmingSpaces() -> String {
        String(self.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
