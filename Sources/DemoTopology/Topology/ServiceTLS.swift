import DeadlineRPC
import ThrowawayPKI

/// One demo service's TLS settings under `--tls`: its own certificate and key (for its RPC server), and the CA its
/// clients trust. Every client checks its downstream's certificate against the name ``serverName(_:)``, so a
/// service cannot pass for another even though all listen on the same address.
package struct ServiceTLS: Sendable, Hashable {
    /// The service's RPC server settings.
    package var server: ServerTransportSecurity
    /// The CA the service's clients trust.
    package var trustRoots: TLSTrustRoots

    /// Creates the settings from a certificate issued by the topology's CA.
    package init(identity: ThrowawayIdentity) {
        self.server = identity.serverSecurity
        self.trustRoots = .certificates([.pem(identity.caCertificatePEM)])
    }

    /// Creates the settings from files a `launch` wrote (`serve --tls-certificate … --tls-key … --tls-ca …`).
    package init(files: ThrowawayFiles) {
        self.server = .tls(certificateChain: [.pemFile(files.certificate)], privateKey: .pemFile(files.privateKey))
        self.trustRoots = .certificates([.pemFile(files.ca)])
    }

    /// The name `service`'s certificate carries and its callers check: `pricing.demo.test`.
    package static func serverName(_ service: ServiceName) -> String { "\(service.rawValue).demo.test" }

    /// How this service's client to `downstream` connects: TLS, trusting the CA, checking `downstream`'s name.
    package func client(to downstream: ServiceName) -> ClientTransportSecurity {
        .tls(trustRoots: self.trustRoots, serverName: Self.serverName(downstream))
    }

    /// The `serve` arguments that hand a child its files.
    package static func arguments(_ files: ThrowawayFiles) -> [String] {
        ["--tls-certificate", files.certificate, "--tls-key", files.privateKey, "--tls-ca", files.ca]
    }

    /// The line reports print under `--tls`.
    package static let reportLine =
        "TLS: on for every RPC hop (TLS 1.2 minimum, 1.3 preferred; ALPN drpc/1): a throwaway CA made at start issued each service a certificate for NAME.demo.test, and every client verifies its downstream's chain and name. The HTTP front door and /metrics stay plain HTTP."
}
