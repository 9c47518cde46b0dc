import DemoTopology

/// DeadlineRPC now has an `Endpoint` of its own (Resolution/Endpoint.swift); in this module the bare name keeps
/// meaning the demo topology's. A stopgap until the two are reconciled.
package typealias Endpoint = DemoTopology.Endpoint
