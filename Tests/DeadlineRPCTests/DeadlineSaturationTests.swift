import DeadlineRPC
import Testing

/// Issue #14, point 4: deadline arithmetic saturates instead of wrapping, a deadline in the past by any amount fails
/// locally with nothing sent, and strict mode refuses deadlines too far away to bound anything.
@Suite("Deadline arithmetic saturates; past deadlines send nothing; strict mode caps budgets", .timeLimit(.minutes(5)))
struct DeadlineSaturationTests {
    static let spentMessage = "The call's budget was spent before it could be sent; nothing was sent."

    @Test("Deadline and Duration operations saturate at the ends of the clock instead of wrapping")
    func arithmeticSaturates() {
        let farPast = Deadline(uptimeNanoseconds: .min)
        #expect(farPast.hasPassed)
        #expect(farPast.timeRemaining == .nanoseconds(Int64.min), "a deadline 292 years ago has no time left")

        let shifted = Deadline.now() + .seconds(-Int64.max)
        #expect(shifted.hasPassed)
        #expect(shifted.timeRemaining < .zero)

        #expect(Deadline(uptimeNanoseconds: .max - 1) + .seconds(1) == .distantFuture)
        #expect(Deadline(uptimeNanoseconds: .min + 1) + .seconds(-1) == Deadline(uptimeNanoseconds: .min))
        #expect(Deadline(uptimeNanoseconds: .min + 1) - .seconds(1) == Deadline(uptimeNanoseconds: .min))
        #expect(Deadline(uptimeNanoseconds: .max - 1) - .seconds(-1) == .distantFuture)
        #expect(farPast - .distantFuture == .nanoseconds(Int64.min))
        #expect(Deadline.distantFuture - farPast == .nanoseconds(Int64.max))
        // A deadline that never comes does not come sooner by being moved.
        #expect(Deadline.distantFuture + .seconds(-5) == .distantFuture)
        #expect(Deadline.distantFuture - .seconds(5) == .distantFuture)
        // Ordinary values are exact.
        let base = Deadline(uptimeNanoseconds: 1_000_000_000)
        #expect(base + .milliseconds(1500) == Deadline(uptimeNanoseconds: 2_500_000_000))
        #expect(base - .nanoseconds(1) == Deadline(uptimeNanoseconds: 999_999_999))
        #expect(Deadline(uptimeNanoseconds: 5) - Deadline(uptimeNanoseconds: 7) == .nanoseconds(-2))
    }

    @Test("A Duration beyond 2^63 nanoseconds moves a deadline to the end of the clock, without trapping")
    func hugeDurationsSaturate() {
        let beyond = Duration.seconds(Int64.max) + .seconds(Int64.max)
        #expect(Deadline.now() + beyond == .distantFuture)
        #expect(Deadline.now() + (.zero - beyond) == Deadline(uptimeNanoseconds: .min))
        #expect(Deadline.now() - beyond == Deadline(uptimeNanoseconds: .min))
        // Towards zero the result is exact even when the duration alone exceeds 64 bits of nanoseconds.
        let twoToThe63 = Duration.nanoseconds(Int64.max) + .nanoseconds(1)
        #expect(Deadline(uptimeNanoseconds: -(1 << 62)) + twoToThe63 == Deadline(uptimeNanoseconds: 1 << 62))
        #expect(Deadline(uptimeNanoseconds: 1 << 62) - twoToThe63 == Deadline(uptimeNanoseconds: -(1 << 62)))
    }

    @Test(
        "A deadline in the past by any amount fails locally with deadlineExceeded, and the server sees nothing",
        arguments: [
            ("timeout -Int64.max s", CallOptions(timeout: .seconds(-Int64.max))),
            ("deadline at uptime .min", CallOptions(deadline: Deadline(uptimeNanoseconds: .min))),
            ("now + -Int64.max s", CallOptions(deadline: Deadline.now() + .seconds(-Int64.max))),
            ("timeout -1 ns", CallOptions(timeout: .nanoseconds(-1))),
        ]
    )
    func pastDeadlineSendsNothing(_ label: String, _ options: CallOptions) async throws {
        var router = Router()
        router.unary(TestMethods.echo) { request, _ in request }
        router.serverStreaming(TestMethods.expand) { request, writer, _ in try await writer.write(request) }
        try await withServerAndClient(router: router) { server, client in
            let unary = await #expect(throws: RPCError.self, "\(label)") {
                try await client.unary(TestMethods.echo, Echo(text: "sent?"), options: options)
            }
            #expect(unary?.code == .deadlineExceeded)
            #expect(unary?.message == Self.spentMessage)
            #expect(unary?.cancelReason == .deadlineExceeded)
            let streaming = await #expect(throws: RPCError.self, "\(label)") {
                try await client.serverStreaming(TestMethods.expand, Echo(text: "sent?"), options: options) { responses in
                    for try await _ in responses {}
                }
            }
            #expect(streaming?.code == .deadlineExceeded)
            #expect(streaming?.message == Self.spentMessage)
            #expect(client.stats.shedLocally == 2)

