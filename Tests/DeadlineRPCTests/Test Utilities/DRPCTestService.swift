@testable import DeadlineRPC
import NIOCore

/// The server `drpc` is tested against (and the README's transcript was recorded against): every call kind with
/// JSON messages, a method that fails with any status, one that waits out its deadline, a binary method with a
/// JSON form and one without, a health service and reflection.
enum DRPCTestService {
    struct Name: Codable, Sendable { var name: String }
    struct Nothing: Codable, Sendable {}
    struct Greeting: Codable, Sendable { var text: String }
    struct CountTo: Codable, Sendable { var to: Int }
    struct Number: Codable, Sendable { var n: Int }
    struct Total: Codable, Sendable { var total: Int }
    struct Failure: Codable, Sendable { var code: Int; var message: String }

    static let greet = Method<Name, Greeting>.unary("greeter.Greeter/Greet", defaultTimeout: .seconds(20), isIdempotent: true)
    static let count = Method<CountTo, Number>.serverStreaming("greeter.Greeter/Count")
    static let sum = Method<Number, Total>.clientStreaming("greeter.Greeter/Sum")
    static let chat = Method<Greeting, Greeting>.bidirectional("greeter.Greeter/Chat")
    static let wait = Method<Nothing, Greeting>.unary("greeter.Greeter/Wait")
    static let fail = Method<Failure, Greeting>.unary("greeter.Greeter/Fail")
    static let mirror = Method<Point, Point>(
        "geo.Points/Mirror", kind: .unary, requestCodec: PointCodec(), responseCodec: PointCodec(), defaultTimeout: .seconds(30)
    )
    static let opaque = Method<Point, Point>("geo.Points/Opaque", kind: .unary, requestCodec: OpaquePointCodec(), responseCodec: OpaquePointCodec())

    /// Every name the router serves.
    static let methodNames: Set<String> = [
        greet.name, count.name, sum.name, chat.name, wait.name, fail.name, mirror.name, opaque.name,
        HealthService.checkMethodName, HealthService.watchMethodName,
        ReflectionService.listMethodsName, ReflectionService.describeMethodName,
    ]

    /// The router; `reflection: false` leaves the reflection service out.
    static func router(reflection: Bool = true) -> Router {
        var router = Router()
        if reflection { router.addReflectionService() }  // First: it must still list what is registered after it.
        router.unary(greet) { request, _ in Greeting(text: "Hello, \(request.name)!") }
        router.serverStreaming(count) { request, writer, _ in
            guard request.to >= 0 && request.to <= 1000 else {
                throw RPCError(code: .invalidArgument, message: "'to' must be 0...1000.")
            }
            for n in stride(from: 1, through: request.to, by: 1) { try await writer.write(Number(n: n)) }
        }
        router.clientStreaming(sum) { requests, _ in
            var total = 0
            for try await number in requests { total += number.n }
            return Total(total: total)
        }
        router.bidirectional(chat) { requests, writer, _ in
            for try await message in requests { try await writer.write(Greeting(text: "echo: \(message.text)")) }
        }
        router.unary(wait) { _, _ in
            // Ends only when the call's deadline cancels it.
            try await Task.sleep(for: .seconds(3600))
            return Greeting(text: "too late")
        }
        router.unary(fail) { request, _ in
            guard let code = UInt8(exactly: request.code) else { throw RPCError(code: .invalidArgument, message: "Bad code.") }
            throw RPCError(code: RPCError.Code(rawValue: code), message: request.message, metadata: ["retry-after-ms": "250"])
        }
        router.unary(mirror) { point, _ in Point(x: point.y, y: point.x) }
        router.unary(opaque) { point, _ in point }
        let health = HealthService()
        health.setStatus(.serving, forService: "greeter.Greeter")
        health.setStatus(.notServing, forService: "geo.Points")
        router.addHealthService(health)
        return router
    }
}
