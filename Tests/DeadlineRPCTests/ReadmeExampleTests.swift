import DeadlineRPC
import DeadlineRPCTesting
import Foundation
import Testing

// The README's usage example, compiled and run here so it cannot rot. Keep the two in sync.

// README-EXAMPLE-BEGIN
struct Greeting: Codable, Sendable {
    var text: String
}

// A method is a value shared by client and server: no code generator.
let greet = Method<Greeting, Greeting>.unary("greeter.Greeter/Greet")

func serveAndCall() async throws -> String {
    var router = Router()
    router.unary(greet) { request, context in
        // context.deadline is the caller's budget on this host's clock; any RPCClient call made here
        // inherits it and is cancelled with this handler.
        Greeting(text: "Hello, \(request.text)")
    }
    let server = RPCServer(host: "127.0.0.1", port: 0, router: router)
    return try await withThrowingDiscardingTaskGroup { group in
        group.addTask { try await server.run() }
        let port = try await server.listeningAddress.port!

        let client = RPCClient(host: "127.0.0.1", port: port)
        let reply = try await client.unary(greet, Greeting(text: "Ada"), options: CallOptions(timeout: .seconds(5)))
        await client.close()
        server.beginGracefulShutdown()
        return reply.text
    }
}
// README-EXAMPLE-END

// README-EXAMPLE-BEGIN
// Two modules both want a "user_id" to travel with every call. Each declares its own key: the Swift types keep
// the values apart in ServiceContext, the wire names keep them apart in metadata.
enum Accounting {  // in module Accounting: `public enum UserID`
    enum UserID: PropagatedKey {
        typealias Value = String
        static let wireName = "accounting.user_id"
    }
}
enum Shipping {  // in module Shipping
    enum UserID: PropagatedKey {
        typealias Value = Int
        static let wireName = "shipping.user_id"
    }
}

let whoAmI = Method<Greeting, Greeting>.unary("accounts.Accounts/WhoAmI")

func userIDsTravel() async throws -> String {
    // The same keys on the server and the client: a handler's values travel on to the calls it makes.
    let keys = try PropagatedKeys([Accounting.UserID.self, Shipping.UserID.self])
    var serverConfiguration = RPCServer.Configuration()
    serverConfiguration.propagatedKeys = keys
    var clientConfiguration = RPCClient.Configuration()
    clientConfiguration.propagatedKeys = keys

    var router = Router()
    router.unary(whoAmI) { _, context in
        let accounting = context.serviceContext[Accounting.UserID.self] ?? "nobody"
        let shipping = Shipping.UserID.current.map(String.init) ?? "nobody"
        return Greeting(text: "accounting: \(accounting), shipping: \(shipping)")
    }
    let server = RPCServer(host: "127.0.0.1", port: 0, router: router, configuration: serverConfiguration)
    return try await withThrowingDiscardingTaskGroup { group in
        group.addTask { try await server.run() }
        let port = try await server.listeningAddress.port!

        let client = RPCClient(host: "127.0.0.1", port: port, configuration: clientConfiguration)
        let reply = try await Accounting.UserID.withValue("ada") {
            try await Shipping.UserID.withValue(42) {
                // Sends metadata accounting.user_id: ada, shipping.user_id: 42.
                try await client.unary(whoAmI, Greeting(text: ""), options: CallOptions(timeout: .seconds(5)))
            }
        }
        await client.close()
        server.beginGracefulShutdown()
        return reply.text
    }
}

// Had both modules picked the wire name "user_id", the configuration would not build:
enum CarelessShipping {
    enum UserID: PropagatedKey {
        typealias Value = Int
        static let wireName = "user_id"
    }
}
enum CarelessAccounting {
    enum UserID: PropagatedKey {
        typealias Value = String
        static let wireName = "user_id"
    }
}

func carelessKeys() -> String {
    do {
        _ = try PropagatedKeys([CarelessAccounting.UserID.self, CarelessShipping.UserID.self])
        return "registered"
    } catch {
        // "Propagated keys CarelessAccounting.UserID and CarelessShipping.UserID both travel as metadata
        // 'user_id'; give one of them another wireName (…)"
        return error.description
    }
}
// README-EXAMPLE-END

