import DeadlineRPC
import Synchronization
import Testing

/// Issue #14 point 3: typed values declared as ``PropagatedKey``s cross hops with no hand-written plumbing, and two
/// keys that want one wire name are refused at registration, naming both Swift types.
@Suite("Propagated keys: typed ServiceContext values across hops", .timeLimit(.minutes(5)))
struct PropagatedKeyTests {
    static let whoAmI = Method<Echo, Echo>.unary("test.Accounts/WhoAmI")

    enum Reserved: PropagatedKey {
        typealias Value = String
        static let wireName = "drpc-user_id"
    }

    enum Shouting: PropagatedKey {
        typealias Value = String
        static let wireName = "User-ID"
    }

    @Test("Two keys with one wire name are refused at registration, naming both Swift types")
    func duplicateWireNameRefused() throws {
        var keys = PropagatedKeys()
        try keys.register(Accounts.UserID.self)
        try keys.register(Billing.UserID.self)
        try keys.register(Accounts.UserID.self)  // The same key again (listed by two modules): no change.
        #expect(keys.wireNames == ["accounts.user_id", "billing.user_id"])

        let error = #expect(throws: PropagatedKeyRegistrationError.self) { try keys.register(Billing.AccountHolder.self) }
        #expect(error == .duplicateWireName("accounts.user_id", registered: "DeadlineRPCTests.Accounts.UserID", registering: "DeadlineRPCTests.Billing.AccountHolder"))
        #expect(error?.description == "Propagated keys DeadlineRPCTests.Accounts.UserID and DeadlineRPCTests.Billing.AccountHolder both travel as metadata 'accounts.user_id'; give one of them another wireName (e.g. prefixed with its module: '<module>.accounts.user_id').")
        #expect(keys.wireNames == ["accounts.user_id", "billing.user_id"])
        #expect(throws: PropagatedKeyRegistrationError.duplicateWireName("accounts.user_id", registered: "DeadlineRPCTests.Accounts.UserID", registering: "DeadlineRPCTests.Billing.AccountHolder")) {
            try PropagatedKeys([Accounts.UserID.self, Billing.AccountHolder.self])
        }
    }

    @Test("A wire name in the runtime's reserved prefix, or not a metadata key, is refused at registration")
    func invalidWireNameRefused() {
        let reserved = #expect(throws: PropagatedKeyRegistrationError.self) { try PropagatedKeys([Reserved.self]) }
        #expect(reserved?.description == "Propagated key DeadlineRPCTests.PropagatedKeyTests.Reserved has wire name 'drpc-user_id', which is not a valid metadata key: Metadata key 'drpc-user_id' uses the prefix 'drpc-' reserved for the runtime.")
        let shouting = #expect(throws: PropagatedKeyRegistrationError.self) { try PropagatedKeys([Shouting.self]) }
        #expect(shouting?.description == "Propagated key DeadlineRPCTests.PropagatedKeyTests.Shouting has wire name 'User-ID', which is not a valid metadata key: Metadata key 'User-ID' has byte 0x55; keys are lowercase ASCII tokens (a-z 0-9 - _ .).")
    }

    @Test("Values read in a handler travel on to its outbound calls, two hops, with no plumbing; the wire carries one entry per key")
    func valuesCrossTwoHops() async throws {
        // guide:begin propagated-keys-register
        var keys = PropagatedKeys()
        try keys.register(Accounts.UserID.self)
        try keys.register(Billing.UserID.self)
        var serverConfiguration = RPCServer.Configuration()
        serverConfiguration.propagatedKeys = keys
        var clientConfiguration = RPCClient.Configuration()
        clientConfiguration.propagatedKeys = keys
        // guide:end propagated-keys-register
        let log = MetadataLog()

        var leaf = Router()
        leaf.unary(Self.whoAmI) { _, context in
            log.record(context.metadata)
            return Echo(text: "leaf: \(context.serviceContext[Accounts.UserID.self] ?? "-") \(Billing.UserID.current.map(String.init) ?? "-")")
        }
        try await withServerAndClient(router: leaf, serverConfiguration: serverConfiguration, clientConfiguration: clientConfiguration) { [serverConfiguration, clientConfiguration] _, leafClient in
            var middle = Router()
            // guide:begin propagated-keys-handler
            middle.unary(Self.whoAmI) { request, context in
                log.record(context.metadata)
                // Nothing is passed along by hand: the call reads the handler's context.
                let below = try await leafClient.unary(Self.whoAmI, request)
                return Echo(text: "middle: \(Accounts.UserID.current ?? "-") \(context.serviceContext[Billing.UserID.self].map(String.init) ?? "-"); \(below.text)")
            }
            // guide:end propagated-keys-handler
            try await withServerAndClient(router: middle, serverConfiguration: serverConfiguration, clientConfiguration: clientConfiguration) { _, client in
                // guide:begin propagated-keys-call
                let reply = try await Accounts.UserID.withValue("ada") {
                    try await Billing.UserID.withValue(42) {
                        try await client.unary(Self.whoAmI, Echo(text: "?"), options: CallOptions(timeout: .seconds(10)))
                    }
                }
                // guide:end propagated-keys-call
                #expect(reply.text == "middle: ada 42; leaf: ada 42")
            }
        }
        #expect(log.all == [
            ["accounts.user_id": "ada", "billing.user_id": "42"],
            ["accounts.user_id": "ada", "billing.user_id": "42"],
        ])
    }

    @Test("Only registered keys cross: an unregistered key's value stays in the process")
    func onlyRegisteredKeysCross() async throws {
        let log = MetadataLog()
        var router = Router()
        router.unary(Self.whoAmI) { request, context in
            log.record(context.metadata)
            return Echo(text: "\(context.serviceContext[Accounts.UserID.self] ?? "-") \(context.serviceContext[Billing.UserID.self].map(String.init) ?? "-")")
        }
        var serverConfiguration = RPCServer.Configuration()
        serverConfiguration.propagatedKeys = try PropagatedKeys([Accounts.UserID.self, Billing.UserID.self])
        var clientConfiguration = RPCClient.Configuration()
        clientConfiguration.propagatedKeys = try PropagatedKeys([Accounts.UserID.self])
        try await withServerAndClient(router: router, serverConfiguration: serverConfiguration, clientConfiguration: clientConfiguration) { _, client in
            let reply = try await Accounts.UserID.withValue("ada") {
                try await Billing.UserID.withValue(42) {
                    try await client.unary(Self.whoAmI, Echo(text: "?"), options: CallOptions(timeout: .seconds(10)))
                }
            }
            #expect(reply.text == "ada -")
            #expect(log.all == [["accounts.user_id": "ada"]])
        }
    }

    @Test("The server refuses a propagated value that does not decode, or comes twice, with invalidArgument; the handler does not run")
    func serverRefusesMalformedValues() async throws {
        let handlerRuns = Atomic<Int>(0)
        var router = Router()
        router.unary(Self.whoAmI) { request, _ in
            handlerRuns.add(1, ordering: .relaxed)
            return request
        }
        var serverConfiguration = RPCServer.Configuration()
        serverConfiguration.propagatedKeys = try PropagatedKeys([Accounts.UserID.self, Billing.UserID.self])
        // A client that registers nothing: its metadata is whatever the caller writes.
        try await withServerAndClient(router: router, serverConfiguration: serverConfiguration) { _, client in
            let notAnInt = await #expect(throws: RPCError.self) {
                try await client.unary(Self.whoAmI, Echo(text: "?"), options: CallOptions(timeout: .seconds(10), metadata: ["billing.user_id": "forty-two"]))
            }
            #expect(notAnInt?.code == .invalidArgument)
            #expect(notAnInt?.message == "Request metadata 'billing.user_id' does not hold a valid Swift.Int for propagated key DeadlineRPCTests.Billing.UserID.")

            let twice = await #expect(throws: RPCError.self) {
                try await client.unary(Self.whoAmI, Echo(text: "?"), options: CallOptions(timeout: .seconds(10), metadata: ["accounts.user_id": "ada", "accounts.user_id": "eve"]))
            }
            #expect(twice?.code == .invalidArgument)
            #expect(twice?.message == "Request metadata key 'accounts.user_id' (propagated key DeadlineRPCTests.Accounts.UserID) appears more than once; a propagated key carries exactly one value.")
            #expect(handlerRuns.load(ordering: .relaxed) == 0)
        }
    }

    @Test("A value that cannot be sent as metadata fails the call with invalidArgument naming the key; nothing is sent")
    func unsendableValueRefused() async throws {
        var router = Router()
        router.unary(Self.whoAmI) { request, _ in request }
        var clientConfiguration = RPCClient.Configuration()
        clientConfiguration.propagatedKeys = try PropagatedKeys([Accounts.UserID.self])
        try await withServerAndClient(router: router, clientConfiguration: clientConfiguration) { server, client in
            let error = await #expect(throws: RPCError.self) {
                try await Accounts.UserID.withValue("zoë") {
                    try await client.unary(Self.whoAmI, Echo(text: "?"), options: CallOptions(timeout: .seconds(10)))
                }
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message == "Invalid request metadata written by propagated key DeadlineRPCTests.Accounts.UserID: Metadata value for 'accounts.user_id' has a byte outside printable ASCII (CR, LF, NUL or non-ASCII). Nothing was sent.")
            #expect(server.stats.callsStarted == 0)
        }
    }
}