            // A good call on the same client: once its reply is back, the server has read everything sent before it.
            let reply = try await client.unary(TestMethods.echo, Echo(text: "ok"), options: CallOptions(timeout: .seconds(30)))
            #expect(reply.text == "ok")
            let stats = server.stats
            #expect(stats.callsStarted == 1, "only the good call reached the server")
            #expect(stats.shedCalls == 0, "the server never saw a spent budget either")
        }
    }

    @Test("Strict mode refuses effectively infinite deadlines with failedPrecondition and says how to fix it")
    func strictModeRefusesUnboundedBudgets() async throws {
        #expect(RPCClient.Configuration().strictModeMaximumBudget == .seconds(3600))
        var router = Router()
        router.unary(TestMethods.echo) { request, _ in request }
        // guide:begin strict-mode-maximum
        var configuration = RPCClient.Configuration()
        configuration.requireDeadline = true  // Refuses no deadline, and budgets above 1 hour:
        try await withServerAndClient(router: router, clientConfiguration: configuration) { server, client in
            let forever = await #expect(throws: RPCError.self) {
                try await client.unary(TestMethods.echo, Echo(text: ""), options: CallOptions(deadline: .distantFuture))
            }
            #expect(forever?.code == .failedPrecondition)
            #expect(forever?.message.contains("strictModeMaximumBudget") == true)
            let twoHours = await #expect(throws: RPCError.self) {
                try await client.unary(TestMethods.echo, Echo(text: ""), options: CallOptions(timeout: .seconds(7200)))
            }
            #expect(twoHours?.code == .failedPrecondition)
            #expect(client.stats.refusedWithoutDeadline == 2)
            #expect(server.stats.callsStarted == 0)
        }
        // guide:end strict-mode-maximum
    }

    @Test("Strict mode's refusal messages name the budget, the maximum and the fix; the maximum is configurable")
    func strictModeMessagesAndMaximum() async throws {
        var router = Router()
        router.unary(TestMethods.echo) { request, _ in request }
        let fix = "pass a shorter CallOptions(timeout:) or deadline (or a shorter defaultTimeout), or raise RPCClient.Configuration.strictModeMaximumBudget if calls this long are intended."
        var configuration = RPCClient.Configuration()
        configuration.requireDeadline = true
        try await withServerAndClient(router: router, clientConfiguration: configuration) { server, client in
            let cases: [(CallOptions, String)] = [
                (CallOptions(deadline: .distantFuture), "Deadline.distantFuture (no deadline at all)"),
                // Saturates to the end of the clock: the same as `.distantFuture`.
                (CallOptions(timeout: .seconds(Int64.max)), "Deadline.distantFuture (no deadline at all)"),
                (CallOptions(timeout: .seconds(7200)), "a budget of 7200.0 seconds"),
            ]
            for (options, budget) in cases {
                let error = await #expect(throws: RPCError.self) {
                    try await client.unary(TestMethods.echo, Echo(text: ""), options: options)
                }
                #expect(error?.code == .failedPrecondition)
                #expect(error?.message == "Strict mode refuses 'test.Echo/Get' with \(budget), above the maximum of 3600.0 seconds: \(fix)")
            }
            #expect(client.stats.refusedWithoutDeadline == 3)
            // A budget of the maximum itself is allowed.
            let reply = try await client.unary(TestMethods.echo, Echo(text: "hour"), options: CallOptions(timeout: .seconds(3600)))
            #expect(reply.text == "hour")
            #expect(server.stats.callsStarted == 1, "only the call within the maximum reached the server")
        }

        configuration.strictModeMaximumBudget = .seconds(3 * 3600)
        try await withServerAndClient(router: router, clientConfiguration: configuration) { server, client in
            let reply = try await client.unary(TestMethods.echo, Echo(text: "long"), options: CallOptions(timeout: .seconds(7200)))
            #expect(reply.text == "long")
            #expect(client.stats.refusedWithoutDeadline == 0)
            #expect(server.stats.callsStarted == 1)
        }
    }
}
