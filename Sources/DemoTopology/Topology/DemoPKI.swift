import Foundation
import ThrowawayPKI

/// The certificates of one `--tls` run: a throwaway CA made at start and one certificate per service, named
/// ``ServiceTLS/serverName(_:)``. Demo only (`docs/SECURITY.md`): the CA's key lives in this process.
package struct DemoPKI: Sendable {
    /// The CA.
    package let ca: ThrowawayCA
    /// Each service's certificate and key.
    package let identities: [ServiceName: ThrowawayIdentity]

    /// Issues every service its certificate. The services share 127.0.0.1, so certificates carry DNS names only
    /// (an IP SAN of 127.0.0.1 on every certificate would let one service pass for another: swift-nio-ssl accepts
    /// a certificate naming the address it connected to). `extraNames` and `ipAddresses` add SANs per service,
    /// for hosts of their own (`launch --hosts`), whose addresses are their own.
    package init(
        extraNames: (ServiceName) -> [String] = { _ in [] },
        ipAddresses: (ServiceName) -> [String] = { _ in [] }
    ) throws {
        let ca = try ThrowawayCA(name: "demo-services throwaway CA")
        var identities: [ServiceName: ThrowawayIdentity] = [:]
        for service in ServiceName.allCases {
            identities[service] = try ca.issue(
                commonName: service.rawValue,
                dnsNames: [ServiceTLS.serverName(service)] + extraNames(service),
                ipAddresses: ipAddresses(service)
            )
        }
        self.ca = ca
        self.identities = identities
    }

    /// `service`'s TLS settings.
    package func tls(_ service: ServiceName) -> ServiceTLS {
        ServiceTLS(identity: self.identities[service]!)
    }

    /// Writes every service's certificate and key, and the CA, into a new directory only this user can read, for
    /// `serve` processes; returns it and the files. The caller removes it when the processes are gone.
    package func writeFiles() throws -> (directory: URL, files: [ServiceName: ThrowawayFiles]) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("demo-services-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        var files: [ServiceName: ThrowawayFiles] = [:]
        for (service, identity) in self.identities {
            files[service] = try identity.write(to: directory, name: service.rawValue)
        }
        return (directory, files)
    }
}
