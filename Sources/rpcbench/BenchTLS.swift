import DeadlineRPC
import RPCBenchCore
import ThrowawayPKI

/// The certificates of `rpcbench --tls`: a throwaway CA made at start and one certificate for the embedded
/// servers, checked by name (``serverName``) by every client.
enum BenchTLS {
    /// The name every client sends as SNI and checks the servers' certificate against.
    static let serverName = "rpcbench.bench.test"

    /// `configuration` with TLS on every connection of the embedded chain: servers, hop clients and the bench's
    /// own clients (the storm's disconnect clients included).
    static func secure(_ configuration: BenchConfiguration) throws -> BenchConfiguration {
        let ca = try ThrowawayCA(name: "rpcbench throwaway CA")
        let servers = try ca.issue(commonName: "rpcbench", dnsNames: [Self.serverName])
        var secured = configuration
        secured.server.transportSecurity = servers.serverSecurity
        secured.server.hopClientSecurity = servers.clientSecurity(serverName: Self.serverName)
        secured.clientSecurity = servers.clientSecurity(serverName: Self.serverName)
        return secured
    }
}