// README-EXAMPLE-BEGIN
// Two replicas of one service; the client spreads calls over them and moves off one that drains.
func twoReplicas() async throws -> Set<String> {
    let whoAnswers = Method<Greeting, Greeting>.unary("greeter.Greeter/Who", isIdempotent: true)
    let servers = ["a", "b"].map { name in
        var router = Router()
        router.unary(whoAnswers) { _, _ in Greeting(text: name) }
        return RPCServer(host: "127.0.0.1", port: 0, router: router)
    }
    return try await withThrowingDiscardingTaskGroup { group in
        for server in servers { group.addTask { try await server.run() } }
        var endpoints: [Endpoint] = []
        for server in servers { endpoints.append(Endpoint(host: "127.0.0.1", port: try await server.listeningAddress.port!)) }

        // In production: RPCClient(target: .dns("greeter.default.svc.cluster.local", port: 7000)), or
        // Target(parsing: "dns:///greeter.default.svc.cluster.local:7000"): one connection per A/AAAA record.
        var configuration = RPCClient.Configuration()
        configuration.loadBalancing = .roundRobin  // The default is .leastLoaded (power of two choices).
        configuration.interceptors = [RetryInterceptor()]  // Retries go to another replica, within the budget.
        let client = RPCClient(target: .endpoints(endpoints), configuration: configuration)
        // The first calls go to whichever replica is ready first; round robin takes the other in once it is up.
        var answers: Set<String> = []
        var calls = 0
        while answers.count < 2 && calls < 1_000 {
            answers.insert(try await client.unary(whoAnswers, Greeting(text: ""), options: CallOptions(timeout: .seconds(5))).text)
            calls += 1
        }
        await client.close()
        for server in servers { server.beginGracefulShutdown() }
        return answers
    }
}
// README-EXAMPLE-END

// README-EXAMPLE-BEGIN
func checkAndWatchHealth() async throws -> [ServingStatus] {
    // "" (the server as a whole) starts SERVING; set other names from anywhere, at any time.
    let health = HealthService()
    health.setStatus(.serving, forService: "greeter.Greeter")
    var router = Router()
    router.unary(greet) { request, _ in Greeting(text: "Hello, \(request.text)") }
    router.addHealthService(health)
    let server = RPCServer(host: "127.0.0.1", port: 0, router: router)
    return try await withThrowingDiscardingTaskGroup { group in
        group.addTask { try await server.run() }
        let port = try await server.listeningAddress.port!

        let client = RPCClient(host: "127.0.0.1", port: port)
        let checker = HealthClient(client)
        let status = try await checker.check(service: "greeter.Greeter", options: CallOptions(timeout: .seconds(5)))
        // A watch reads the status at once, then each change. Graceful shutdown turns every status NOT_SERVING,
        // sends that to the watchers before the connections' GOAWAY, then ends the watches.
        let watched = try await checker.watch(service: "greeter.Greeter") { statuses in
            var seen: [ServingStatus] = []
            for try await status in statuses {
                seen.append(status)
                if status == .serving { server.beginGracefulShutdown() }
            }
            return seen
        }
        await client.close()
        return [status] + watched  // [SERVING, SERVING, NOT_SERVING]
    }
}
// README-EXAMPLE-END

// README-EXAMPLE-BEGIN
// Mutual TLS: the server accepts only clients whose certificate chains to the CA and carries a prod SPIFFE id.
func callOverMutualTLS(ca: String, serverChain: String, serverKey: String, clientChain: String, clientKey: String) async throws -> String {
    var router = Router()
    router.unary(greet) { request, context in
        // context.peer: the client certificate's subject and SANs (nil on plaintext and one-way TLS).
        Greeting(text: "Hello, \(context.peer?.uris.first ?? "stranger")")
    }
    var serverConfiguration = RPCServer.Configuration()
    serverConfiguration.transportSecurity = .mutualTLS(
        certificateChain: [.pem(serverChain)], privateKey: .pem(serverKey),  // or .pemFile("/etc/drpc/server.pem")
        clientTrustRoots: .certificates([.pem(ca)])
    )
    serverConfiguration.interceptors = [SANAuthorizationInterceptor(uriPrefixes: ["spiffe://example.org/ns/prod/"])]
    let server = RPCServer(host: "127.0.0.1", port: 0, router: router, configuration: serverConfiguration)
    return try await withThrowingDiscardingTaskGroup { group in
        group.addTask { try await server.run() }
        var clientConfiguration = RPCClient.Configuration()
        clientConfiguration.transportSecurity = .mutualTLS(
            certificateChain: [.pem(clientChain)], privateKey: .pem(clientKey),
            trustRoots: .certificates([.pem(ca)]),  // .system for a public CA
            serverName: "localhost"  // SNI and the name checked in the server's certificate
        )
        let client = RPCClient(host: "127.0.0.1", port: try await server.listeningAddress.port!, configuration: clientConfiguration)
        let reply = try await client.unary(greet, Greeting(text: ""), options: CallOptions(timeout: .seconds(5)))
        await client.close()
        server.beginGracefulShutdown()
        return reply.text
    }
}
// README-EXAMPLE-END

