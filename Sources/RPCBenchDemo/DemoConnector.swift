import DemoTopology
import RPCBenchCore

/// Opens the disconnect storm's connections of their own to the demo topology's gateways.
package struct DemoConnector: BenchConnector {
    /// The gateway of the topology that propagates.
    package let propagating: ServiceAddress
    /// The gateway of the topology that does not, if there is one.
    package let leaking: ServiceAddress?

    /// A connector for these gateways.
    package init(propagating: ServiceAddress, leaking: ServiceAddress?) {
        self.propagating = propagating
        self.leaking = leaking
    }

    /// Runs `body` with a new ``DemoConnection`` (it connects on its first call) and closes it afterwards.
    package func withConnection<Result: Sendable>(_ body: (any BenchConnection) async -> Result) async throws -> Result {
        let connection = DemoConnection(propagating: self.propagating, leaking: self.leaking)
        let result = await body(connection)
        await connection.close()
        return result
    }
}
