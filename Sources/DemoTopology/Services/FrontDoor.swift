import DeadlineRPC
import NIOHTTP1
import Foundation
import Synchronization

/// The HTTP front door: `GET /checkout?item=…&user=…&qty=…` becomes a call to the gateway with a budget — the
/// configured one (500 ms by default), or less when the `X-Budget-Ms` header asks for less (never more).
///
/// Answers 200 with a JSON body (and `X-Degraded: recommendations` when a fallback was served), 504 when the
/// budget ran out, 503 when the gateway is unreachable, 502 for other failures. Every answer carries
/// `X-Request-Id` (taken from the request or made up) and `X-Budget-Ms` (the budget applied).
package final class FrontDoor: Sendable {
    /// Request header that asks for a smaller budget, in milliseconds.
    package static let budgetHeader = "x-budget-ms"
    /// Request and response header carrying the request id (passed to every hop as `demo-request-id`).
    package static let requestIDHeader = "x-request-id"
    /// Response header listing the parts served by a fallback.
    package static let degradedHeader = "x-degraded"

    /// Budgets and propagation.
    package let settings: TopologySettings
    /// The client to the gateway.
    package let downstreams: Downstreams
    /// The front door's own records (one per HTTP request).
    package let log: HopLog
    /// Where answers are counted.
    package let metrics: ServiceMetrics
    private let nextID = Atomic<Int>(1)

    /// Creates the front door.
    package init(settings: TopologySettings, downstreams: Downstreams, log: HopLog, metrics: ServiceMetrics) {
        self.settings = settings
        self.downstreams = downstreams
        self.log = log
        self.metrics = metrics
    }

    /// Answers `GET /checkout`.
    package func checkout(_ request: HTTPRequest) async -> HTTPResponse {
        let requestID = request.header(Self.requestIDHeader) ?? "req-\(self.nextID.wrappingAdd(1, ordering: .relaxed).oldValue)"
        var budget = self.settings.budget
        if let asked = request.header(Self.budgetHeader).flatMap(Int.init), asked >= 0 {
            budget = min(budget, .milliseconds(asked))
        }
        let checkout = CheckoutRequest(
            item: request.query["item"] ?? "book",
            user: request.query["user"] ?? "ada",
            quantity: request.query["qty"].flatMap(Int.init) ?? 1
        )
        let start = Deadline.now()
        let ticket = self.log.start(
            HopRecord(
                requestID: requestID,
                service: .frontdoor,
                hopCount: -1,
                startedNanoseconds: start.uptimeNanoseconds,
                deadlineNanoseconds: (start + budget).uptimeNanoseconds
            )
        )
        var headers: HTTPHeaders = [Self.requestIDHeader: requestID, Self.budgetHeader: "\(budget.wholeMilliseconds)"]
        let response: HTTPResponse
        do {
            // The front door is a root caller: its budget is an explicit timeout, so it applies whether or not
            // the services below propagate deadlines.
            let reply = try await CallContext.$current.withValue(nil) {
                try await self.downstreams.call(.gateway, checkout, requestID: requestID, timeout: budget)
            }
            let elapsed = Deadline.now() - start
            if !reply.degraded.isEmpty { headers.add(name: Self.degradedHeader, value: reply.degraded.joined(separator: ",")) }
            self.log.finish(ticket, outcome: .ok, detail: "200", at: Deadline.now().uptimeNanoseconds)
            let answer = Answer(requestID: requestID, budgetMs: budget.wholeMilliseconds, elapsedMs: elapsed.wholeMilliseconds, degraded: reply.degraded, summary: reply.summary)
            response = .json(answer.json, headers: headers)
        } catch {
            let code = (error as? RPCError)?.code ?? .unknown
            let status: HTTPResponseStatus
            switch code {
            case .deadlineExceeded: status = .gatewayTimeout
            case .unavailable: status = .serviceUnavailable
            default: status = .badGateway
            }
            let elapsed = Deadline.now() - start
            self.log.finish(ticket, outcome: .failed, detail: "\(status.code)", at: Deadline.now().uptimeNanoseconds)
            let answer = Answer(requestID: requestID, budgetMs: budget.wholeMilliseconds, elapsedMs: elapsed.wholeMilliseconds, error: "\(code)")
            response = .json(answer.json, status: status, headers: headers)
        }
        self.metrics.recordHTTPAnswer(status: Int(response.status.code))
        return response
    }

    /// The JSON body of a front door answer.
    package struct Answer: Codable, Sendable {
        /// The request id.
        package var requestID: String
        /// The budget applied.
        package var budgetMs: Int64
        /// Time from receipt to answer.
        package var elapsedMs: Int64
        /// Parts served by a fallback.
        package var degraded: [String]? = nil
        /// What the services answered.
        package var summary: String? = nil
        /// The status that ended the call, when it failed.
        package var error: String? = nil

        /// One line of JSON, with snake_case keys.
        package var json: String {
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return (try? String(decoding: encoder.encode(self), as: UTF8.self)).map { $0 + "\n" } ?? "{}\n"
        }
    }
}