// README-EXAMPLE-BEGIN
// The handler stands in for slow work; the caller gives it 200 ms. On the test network's clock the deadline
// comes when the test says so: no sockets, no sleeping, the same call machinery as TCP.
func handlerCancelledAtItsDeadline() async throws -> (budget: Duration?, cause: CancelReason?) {
    try await withTestNetwork { network in
        var router = Router()
        router.unary(greet) { request, _ in
            try await Task.sleep(for: .seconds(3600))  // Cancelled at the deadline.
            return request
        }
        try await network.serve(router, as: "greeter")
        let client = network.client(to: "greeter")
        async let reply = client.unary(greet, Greeting(text: "Ada"), options: CallOptions(timeout: .milliseconds(200)))

        let started = await network.calls.started(greet.name)  // what the handler was given: 200 ms, none spent
        await network.advance(by: .milliseconds(200))
        _ = try? await reply  // deadlineExceeded
        let ended = await network.calls.ended(greet.name)
        return (started?.remainingBudget, ended?.end?.cancelReason)  // (200 ms, .deadlineExceeded)
    }
}
// README-EXAMPLE-END

@Suite("README example", .timeLimit(.minutes(5)))
struct ReadmeExampleTests {
    @Test("The README's usage example runs and returns the greeting")
    func example() async throws {
        #expect(try await serveAndCall() == "Hello, Ada")
    }

    @Test("The README's propagated-keys example: two modules' user ids cross a hop apart; one wire name for both is refused")
    func propagatedKeysExample() async throws {
        #expect(try await userIDsTravel() == "accounting: ada, shipping: 42")
        #expect(carelessKeys().hasPrefix("Propagated keys DeadlineRPCTests.CarelessAccounting.UserID and DeadlineRPCTests.CarelessShipping.UserID both travel as metadata 'user_id'; give one of them another wireName"))
    }

    @Test("The README's replicas example: round robin over two replicas: both answer")
    func replicasExample() async throws {
        #expect(try await twoReplicas() == ["a", "b"])
    }

    @Test("The README's health example: a check, then a watch that reads NOT_SERVING when graceful shutdown begins and ends")
    func healthExample() async throws {
        #expect(try await checkAndWatchHealth() == [.serving, .serving, .notServing])
    }

    @Test("The README's mutual TLS example: the handler greets the client by its SPIFFE id")
    func mutualTLSExample() async throws {
        let ca = try TestCA()
        let server = try ca.issue(commonName: "greeter", dnsNames: ["localhost"])
        let client = try ca.issue(commonName: "orders", uris: ["spiffe://example.org/ns/prod/sa/orders"])
        let text = try await callOverMutualTLS(
            ca: try ca.certificate.serializeAsPEM().pemString,
            serverChain: server.certificatePEM, serverKey: server.keyPEM,
            clientChain: client.certificatePEM, clientKey: client.keyPEM
        )
        #expect(text == "Hello, spiffe://example.org/ns/prod/sa/orders")
    }

    @Test("The README's testing-kit example: the handler is cancelled at exactly its deadline on the manual clock")
    func testingKitExample() async throws {
        let (budget, cause) = try await handlerCancelledAtItsDeadline()
        #expect(budget == .milliseconds(200))
        #expect(cause == .deadlineExceeded)
    }

    @Test("README.md shows exactly the examples compiled here")
    func readmeMatches() throws {
        let testFile = URL(fileURLWithPath: #filePath)
        let root = testFile.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let source = try String(contentsOf: testFile, encoding: .utf8)
        let begin = "// README-EXAMPLE-" + "BEGIN\n"
        let end = "// README-EXAMPLE-" + "END"
        let examples = source.components(separatedBy: begin).dropFirst().compactMap { $0.components(separatedBy: end).first }
        #expect(examples.count == 6)
        for example in examples {
            #expect(readme.contains(example))
        }
    }
}
